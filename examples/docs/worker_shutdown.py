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
from typing import cast

from jobqueue import JobBroker, JobQueue, JobRegistry, QueueSettings, create_broker
from jobqueue.redis import RedisJobBroker
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
        thumb = await queue.enqueue("thumbnail:make", {"image": "a.png"})
        video = await queue.enqueue("video:encode", {"video": "a.mp4"})
        for _ in range(500):  # wait until the worker runs both
            states = [await broker.client.hget(keys.job(i), "state") for i in (thumb.id, video.id)]
            if states == [b"active", b"active"]:
                break
            await asyncio.sleep(0.02)
        assert states == [b"active", b"active"], states

        # --8<-- [start:check]
        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 20)
        print(f"worker exited {time.monotonic() - stopping:.1f} s after SIGTERM")

        stats = cast(dict[bytes, bytes], await broker.client.hgetall(keys.stats))
        video_job = cast(dict[bytes, bytes], await broker.client.hgetall(keys.job(video.id)))
        print("stats:", {k.decode(): int(v) for k, v in stats.items()})
        print("video:encode is", video_job[b"state"].decode(), "retried", video_job[b"retried"])
        assert int(stats[b"processed"]) == 1  # the short job finished within the grace period
        assert b"failed" not in stats  # the interrupted job is not a failure...
        assert video_job[b"state"] == b"pending"  # ...it waits for the next worker
        assert video_job[b"retried"] == b"0"
        assert await broker.client.lrange(keys.pending, 0, -1) == [video.id.encode()]
        # --8<-- [end:check]


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
