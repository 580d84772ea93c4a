"""A pipelined Redis connection for the Lua scripts: enqueue, fetch, acknowledgements, leases.

redis-py's asyncio client spends most of a command's time in Python rather than in Redis: on
Python 3.11 its socket timeout starts a task for every write (`asyncio.wait_for`), and each
command goes through the connection pool, the retry wrapper, event hooks and a per-argument
encoder. On this path that is about 60 % of an enqueue. The `PipelinedConnection` sends
jobqueue's script calls itself, on one connection of its own:

- arguments are packed into RESP in one pass, and replies parsed by hiredis (which
  `redis[hiredis]` installs);
- the commands of one event-loop turn, from any number of callers, go out in one write and
  their replies are matched in order (pipelining), so one connection carries every call in
  flight; a large command is written at once;
- the timeout is redis-py's `socket_timeout`, kept by one watchdog per connection rather than
  a timer per call (a reply late by up to 1.25 times it fails); on a timeout or a broken
  connection every call in flight fails with redis-py's `TimeoutError` or `ConnectionError`,
  and the next call connects again. A call is never retried here: a reply may
  have been lost after Redis applied the command, and only the caller knows whether to retry.

It speaks plain TCP or a Unix socket, with AUTH and SELECT, and is used when the client's
connection settings are those alone; with TLS or a credential provider,
`PipelinedConnection.for_client` returns `None` and the scripts go through redis-py. Everything
else (pub/sub, inspection, the schedule source) always uses redis-py.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import hiredis
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ResponseError

from jobqueue.redis._errors import from_reply

__all__ = ["PipelinedConnection", "pack"]


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP: str as UTF-8, bytes as is, int and float as redis-py writes them."""
    parts = [b"*%d\r\n" % len(args)]
    add = parts.append
    for arg in args:
        kind = type(arg)
        if kind is str:
            if not arg:
                add(_EMPTY)
                continue
            value = arg.encode()
        elif kind is bytes:
            value = arg
        elif kind is int:
            small = _SMALL_INTS.get(arg)
            if small is not None:
                add(small)
                continue
            value = b"%d" % arg
        else:
            value = _encode_other(arg)
        add(b"$%d\r\n%b\r\n" % (len(value), value))
    return b"".join(parts)


def _encode_other(arg: Any) -> bytes:
    if isinstance(arg, bool):
        raise redis_errors.DataError(f"cannot send a bool to Redis: {arg!r}")
    if isinstance(arg, bytes | bytearray | memoryview):
        return bytes(arg)
    if isinstance(arg, str):
        return str.encode(arg)
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(float(arg)).encode()
    raise redis_errors.DataError(f"cannot send {type(arg).__name__} to Redis: {arg!r}")


_WRITE_NOW = 64 * 1024
"""A command at least this large is written at once rather than at the end of the loop turn."""

# Arguments that recur in every call (counts, flags, empty options), packed once.
_EMPTY = b"$0\r\n\r\n"
_SMALL_INTS = {n: b"$%d\r\n%d\r\n" % (len(str(n)), n) for n in range(-1, 1024)}


class _Protocol(asyncio.Protocol):
    """Writes commands, and hands each reply to the oldest waiting caller.

    Commands sent during one turn of the event loop go out in one write at the end of it, so a
    hundred concurrent enqueues cost one system call, not a hundred. A watchdog fails the
    connection when the oldest command has waited longer than `timeout` (checked every quarter
    of it), which costs nothing per command, unlike a timer per call.
    """

    def __init__(self, timeout: float | None) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.sent_at: collections.deque[float] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._outgoing: list[bytes] = []
        self._watchdog: asyncio.TimerHandle | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Queue a command for this turn's write (a large one goes now); a future for its reply."""
        if self.transport is None or self.lost is not None:
            raise self.lost or redis_errors.ConnectionError("not connected")
        future = self._loop.create_future()
        self.waiters.append(future)
        now = self._loop.time()
        self.sent_at.append(now)
        if self._watchdog is None and self._timeout is not None:
            self._watchdog = self._loop.call_at(now + self._timeout / 4, self._check)
        if len(packed) >= _WRITE_NOW:
            # Redis can start on it while the caller packs the next command of a batch.
            self._flush()
            self.transport.write(packed)
        else:
            if not self._outgoing:
                self._loop.call_soon(self._flush)
            self._outgoing.append(packed)
        return future

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if outgoing and self.transport is not None and self.lost is None:
            self.transport.write(b"".join(outgoing))

    def _check(self) -> None:
        self._watchdog = None
        if not self.sent_at or self._timeout is None or self.lost is not None:
            return
        now = self._loop.time()
        if now - self.sent_at[0] > self._timeout:
            # Replies may still come, but the server is not answering in time: fail what is in
            # flight and let the next call start over on a new connection.
            self.fail(redis_errors.TimeoutError(f"Redis did not answer within {self._timeout} s"))
            return
        self._watchdog = self._loop.call_at(now + self._timeout / 4, self._check)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiters = self.waiters
        sent_at = self.sent_at
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            future = waiters.popleft()
            sent_at.popleft()
            if future.done():  # its caller gave up (cancelled); the reply still keeps the order
                continue
            if isinstance(reply, ResponseError):
                error = from_reply(reply)
                future.set_exception(error)
                if isinstance(error, redis_errors.ReadOnlyError):
                    # The server was demoted to a replica (a failover): connect again, to the
                    # primary of the moment (with Sentinel, it is asked for again).
                    self.fail(redis_errors.ConnectionError(f"the server is a replica: {error}"))
                    return
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis_errors.ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))
        self._writable.set()

    def fail(self, error: Exception) -> None:
        self.lost = self.lost or error
        self._outgoing = []
        self.sent_at.clear()
        while self.waiters:
            future = self.waiters.popleft()
            if not future.done():
                future.set_exception(error)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.transport is not None:
            self.transport.abort()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def writable(self) -> None:
        """Wait while the socket's buffer is full (a large batch on a slow link)."""
        if not self._writable.is_set():
            await self._writable.wait()


class PipelinedConnection:
    """One pipelined connection for script calls; see the module's docstring."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        resolve: Callable[[], Awaitable[tuple[str, int]]] | None = None,
    ) -> None:
        self._address = (host, port, path)
        self._resolve = resolve
        """Asked for the address at each connect (Sentinel: the current primary)."""
        self._db = db
        self._username = username
        self._password = password
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    @classmethod
    def for_client(cls, client: Redis) -> PipelinedConnection | None:
        """A lane to the server `client` talks to, with its settings; `None` if unsupported."""
        pool = client.connection_pool
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        probe = pool.connection_class(**pool.connection_kwargs)  # not connected: just settings
        if probe.credential_provider is not None:
            return None
        return cls(
            host=getattr(probe, "host", "localhost"),
            port=int(getattr(probe, "port", 6379)),
            path=getattr(probe, "path", None) or None,
            db=int(probe.db or 0),
            username=probe.username,
            password=probe.password,
            timeout=probe.socket_timeout,
            connect_timeout=probe.socket_connect_timeout or probe.socket_timeout,
        )

    async def call(self, args: Sequence[Any]) -> Any:
        """Send one command; its reply, or the exception an error reply maps to."""
        protocol = await self._connected()
        return await protocol.send(pack(args))

    async def call_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send commands together; their replies in order, an error reply as its exception."""
        protocol = await self._connected()
        futures = [protocol.send(pack(args)) for args in commands]
        replies: list[Any] = []
        failure: BaseException | None = None
        for future in futures:  # every future is awaited, so none leaves an unread exception
            try:
                replies.append(await future)
            except ResponseError as exc:  # an error reply: its command's result
                replies.append(exc)
            except Exception as exc:  # a lost connection or a server not ready: the whole call
                failure = failure or exc
        if failure is not None:
            raise failure
        return replies

    async def close(self) -> None:
        """Close the connection; calls in flight fail, later calls raise."""
        self._closed = True
        if self._protocol is not None:
            self._protocol.fail(redis_errors.ConnectionError("the connection was closed"))
            self._protocol = None

    # -- internals ----------------------------------------------------------------------------

    async def _connected(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and protocol.lost is None:
            await protocol.writable()
            return protocol
        if self._closed:
            raise redis_errors.ConnectionError("the connection was closed")
        async with self._connecting:
            if self._protocol is None or self._protocol.lost is not None:
                self._protocol = await self._connect()
            return self._protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        host, port, path = self._address
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._resolve is not None:
                    host, port = await self._resolve()
                factory = partial(_Protocol, self._timeout)
                if path:
                    _, protocol = await loop.create_unix_connection(factory, path)
                else:
                    _, protocol = await loop.create_connection(factory, host, port)
                setup: list[list[Any]] = []
                if self._password is not None:
                    credentials = [self._username, self._password] if self._username else []
                    setup.append(["AUTH", *(credentials or [self._password])])
                if self._db:
                    setup.append(["SELECT", self._db])
                futures = [protocol.send(pack(args)) for args in setup]
                for command, future in zip(setup, futures, strict=True):
                    try:
                        await future
                    except ResponseError as exc:
                        protocol.fail(redis_errors.ConnectionError(str(exc)))
                        if command[0] == "AUTH":
                            raise redis_errors.AuthenticationError(str(exc)) from None
                        raise
        except TimeoutError:
            raise redis_errors.TimeoutError(
                f"could not connect to Redis within {self._connect_timeout} s"
            ) from None
        except OSError as exc:
            raise redis_errors.ConnectionError(f"could not connect to Redis: {exc}") from exc
        return protocol
