"""Prometheus metrics: Redis-wide gauges read at scrape time, and counters inside workers.

- `RedisCollector` reads Redis when Prometheus scrapes (through `Inspector`): jobs per queue and
  state, latency, paused, sampled memory, lifetime processed / failed / dead totals, error
  groups, and live workers per queue. Serve it once, beside the workers: `jobqueue metrics
  --port 9100`, or register it in a registry of your own.
- `WorkerMetrics` counts, inside a worker process, the attempts that ended and how long they ran
  by queue, job type and outcome. A worker serves them with `QUEUE_METRICS_PORT`.

Needs the `metrics` extra (prometheus-client). See docs/operations.md for every metric.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from jobqueue._worker_metrics import (
    DURATION_BUCKETS,
    WorkerMetrics,
    WorkerMetricsServer,
    prometheus,
    serve_worker_metrics,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector, QueueInfo, WorkerInfo
from jobqueue.settings import QueueSettings

__all__ = [
    "DURATION_BUCKETS",
    "RedisCollector",
    "WorkerMetrics",
    "WorkerMetricsServer",
    "serve_worker_metrics",
]

logger = logging.getLogger("jobqueue.metrics")
T = TypeVar("T")
_STATES = ("pending", "active", "scheduled", "retry", "dead", "completed")


class _LoopThread:
    """An event loop of its own, in a daemon thread: scrapes come from the HTTP server's thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="jobqueue-metrics", daemon=True
                ).start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise

    def stop(self, coro: Coroutine[Any, Any, None]) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            coro.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(coro, loop).result(5)
        finally:
            loop.call_soon_threadsafe(loop.stop)


class RedisCollector:
    """A prometheus-client collector that reads jobqueue's Redis at every scrape.

    Args:
        settings: Where the queues are; read from `QUEUE_*` when omitted.
        timeout: Seconds a scrape may take; past it (or when Redis cannot be reached) the
            scrape reports `jobqueue_up 0` and nothing else.
        memory: Also report each queue's sampled memory (a few `MEMORY USAGE` per queue).
    """

    def __init__(
        self, settings: QueueSettings | None = None, *, timeout: float = 5.0, memory: bool = True
    ) -> None:
        prometheus()  # fail now, with the install hint, rather than at the first scrape
        self.settings = settings if settings is not None else QueueSettings.from_env()
        self.timeout = timeout
        self.memory = memory
        self._thread = _LoopThread()
        self._broker: RedisJobBroker | None = None
        self._starting: asyncio.Lock | None = None

    def describe(self) -> list[Any]:
        """Nothing: registering the collector must not read Redis."""
        return []

    def collect(self) -> Iterator[Any]:
        """The metrics of this scrape (called by prometheus-client)."""
        from prometheus_client.core import GaugeMetricFamily

        start = time.monotonic()
        up = GaugeMetricFamily("jobqueue_up", "Whether the last scrape could read Redis")
        try:
            infos, workers = self._thread.run(self._read(), self.timeout)
        except Exception as exc:
            logger.warning("metrics scrape failed: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _queue_metrics(infos)
        yield from _worker_metrics(infos, workers)
        took = GaugeMetricFamily(
            "jobqueue_scrape_duration_seconds", "How long reading Redis took for this scrape"
        )
        took.add_metric([], time.monotonic() - start)
        yield took

    async def _read(self) -> tuple[list[QueueInfo], list[WorkerInfo]]:
        if self._starting is None:  # made on the collector's loop, before any await
            self._starting = asyncio.Lock()
        async with self._starting:  # two first scrapes at once start one broker
            if self._broker is None:
                broker = RedisJobBroker(self.settings)
                try:
                    await broker.startup()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await broker.shutdown()
                    raise
                self._broker = broker
        inspector = Inspector(self._broker)
        return await inspector.queue_info(memory=self.memory), await inspector.workers()

    def close(self) -> None:
        """Disconnect from Redis and stop the collector's thread."""
        self._thread.stop(self._close())

    async def _close(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.shutdown()


def _queue_metrics(infos: list[QueueInfo]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    jobs = GaugeMetricFamily(
        "jobqueue_queue_jobs", "Jobs per queue and state", labels=["queue", "state"]
    )
    latency = GaugeMetricFamily(
        "jobqueue_queue_latency_seconds",
        "How long the next pending job has waited",
        labels=["queue"],
    )
    paused = GaugeMetricFamily(
        "jobqueue_queue_paused", "1 while the queue is paused", labels=["queue"]
    )
    memory = GaugeMetricFamily(
        "jobqueue_queue_memory_bytes", "Redis memory of the queue (sampled)", labels=["queue"]
    )
    groups = GaugeMetricFamily(
        "jobqueue_queue_error_groups", "Error groups among retry and dead jobs", labels=["queue"]
    )
    totals = {
        name: CounterMetricFamily(f"jobqueue_queue_{name}", help_text, labels=["queue"])
        for name, help_text in (
            ("processed", "Jobs completed since the queue was first used"),
            ("failed", "Failed attempts since the queue was first used"),
            ("dead", "Jobs moved to dead since the queue was first used"),
        )
    }
    for info in infos:
        for state in _STATES:
            jobs.add_metric([info.queue, state], getattr(info, state))
        latency.add_metric([info.queue], info.latency)
        paused.add_metric([info.queue], 1 if info.paused else 0)
        groups.add_metric([info.queue], info.error_groups)
        if info.memory_bytes is not None:
            memory.add_metric([info.queue], info.memory_bytes)
        totals["processed"].add_metric([info.queue], info.processed_total)
        totals["failed"].add_metric([info.queue], info.failed_total)
        totals["dead"].add_metric([info.queue], info.dead_total)
    yield from (jobs, latency, paused, memory, groups, *totals.values())


def _worker_metrics(infos: list[QueueInfo], workers: list[WorkerInfo]) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    live = GaugeMetricFamily(
        "jobqueue_workers", "Live worker processes serving the queue", labels=["queue"]
    )
    running = GaugeMetricFamily(
        "jobqueue_workers_running_jobs", "Jobs live workers are running", labels=["queue"]
    )
    for info in infos:
        serving = [w for w in workers if info.queue in w.queues]
        live.add_metric([info.queue], len(serving))
        count = sum(1 for w in workers for job in w.running if job.queue == info.queue)
        running.add_metric([info.queue], count)
    yield live
    yield running
