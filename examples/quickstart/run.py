"""Run the quickstart end to end: a private Redis, a `taskiq worker` process, and a producer.

    python examples/quickstart/run.py

Uses `QUEUE_URL` if it is set; otherwise it starts a throw-away Redis (from PATH, or the one the
dev extra installs), so nothing needs to be installed beforehand.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from examples.quickstart.jobs import JOB_SEND_EMAIL, SendEmail  # noqa: E402
from jobqueue import DuplicateJobError, EnqueueOptions, QueueSettings, connect  # noqa: E402
from jobqueue.testing import RedisServer  # noqa: E402


async def produce(settings: QueueSettings) -> None:
    async with connect(settings) as queue:
        for user_id, to in [(1, "ada@example.com"), (2, "alan@example.com"), (3, "not-an-address")]:
            info = await queue.enqueue(
                JOB_SEND_EMAIL, SendEmail(user_id=user_id, to=to, subject="Welcome")
            )
            print(f"enqueued {info.job_type} {info.id} to {info.queue}")
        info = await queue.enqueue_with_delay(
            JOB_SEND_EMAIL, SendEmail(user_id=4, to="grace@example.com", subject="Later"), 1.0
        )
        print(f"enqueued {info.id}, due {info.process_at:%H:%M:%S.%f} ({info.state})")
        opts = EnqueueOptions(queue="critical", unique=True, unique_ttl=60, max_retry=3, timeout=10)
        payload = SendEmail(user_id=5, to="linus@example.com", subject="Receipt")
        await queue.enqueue_with_options(JOB_SEND_EMAIL, payload, opts)
        try:
            await queue.enqueue_with_options(JOB_SEND_EMAIL, payload, opts)
        except DuplicateJobError as exc:
            print(f"second unique enqueue refused: job {exc.existing_id} already exists")


async def wait_for(settings: QueueSettings, processed: int, dead: int, seconds: float) -> None:
    async with connect(settings) as queue:
        client = queue.broker.client  # type: ignore[attr-defined]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done = 0
            buried = 0
            for name in settings.queues:
                stats = await client.hgetall(f"{settings.key_prefix}:{{{name}}}:stats")
                done += int(stats.get(b"processed", 0))
                buried += int(stats.get(b"dead", 0))
            if done >= processed and buried >= dead:
                print(f"processed {done} jobs, {buried} moved to dead")
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"timed out: processed {done}/{processed}, dead {buried}/{dead}")


def main() -> None:
    server = None if os.environ.get("QUEUE_URL") else RedisServer().start()
    url = os.environ.get("QUEUE_URL") or f"{server.url}/1"  # type: ignore[union-attr]
    settings = QueueSettings.from_env(url=url)
    env = {**os.environ, "QUEUE_URL": url, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskiq",
            "worker",
            "examples.quickstart.worker:make_broker",
            "--workers",
            "1",
            "--receiver",
            "jobqueue.receiver:JobReceiver",
            "--log-level",
            "INFO",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        asyncio.run(produce(settings))
        asyncio.run(wait_for(settings, processed=4, dead=1, seconds=30))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
