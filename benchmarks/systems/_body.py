"""The job bodies every system runs, and how a job counts itself.

Each job, whatever the system, ends with one pipelined round trip to the metrics database (a
separate DB of the private Redis): `INCR bench:done`, plus `RPUSH bench:latency` of
`start - t` when the job carries its enqueue time `t` (0 means "don't record"). The job that makes
the counter 1 also stores the time of that first increment in `bench:first`. The harness polls the
counter: no system is measured by its own reporting.

Only `redis` (redis-py, in every venv) is needed here.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

COUNTER = "bench:done"
FIRST = "bench:first"
LATENCY = "bench:latency"
SLEEP = 0.001


def metrics_url() -> str:
    return os.environ["BENCH_METRICS_URL"]


def queue_url() -> str:
    return os.environ["BENCH_QUEUE_URL"]


def log_args(flag: str = "--log-level", level: str = "WARNING") -> list[str]:
    """CLI flags that silence per-job INFO lines, unless the run keeps each CLI's default."""
    return [] if os.environ.get("BENCH_WORKER_LOGS") == "default" else [flag, level]


def concurrency() -> int:
    return int(os.environ.get("BENCH_CONCURRENCY", "10"))


_async_clients: dict[int, Any] = {}


def _async_client() -> Any:
    loop = id(asyncio.get_running_loop())
    client = _async_clients.get(loop)
    if client is None:
        import redis.asyncio

        client = _async_clients[loop] = redis.asyncio.Redis.from_url(metrics_url())
    return client


async def _count(started: float, t: float) -> None:
    client = _async_client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.incr(COUNTER)
        if t:
            pipe.rpush(LATENCY, repr(started - t))
        replies = await pipe.execute()
    if replies[0] == 1:
        await client.set(FIRST, repr(time.time()), nx=True)


async def noop(t: float) -> None:
    """The no-op job: only counts itself."""
    await _count(time.time(), t)


async def sleep(t: float) -> None:
    """Awaits `asyncio.sleep(0.001)`, then counts itself."""
    started = time.time()
    await asyncio.sleep(SLEEP)
    await _count(started, t)


_sync_client: Any = None
_sync_lock = threading.Lock()


def _sync_count(started: float, t: float) -> None:
    global _sync_client
    if _sync_client is None:
        with _sync_lock:
            if _sync_client is None:
                import redis

                _sync_client = redis.Redis.from_url(metrics_url())
    pipe = _sync_client.pipeline(transaction=False)
    pipe.incr(COUNTER)
    if t:
        pipe.rpush(LATENCY, repr(started - t))
    replies = pipe.execute()
    if replies[0] == 1:
        _sync_client.set(FIRST, repr(time.time()), nx=True)


def noop_sync(t: float) -> None:
    """The no-op job for thread-based systems."""
    _sync_count(time.time(), t)


def sleep_sync(t: float) -> None:
    """For thread-based systems: `time.sleep(0.001)` (they cannot await), then count."""
    started = time.time()
    time.sleep(SLEEP)
    _sync_count(started, t)
