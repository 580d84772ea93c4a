"""Prometheus metrics scraped over HTTP: the Redis-wide collector, and a worker's own counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from jobqueue import JobQueue, JobRegistry, PermanentError, QueueSettings, fixed_schedule
from jobqueue.metrics import RedisCollector
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import run_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
async def served(settings: QueueSettings) -> AsyncIterator[tuple[int, RedisCollector]]:
    registry = CollectorRegistry()
    collector = RedisCollector(settings)
    registry.register(collector)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield server.server_port, collector
    finally:
        server.shutdown()
        server.server_close()
        collector.close()


def registry() -> JobRegistry:
    jobs = JobRegistry()

    @jobs.job("metrics:bad", max_retry=0)
    async def bad(payload: dict[str, int]) -> None:
        raise PermanentError("bad")

    return jobs


async def until(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_the_collector_reads_redis_at_scrape_time(
    settings: QueueSettings, served: tuple[int, RedisCollector]
) -> None:
    port, _ = served
    async with JobQueue(RedisJobBroker(settings, registry=registry())) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        await queue.enqueue_many(("metrics:bad", {"n": n}) for n in range(2))
        async with run_worker(RedisJobBroker(settings, registry=registry())):

            async def dead() -> bool:
                return (await inspector.queue_info(["default"], memory=False))[0].dead == 2

            await until(dead)
        await inspector.pause("default")
        await queue.enqueue_many(("metrics:bad", {"n": n}) for n in range(3))
        async with run_worker(RedisJobBroker(settings, registry=registry())):
            await until(lambda: _has_worker(inspector))
            await asyncio.sleep(0.05)
            samples = await scrape(port)
        assert value(samples, "jobqueue_up") == 1
        assert value(samples, "jobqueue_queue_jobs", queue="default", state="pending") == 3
        assert value(samples, "jobqueue_queue_jobs", queue="default", state="dead") == 2
        assert value(samples, "jobqueue_queue_jobs", queue="low", state="pending") == 0
        assert value(samples, "jobqueue_queue_latency_seconds", queue="default") >= 0.05
        assert value(samples, "jobqueue_queue_paused", queue="default") == 1
        assert value(samples, "jobqueue_queue_paused", queue="low") == 0
        assert value(samples, "jobqueue_queue_failed_total", queue="default") == 2
        assert value(samples, "jobqueue_queue_dead_total", queue="default") == 2
        assert value(samples, "jobqueue_queue_processed_total", queue="default") == 0
        assert value(samples, "jobqueue_queue_error_groups", queue="default") == 1
        assert value(samples, "jobqueue_queue_memory_bytes", queue="default") > 0
        assert value(samples, "jobqueue_workers", queue="default") == 1
        assert value(samples, "jobqueue_workers_running_jobs", queue="default") == 0
        after = await scrape(port)  # the worker stopped: read again at this scrape
        assert value(after, "jobqueue_workers", queue="default") == 0


async def _has_worker(inspector: Inspector) -> bool:
    return bool(await inspector.workers())


async def test_the_collector_reports_redis_down(settings: QueueSettings) -> None:
    down = settings.model_copy(update={"url": SecretStr("redis://127.0.0.1:1/0")})
    registry = CollectorRegistry()
    collector = RedisCollector(down, timeout=2)
    registry.register(collector)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        samples = await scrape(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        collector.close()
    assert samples == {("jobqueue_up", frozenset()): 0.0}


async def test_a_worker_serves_its_attempts(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"metrics_port": 0})
    jobs = JobRegistry()
    failures: list[int] = []

    @jobs.job("metrics:ok")
    async def ok(payload: dict[str, int]) -> None:
        await asyncio.sleep(0.01)

    @jobs.job("metrics:flaky", max_retry=1, retry_delay=fixed_schedule(0.05))
    async def flaky(payload: dict[str, int]) -> None:
        failures.append(1)
        raise ValueError("always")

    async with JobQueue(
        RedisJobBroker(settings.model_copy(update={"metrics_port": None}))
    ) as queue:
        await queue.enqueue_many([("metrics:ok", {}), ("metrics:ok", {}), ("metrics:flaky", {})])
        worker = RedisJobBroker(settings, registry=jobs)
        async with run_worker(worker):
            assert worker._metrics is not None
            port = worker._metrics.port
            assert port

            async def counted() -> bool:
                samples = await scrape(port)
                key = (
                    "jobqueue_attempts_total",
                    frozenset(
                        {"queue": "default", "job_type": "metrics:flaky", "outcome": "dead"}.items()
                    ),
                )
                return key in samples

            await until(counted)
            samples = await scrape(port)
        assert worker._metrics is None  # stopped with the broker
    ok_done = {"queue": "default", "job_type": "metrics:ok", "outcome": "completed"}
    assert value(samples, "jobqueue_attempts_total", **ok_done) == 2
    assert value(samples, "jobqueue_attempt_duration_seconds_count", **ok_done) == 2
    assert value(samples, "jobqueue_attempt_duration_seconds_sum", **ok_done) >= 0.02
    retried = {"queue": "default", "job_type": "metrics:flaky", "outcome": "retried"}
    assert value(samples, "jobqueue_attempts_total", **retried) == 1
