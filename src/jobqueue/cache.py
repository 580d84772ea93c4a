"""A small async cache: the `Cache` protocol, a Redis implementation, an in-memory one, key builder.

Values are text (store JSON as text); TTLs are seconds or `timedelta`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

from jobqueue._redis_clients import redis_client
from jobqueue.settings import CacheSettings

__all__ = ["Cache", "CacheKey", "MemoryCache", "RedisCache", "open_cache"]

Value = str | bytes
TTL = timedelta | float | None


def _seconds(ttl: TTL) -> float | None:
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if seconds <= 0:
        raise ValueError(f"ttl must be positive, got {seconds}")
    return seconds


def _text(value: Value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@runtime_checkable
class Cache(Protocol):
    """What jobs and apps use to cache values."""

    async def get(self, key: str) -> str | None:
        """The value under `key`, or `None`."""
        ...

    async def set(self, key: str, value: Value, ttl: TTL = None) -> None:
        """Store `value` under `key`, for `ttl` if given."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether `key` holds a value."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; whether it existed."""
        ...


class CacheKey:
    """Builds namespaced keys: `CacheKey("email").build("user", 42)` is `"email:user:42"`."""

    __slots__ = ("namespace",)

    def __init__(self, namespace: str) -> None:
        if not namespace:
            raise ValueError("a cache key needs a namespace")
        self.namespace = namespace

    def build(self, *parts: object) -> str:
        """Join the namespace and the parts with `:`."""
        return ":".join([self.namespace, *(str(p) for p in parts)])


class RedisCache:
    """A `Cache` in Redis; every key gets the configured prefix (`cache:` by default)."""

    def __init__(self, client: Redis, *, prefix: str = "cache") -> None:
        self.client = client
        self.prefix = f"{prefix}:" if prefix else ""

    async def get(self, key: str) -> str | None:
        """The value under `key`, or `None`."""
        value = await self.client.get(self.prefix + key)
        return None if value is None else _text(value)

    async def set(self, key: str, value: Value, ttl: TTL = None) -> None:
        """Store `value` under `key`, for `ttl` if given."""
        seconds = _seconds(ttl)
        px = None if seconds is None else max(1, int(seconds * 1000))
        await self.client.set(self.prefix + key, value, px=px)

    async def exists(self, key: str) -> bool:
        """Whether `key` holds a value."""
        return bool(await self.client.exists(self.prefix + key))

    async def delete(self, key: str) -> bool:
        """Remove `key`; whether it existed."""
        return bool(await self.client.delete(self.prefix + key))


class MemoryCache:
    """A `Cache` in a dict, for development and tests; `clock` can be replaced to test TTLs."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[str, float | None]] = {}

    def _live(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._items[key]
            return None
        return value

    async def get(self, key: str) -> str | None:
        """The value under `key`, or `None`."""
        return self._live(key)

    async def set(self, key: str, value: Value, ttl: TTL = None) -> None:
        """Store `value` under `key`, for `ttl` if given."""
        seconds = _seconds(ttl)
        self._items[key] = (_text(value), None if seconds is None else self._clock() + seconds)

    async def exists(self, key: str) -> bool:
        """Whether `key` holds a value."""
        return self._live(key) is not None

    async def delete(self, key: str) -> bool:
        """Remove `key`; whether it existed."""
        return self._items.pop(key, None) is not None and True

    def keys(self) -> list[str]:
        """The live keys (for assertions in tests)."""
        return [k for k in list(self._items) if self._live(k) is not None]


@asynccontextmanager
async def _redis_cache(settings: CacheSettings) -> AsyncIterator[Cache]:
    client = redis_client(settings)  # one server, the primary behind Sentinel, or a Cluster
    try:
        yield RedisCache(client, prefix=settings.key_prefix)
    finally:
        await client.aclose()


@asynccontextmanager
async def open_cache(settings: CacheSettings | None = None) -> AsyncIterator[Cache]:
    """A resource: the configured cache, closed at the end (`CACHE_DRIVER=memory` for a dict)."""
    settings = settings if settings is not None else CacheSettings.from_env()
    if settings.driver == "memory":
        yield MemoryCache()
        return
    async with _redis_cache(settings) as cache:
        yield cache
