"""The Lua scripts behind every state change; each one is a single atomic step in Redis.

Calls go out as plain EVALSHA, alone or many in one pipeline, on the broker's
`PipelinedConnection` when it has one (see `_connection.py`), else through redis-py. redis-py's
own `Script` objects check `SCRIPT EXISTS` before every pipeline, which doubles the round trips
of a batch; here a script is loaded once, and only a NOSCRIPT reply (a restarted or flushed
server) loads it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import AskError, NoScriptError, RedisClusterException, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobqueue.redis._connection import PipelinedConnection

__all__ = ["Call", "NotDurableError", "Script", "Scripts"]


class Script:
    """One Lua script: its source (with the shared helpers) and its SHA1, once loaded.

    The SHA1 is the one `SCRIPT LOAD` answers: computing it here would set up OpenSSL's digests
    in every worker process for this alone (about 0.8 MiB of resident memory).
    """

    def __init__(self, name: str) -> None:
        folder = resources.files("jobqueue.redis").joinpath("lua")
        common = folder.joinpath("_common.lua").read_text(encoding="utf-8")
        self.name = name
        self.source = common + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")
        self.sha = ""


Call = tuple[Script, Sequence[Any], Sequence[Any]]


_NODE_OPTIONS = frozenset({"username", "password", "socket_timeout", "socket_connect_timeout"})


def _one(reply: Any) -> Any:
    """A script's SHA1 from `SCRIPT LOAD`, which a cluster answers once per node."""
    if isinstance(reply, dict):
        return next(iter(reply.values()))
    return reply


class NotDurableError(Exception):
    """Fewer replicas than asked for confirmed a write (the broker reports it as unavailable)."""


"""A script with its keys and arguments."""


class Scripts:
    """The scripts of the Redis driver, run on one client."""

    def __init__(
        self, client: Redis, connection: PipelinedConnection | None = None, cluster: bool = False
    ) -> None:
        self.client = client
        self.connection = connection
        self.cluster = cluster
        self._nodes: dict[str, Redis] = {}
        self.enqueue = Script("enqueue")
        self.fetch = Script("fetch")
        self.extend = Script("extend")
        self.complete = Script("complete")
        self.retry = Script("retry")
        self.kill = Script("kill")
        self.forward = Script("forward")
        self.recover = Script("recover")
        self.requeue = Script("requeue")
        self.delete = Script("delete")
        self.revive = Script("revive")
        self.cancel = Script("cancel")
        self.status = Script("status")
        self.progress = Script("progress")
        self._all = [v for v in vars(self).values() if isinstance(v, Script)]

    async def load(self) -> None:
        """Load every script into the server's script cache, and learn their SHA1s."""
        if self.connection is not None:  # it reconnects by itself after a restart
            commands = [["SCRIPT", "LOAD", script.source] for script in self._all]
            shas = await self.connection.call_many(commands)
        elif self.cluster:  # to every primary, one script at a time (no pipelines of it)
            shas = [_one(await self.client.script_load(s.source)) for s in self._all]
        else:
            async with self.client.pipeline(transaction=False) as pipe:
                for script in self._all:
                    pipe.script_load(script.source)
                shas = await pipe.execute()
        for script, sha in zip(self._all, shas, strict=True):
            script.sha = sha.decode() if isinstance(sha, bytes) else str(sha)

    async def call(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run one script in one round trip."""
        if not script.sha:
            await self.load()
        try:
            return await self._call(script, keys, args)
        except NoScriptError:
            await self.load()
            return await self._call(script, keys, args)

    async def _call(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self.connection is not None:
            return await self.connection.call(["EVALSHA", script.sha, len(keys), *keys, *args])
        return await self.client.evalsha(script.sha, len(keys), *keys, *args)

    async def call_durably(self, call: Call, replicas: int, timeout: float) -> Any:
        """Run one script, then `WAIT` for `replicas` on the same connection (a durable enqueue).

        Raises:
            NotDurableError: Fewer replicas confirmed it within `timeout` seconds.
        """
        script, keys, args = call
        if not script.sha:
            await self.load()
        ms = int(timeout * 1000)
        try:
            reply, confirmed = await self._call_and_wait(script, keys, args, replicas, ms)
        except NoScriptError:
            await self.load()
            reply, confirmed = await self._call_and_wait(script, keys, args, replicas, ms)
        if confirmed < replicas:
            raise NotDurableError(
                f"stored on the primary, but {confirmed} of {replicas} replicas confirmed it "
                f"within {timeout} s (QUEUE_DURABLE_REPLICAS): a failover now could lose it; "
                "retrying with the same job ids is safe"
            )
        return reply

    async def _call_and_wait(
        self, script: Script, keys: Sequence[Any], args: Sequence[Any], replicas: int, ms: int
    ) -> tuple[Any, int]:
        command = ["EVALSHA", script.sha, len(keys), *keys, *args]
        if self.connection is not None:
            reply, confirmed = await self.connection.call_many([command, ["WAIT", replicas, ms]])
        else:
            client = self._node_client(keys[0]) if self.cluster else self.client
            try:
                async with client.pipeline(transaction=False) as pipe:  # one connection
                    pipe.execute_command(*command)
                    pipe.execute_command("WAIT", replicas, ms)
                    reply, confirmed = await pipe.execute(raise_on_error=False)
            except (RedisConnectionError, RedisTimeoutError):
                if self.cluster:
                    await self._relearn_layout()  # the primary may be gone for good
                raise
        if isinstance(reply, Exception):
            if self.cluster and isinstance(reply, AskError):  # MOVED or ASK
                await self._relearn_layout()  # a failover moved the slot
            raise reply
        return reply, int(confirmed)

    async def _relearn_layout(self) -> None:
        """Ask the cluster for its slots again; the caller may try again."""
        await self.close()
        # No node may answer yet: the next try asks again.
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, RedisClusterException):
            await self.client.nodes_manager.initialize()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Close the clients of single cluster nodes (durable enqueues)."""
        for client in self._nodes.values():
            await client.aclose()
        self._nodes.clear()

    def _node_client(self, key: str) -> Redis:
        """A plain client of the primary that holds `key`.

        `WAIT` must follow its write on the same connection, which the cluster client cannot
        promise.
        """
        node = self.client.get_node_from_key(key)  # type: ignore[attr-defined]
        client = self._nodes.get(node.name)
        if client is None:
            options = {k: v for k, v in node.connection_kwargs.items() if k in _NODE_OPTIONS}
            client = self._nodes[node.name] = Redis(host=node.host, port=node.port, **options)
        return client

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Run many scripts in one pipelined round trip; replies (or exceptions) in order."""
        if not all(script.sha for script, _, _ in calls):
            await self.load()
        replies = await self._pipeline(calls)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:  # those did not run at all, so running them again is safe
            await self.load()
            again = await self._pipeline([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _reply(self, call: Call) -> Any:
        """One call's reply; an error reply comes back as its exception, as in a pipeline."""
        script, keys, args = call
        try:
            return await self.client.evalsha(script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            return exc

    async def _pipeline(self, calls: Sequence[Call]) -> list[Any]:
        if self.connection is not None:
            return await self.connection.call_many(
                [["EVALSHA", script.sha, len(keys), *keys, *args] for script, keys, args in calls]
            )
        if len(calls) == 1 or self.cluster:
            # One call: a pipeline's bookkeeping costs more than the call itself. A cluster:
            # redis-py pipelines no scripts there, and each call goes to its queue's node.
            return list(await asyncio.gather(*(self._reply(call) for call in calls)))
        async with self.client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
