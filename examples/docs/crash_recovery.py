"""Crash recovery: a worker killed mid-job loses nothing; its job runs again elsewhere.

    python examples/docs/crash_recovery.py

Starts a throw-away Redis and a `taskiq worker crash_recovery:make_broker` process with a 2 s lease,
kills the worker (SIGKILL: no shutdown code runs) while it runs a job, then starts a second worker:
the job is back in pending about lease_timeout + recovery_interval after the last heartbeat and
completes on the second worker.
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
from jobqueue.redis import Inspector, RedisJobBroker
from jobqueue.testing import RedisServer, run_worker

HERE = Path(__file__).resolve().parent
jobs = JobRegistry()
finished: list[float] = []


@jobs.job("invoice:render")
async def render_invoice(payload: dict[str, int]) -> None:
    # Idempotent: rendering the same invoice twice writes the same file.
    if os.environ.get("SLOW_WORKER"):
        await asyncio.sleep(60)  # the first worker dies in here
    finished.append(time.monotonic())


def make_broker() -> JobBroker:
    return create_broker(registry=jobs)


async def main(url: str) -> None:
    # Production defaults are 30 s and 5 s; short values make a lost job come back sooner, at
    # the price of more heartbeat and recovery traffic.
    timings = {"lease_timeout": 2.0, "recovery_interval": 0.5}
    settings = QueueSettings.from_env(url=url, **timings)
    env = {
        **os.environ,
        "QUEUE_URL": url,
        "QUEUE_LEASE_TIMEOUT": "2",
        "QUEUE_RECOVERY_INTERVAL": "0.5",
        "SLOW_WORKER": "1",
    }
    first = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "taskiq", "worker", "crash_recovery:make_broker"),
        *("--workers", "1", "--receiver", "jobqueue.receiver:JobReceiver", "--log-level", "WARNING"),
        cwd=HERE,
        env=env,
        start_new_session=True,  # its own process group: we kill the worker and its child
    )
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        keys = broker.keys["default"]
        info = await queue.enqueue("invoice:render", {"invoice_id": 42})
        for _ in range(500):
            record = await Inspector(broker).job(info.id, "default")
            if record is not None and record.state == "active":
                break
            await asyncio.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)  # the process group we started, nothing else
        await first.wait()
        killed = time.monotonic()
        print("worker killed while running", info.id)

        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            for _ in range(500):
                if finished:
                    break
                await asyncio.sleep(0.02)
        assert finished, "the job was not recovered"
        print(f"job finished on the second worker {finished[0] - killed:.1f} s after the kill")
        stats = cast(dict[bytes, bytes], await broker.client.hgetall(keys.stats))
        print("stats:", {k.decode(): int(v) for k, v in stats.items()})
        assert int(stats[b"processed"]) == 1


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
