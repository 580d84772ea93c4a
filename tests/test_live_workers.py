"""Live workers: each worker process keeps a record in Redis; a SIGKILLed one is gone within one
lease timeout, a stopped one at once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

from redis.asyncio import Redis
from tests.test_redis_worker_process import Worker, wait_for, worker_env

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import run_worker


async def test_a_worker_lists_itself_and_its_running_jobs(settings: QueueSettings) -> None:
    jobs = JobRegistry()
    release = asyncio.Event()

    @jobs.job("hold")
    async def hold(payload: dict[str, int]) -> None:
        await release.wait()

    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        assert await inspector.workers() == []
        info = await queue.enqueue("hold", {})
        async with run_worker(RedisJobBroker(settings, registry=jobs)):

            async def running() -> bool:
                found = await inspector.workers()
                return bool(found) and [j.id for j in found[0].running] == [info.id]

            await wait_for(running, "the worker's record to show its job", seconds=5)
            (worker,) = await inspector.workers()
            assert worker.host == socket.gethostname()
            assert worker.pid == os.getpid()
            assert worker.queues == settings.queues
            assert worker.concurrency == settings.concurrency
            assert worker.running[0].job_type == "hold"
            assert worker.running[0].queue == "default"
            assert worker.held == 1
            assert worker.heartbeat_at >= worker.started_at
            assert (worker.expires_at - worker.heartbeat_at).total_seconds() == 1.0
            assert await inspector.workers("default") == [worker]
            release.set()
        assert await inspector.workers() == []  # a graceful stop removes the record at once


async def test_a_sigkilled_worker_is_gone_within_one_lease_timeout(
    settings: QueueSettings, jobqueue_redis_url: str, tmp_path: Path
) -> None:
    client = Redis.from_url(jobqueue_redis_url)
    worker = Worker(
        worker_env(settings, jobqueue_redis_url),
        tmp_path / "worker.log",
        "jobqueue.receiver:JobReceiver",
    )
    try:
        async with JobQueue(RedisJobBroker(settings)) as queue:
            assert isinstance(queue.broker, RedisJobBroker)
            inspector = Inspector(queue.broker)
            info = await queue.enqueue("sleep", {"name": "long", "seconds": 30})

            async def listed() -> bool:
                assert worker.process.poll() is None, worker.output()
                found = await inspector.workers()
                return bool(found) and bool(found[0].running)

            await wait_for(listed, "the worker's record", seconds=20)
            (record,) = await inspector.workers()
            assert [j.id for j in record.running] == [info.id]
            assert record.pid != os.getpid()
            worker.signal(signal.SIGKILL)
            killed = time.monotonic()
            while await inspector.workers():  # noqa: ASYNC110 - Redis has no event to await
                await asyncio.sleep(0.01)
            gone = time.monotonic() - killed
            print(f"SIGKILLed worker left workers() after {gone:.2f} s (lease timeout 1 s)")
            assert gone <= settings.lease_timeout + 0.1
    finally:
        worker.stop()
        await client.aclose()
