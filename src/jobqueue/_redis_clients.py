"""redis-py clients for the topology a `RedisSettings` describes.

One server, a primary found through Sentinel, or a Redis Cluster. The queue's broker and the
cache both build theirs here, so both follow a failover the same way.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from jobqueue._topology import split_address
from jobqueue.settings import RedisSettings

__all__ = ["HEALTH_CHECK", "redis_client", "secret", "sentinel_for"]

HEALTH_CHECK = 30
"""Seconds an idle pooled connection waits before it is checked with a PING on its next use."""


def secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def redis_client(settings: RedisSettings) -> Redis:
    """A client of the server, of the current primary (Sentinel), or of the Cluster."""
    if settings.topology == "cluster":
        nodes = [ClusterNode(*split_address(address)) for address in settings.cluster_nodes]
        cluster = RedisCluster(
            startup_nodes=nodes,
            password=secret(settings.password),
            health_check_interval=HEALTH_CHECK,
        )
        return cast(Redis, cluster)  # the same methods, for what jobqueue calls
    if settings.topology == "sentinel":
        assert settings.sentinel_master is not None  # checked with the settings
        sentinel = sentinel_for(settings)
        return cast(Redis, sentinel.master_for(settings.sentinel_master, redis_class=Redis))
    return Redis.from_url(settings.redis_url(), health_check_interval=HEALTH_CHECK)


def sentinel_for(settings: RedisSettings) -> Sentinel:
    """The Sentinels of `settings`; their clients connect to the primary they name."""
    auth = {"username": settings.sentinel_username, "password": secret(settings.sentinel_password)}
    return Sentinel(  # type: ignore[no-untyped-call]
        [split_address(address) for address in settings.sentinels],
        sentinel_kwargs={k: v for k, v in auth.items() if v is not None},
        password=secret(settings.password),
        db=settings.db,
        health_check_interval=HEALTH_CHECK,
    )
