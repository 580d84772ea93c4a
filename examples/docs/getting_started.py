"""Getting started: a job, a worker factory for `taskiq worker`, and a producer.

    python examples/docs/getting_started.py

starts a throw-away Redis, runs `taskiq worker getting_started:make_broker --workers 1` against it,
enqueues three jobs and waits until the worker has handled all of them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel
from redis.asyncio import Redis

from jobqueue import (
    JobBroker,
    JobRegistry,
    PermanentError,
    QueueSettings,
    connect,
    create_broker,
    fixed_schedule,
)
from jobqueue.testing import RedisServer

# --8<-- [start:jobs]
jobs = JobRegistry()


class SendEmail(BaseModel):
    """The payload of an `email:send` job."""

    user_id: int
    to: str
    subject: str


@jobs.job("email:send", max_retry=4, timeout=10, retry_delay=fixed_schedule(30, 60, 300, 600))
async def send_email(payload: SendEmail) -> None:
    if "@" not in payload.to:
        # Retrying cannot help: fail for good, the job goes to the dead set.
        raise PermanentError(f"invalid address {payload.to!r}")
    print(f"sending {payload.subject!r} to {payload.to}", flush=True)


# --8<-- [end:jobs]


# --8<-- [start:factory]
def make_broker() -> JobBroker:
    """Called by `taskiq worker` in each worker process; settings come from QUEUE_*."""
    return create_broker(registry=jobs)


# --8<-- [end:factory]


# --8<-- [start:producer]
async def produce() -> None:
    async with connect(registry=jobs) as queue:
        info = await queue.enqueue(
            "email:send", SendEmail(user_id=1, to="ada@example.com", subject="Welcome")
        )
        print(f"enqueued {info.job_type} id={info.id} queue={info.queue} state={info.state}")

        info = await queue.enqueue_with_delay(
            "email:send", SendEmail(user_id=2, to="alan@example.com", subject="Tips"), 1.0
        )
        print(f"enqueued id={info.id} state={info.state} due={info.process_at:%H:%M:%S}")

        await queue.enqueue("email:send", SendEmail(user_id=3, to="nobody", subject="Oops"))


# --8<-- [end:producer]


async def wait_for_worker(settings: QueueSettings, processed: int, dead: int) -> None:
    """Poll the queue's counters (see "Worker": Redis keys) until the worker is done."""
    client = Redis.from_url(settings.redis_url())
    stats_key = f"{settings.key_prefix}:{{{settings.default_queue}}}:stats"
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            stats = await client.hgetall(stats_key)
            if int(stats.get(b"processed", 0)) >= processed and int(stats.get(b"dead", 0)) >= dead:
                print(f"worker done: {processed} processed, {dead} dead")
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"timed out waiting for the worker: {stats}")
    finally:
        await client.aclose()


def main() -> None:
    here = Path(__file__).resolve().parent
    with RedisServer() as server:
        os.environ["QUEUE_URL"] = f"{server.url}/1"
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "taskiq", "worker", "getting_started:make_broker"),
                *("--workers", "1", "--receiver", "jobqueue.receiver:JobReceiver"),
                *("--log-level", "WARNING"),
            ],
            cwd=here,
        )
        try:
            asyncio.run(produce())
            asyncio.run(wait_for_worker(QueueSettings.from_env(), processed=2, dead=1))
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)


if __name__ == "__main__":
    main()
