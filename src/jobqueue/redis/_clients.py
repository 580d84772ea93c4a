"""The connections of a broker, for the topology its settings describe.

- one server (`QUEUE_URL` or host and port): a redis-py client, and the pipelined connection for
  the scripts;
- a primary behind Sentinel (`QUEUE_SENTINELS`, `QUEUE_SENTINEL_MASTER`): redis-py's
  Sentinel-managed client, and a pipelined connection that asks the Sentinels for the primary
  each time it connects, so both follow a failover without a restart;
- a Redis Cluster (`QUEUE_CLUSTER_NODES`): redis-py's cluster client, which sends each script to
  the node of its queue's slot; the scripts go through it (every queue's keys share a hash tag).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from jobqueue._outage import Backoff, OutageLog
from jobqueue._redis_clients import redis_client, secret, sentinel_for
from jobqueue.errors import QueueUnavailableError
from jobqueue.redis._connection import PipelinedConnection
from jobqueue.redis._errors import is_transient
from jobqueue.redis._keys import queues_set
from jobqueue.redis._scripts import Scripts
from jobqueue.settings import QueueSettings

__all__ = ["Connections", "open_connections", "register_queues", "when_ready"]


@dataclass(frozen=True, slots=True)
class Connections:
    """What a broker talks to Redis with."""

    client: Redis
    """redis-py's client (a `RedisCluster` behind the same methods, in cluster mode)."""
    pipelined: PipelinedConnection | None
    """The connection for the scripts, when the topology allows one."""
    cluster: bool = False


def open_connections(settings: QueueSettings, client: Redis | None = None) -> Connections:
    """The connections for `settings` (a given `client` is used as it is)."""
    if client is not None:
        return Connections(client, PipelinedConnection.for_client(client), _is_cluster(client))
    if settings.topology == "cluster":
        return Connections(redis_client(settings), None, cluster=True)
    if settings.topology == "sentinel":
        return _sentinel_connections(settings)
    made = redis_client(settings)
    return Connections(made, PipelinedConnection.for_client(made))


def _is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)


def _sentinel_connections(settings: QueueSettings) -> Connections:
    assert settings.sentinel_master is not None  # checked with the settings
    sentinel = sentinel_for(settings)
    master = settings.sentinel_master
    client = sentinel.master_for(master, redis_class=Redis)

    async def primary() -> tuple[str, int]:
        host, port = await sentinel.discover_master(master)
        return str(host), int(port)

    pipelined = PipelinedConnection(
        resolve=primary, db=settings.db, password=secret(settings.password)
    )
    return Connections(client, pipelined)


async def register_queues(
    client: Redis, scripts: Scripts, prefix: str, queues: Iterable[str]
) -> None:
    """Record the queue names (for the inspector), and load the scripts."""
    await client.sadd(queues_set(prefix), *queues)
    await scripts.load()


async def when_ready(step: Callable[[], Awaitable[None]], *, wait: bool, outage: OutageLog) -> None:
    """Run a start-up step; while Redis is away, wait for it (`wait`) or say so.

    A worker waits for Redis rather than exit (a restart loop helps nobody); a producer gets
    `QueueUnavailableError` at once and decides itself whether to wait.
    """
    backoff = Backoff(first=0.1, cap=2.0)
    while True:
        try:
            await step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if not wait:
                raise QueueUnavailableError(
                    f"Redis unavailable at start-up ({type(exc).__name__}: {exc})"
                ) from exc
            outage.failed("start-up", exc)
            await asyncio.sleep(backoff.next())
            continue
        outage.ok()
        return
