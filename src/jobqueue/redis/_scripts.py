"""The Lua scripts behind every state change; each one is a single atomic step in Redis.

Calls go out as plain EVALSHA, alone or many in one pipeline, on the broker's
`PipelinedConnection` when it has one (see `_connection.py`), else through redis-py. redis-py's
own `Script` objects check `SCRIPT EXISTS` before every pipeline, which doubles the round trips
of a batch; here a script is loaded once, and only a NOSCRIPT reply (a restarted or flushed
server) loads it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from jobqueue.redis._connection import PipelinedConnection

__all__ = ["Call", "Script", "Scripts"]


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
"""A script with its keys and arguments."""


class Scripts:
    """The scripts of the Redis driver, run on one client."""

    def __init__(self, client: Redis, connection: PipelinedConnection | None = None) -> None:
        self.client = client
        self.connection = connection
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

    async def _pipeline(self, calls: Sequence[Call]) -> list[Any]:
        if self.connection is not None:
            return await self.connection.call_many(
                [["EVALSHA", script.sha, len(keys), *keys, *args] for script, keys, args in calls]
            )
        if len(calls) == 1:  # a pipeline's bookkeeping costs more than the call itself
            script, keys, args = calls[0]
            try:
                return [await self.client.evalsha(script.sha, len(keys), *keys, *args)]
            except Exception as exc:  # same contract as a pipeline: errors come back as replies
                return [exc]
        async with self.client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
