"""Graceful shutdown of a `taskiq worker`: running jobs get a grace period, the rest go back.

    python examples/docs/worker_shutdown.py

Starts a throw-away Redis and `taskiq worker worker_shutdown:make_broker --workers 1` with
QUEUE_SHUTDOWN_TIMEOUT=2, starts a short and a long job, and sends SIGTERM: the short job finishes,
the long one is stopped after 2 s and put back to pending without counting as a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from jobqueue import JobBroker, JobQueue, JobRegistry, QueueSettings, create_broker
from jobqueue.redis import Inspector, RedisJobBroker
from jobqueue.testing import RedisServer

HERE = Path(__file__).resolve().parent
jobs = JobRegistry()


# --8<-- [start:jobs]
@jobs.job("thumbnail:make")
async def make_thumbnail(payload: dict[str, str]) -> None:
    await asyncio.sleep(1)


@jobs.job("video:encode")
async def encode_video(payload: dict[str, str]) -> None:
    await asyncio.sleep(60)
    # --8<-- [end:jobs]


def make_broker() -> JobBroker:
    return create_broker(registry=jobs)


async def main(url: str) -> None:
    settings = QueueSettings.from_env(url=url)
    env = {**os.environ, "QUEUE_URL": url, "QUEUE_SHUTDOWN_TIMEOUT": "2"}
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "taskiq", "worker", "worker_shutdown:make_broker"),
        *("--workers", "1", "--receiver", "jobqueue.receiver:JobReceiver", "--log-level", "INFO"),
        cwd=HERE,
        env=env,
    )
    async with JobQueue(RedisJobBroker(settings)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        keys = broker.keys["default"]
        inspector = Inspector(broker)
        thumb = await queue.enqueue("thumbnail:make", {"image": "a.png"})
        video = await queue.enqueue("video:encode", {"video": "a.mp4"})
        for _ in range(500):  # wait until the worker runs both
            states = [await state_of(inspector, i) for i in (thumb.id, video.id)]
            if states == ["active", "active"]:
                break
            await asyncio.sleep(0.02)
        assert states == ["active", "active"], states

        # --8<-- [start:check]
        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 20)
        print(f"worker exited {time.monotonic() - stopping:.1f} s after SIGTERM")

        (stats,) = [s for s in await inspector.stats() if s.queue == "default"]
        video_job = await inspector.job(video.id, "default")
        assert video_job is not None
        print("processed", stats.processed_total, "failed", stats.failed_total)
        print("video:encode is", video_job.state, "retried", video_job.retried)
        assert stats.processed_total == 1  # the short job finished within the grace period
        assert stats.failed_total == 0  # the interrupted job is not a failure...
        assert video_job.state == "pending"  # ...it waits for the next worker
        assert video_job.retried == 0
        assert await broker.client.lrange(keys.pending, 0, -1) == [video.id.encode()]
        # --8<-- [end:check]


async def state_of(inspector: Inspector, job_id: str) -> str | None:
    record = await inspector.job(job_id, "default")
    return None if record is None else str(record.state)


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
