"""One line for every way the command can fail: bad input, bad settings, a Redis it cannot reach.

Nothing here prints a traceback or a password: the URL shown is `QueueSettings.redacted_url()`,
and any text taken from an exception has anything like `://user:password@` cut out.
"""

from __future__ import annotations

import re
import socket

from redis.exceptions import AuthenticationError as RedisAuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobqueue.settings import QueueSettings

__all__ = ["UNREACHABLE", "first_line", "unreachable"]

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
"""Redis could not be reached or refused us (redis-py's errors, or the socket's own)."""


def unreachable(exc: BaseException, settings: QueueSettings | None) -> str:
    """One line: where we tried to connect, which variable said so, and why it failed."""
    if settings is None:
        return f"cannot connect to Redis: {cause(exc)}"
    source = "QUEUE_URL" if settings.url is not None else "QUEUE_HOST and QUEUE_PORT, or QUEUE_URL"
    return f"cannot connect to Redis at {settings.redacted_url()} (from {source}): {cause(exc)}"


def cause(exc: BaseException) -> str:
    """Why a connection failed, in words an operator acts on."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(e, RedisAuthenticationError) for e in chain):
        return "authentication failed (check the username and password)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused (is Redis running on that host and port?)"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "the host name could not be resolved"
    if any(isinstance(e, RedisTimeoutError | TimeoutError) for e in chain):
        return "timed out"
    return f"{type(exc).__name__}: {first_line(exc)}"


def first_line(exc: BaseException) -> str:
    """The error's first line, with anything like a password cut out."""
    text = (str(exc).splitlines() or [""])[0]
    return re.sub(r"://[^@\s]*@", "://***@", text)
