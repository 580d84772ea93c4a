"""Which Redis errors are an outage (retry later) and which are a bug or bad data (report now).

redis-py raises `BusyLoadingError` (a `ConnectionError`) for `-LOADING`, `ReadOnlyError` for a
replica that used to be the primary, and `NoScriptError` for a flushed script cache; the
pipelined connection maps error replies the same way (`from_reply`), so callers see one set of
exceptions whichever path a command took.
"""

from __future__ import annotations

from redis import exceptions as redis_errors

__all__ = ["from_reply", "is_transient"]

# Error replies that mean "not now": the server is loading its data, was demoted to a replica,
# runs a long script, or its cluster is reconfiguring.
_TRANSIENT_REPLIES = (
    "LOADING",
    "READONLY",
    "BUSY ",
    "MASTERDOWN",
    "TRYAGAIN",
    "CLUSTERDOWN",
)


def from_reply(reply: redis_errors.ResponseError) -> redis_errors.RedisError:
    """redis-py's exception for an error reply."""
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return redis_errors.NoScriptError(message)
    if message.startswith("LOADING"):
        return redis_errors.BusyLoadingError(message)
    if message.startswith("READONLY"):
        return redis_errors.ReadOnlyError(message)
    return reply


def is_transient(exc: BaseException) -> bool:
    """Whether an error means the server is unreachable or not ready, so retrying may succeed."""
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return False  # a wrong password does not fix itself
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
        return True
    if isinstance(exc, redis_errors.ReadOnlyError | redis_errors.ClusterDownError):
        return True
    if isinstance(exc, redis_errors.AskError):  # MOVED or ASK: a slot moved in a failover
        return True
    if isinstance(exc, redis_errors.ResponseError):
        return str(exc).startswith(_TRANSIENT_REPLIES)
    return False
