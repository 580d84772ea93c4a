"""Structured logs: the job fields jobqueue puts in each record's `extra`, written as JSON lines.

    python examples/docs/logging_json.py

Runs a worker in this process against a throw-away Redis and prints one JSON object per log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from jobqueue import (
    JobBroker,
    JobQueue,
    JobRegistry,
    QueueSettings,
    create_broker,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker


# --8<-- [start:formatter]
class JsonFormatter(logging.Formatter):
    """One JSON object per record, with jobqueue's structured fields when present."""

    FIELDS = (
        *("job_type", "job_id", "queue", "attempt", "duration_ms", "error"),
        *("recovered", "moved_to_dead"),
    )

    def format(self, record: logging.LogRecord) -> str:
        """Render the record and its job fields."""
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        return json.dumps(line, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("taskiq").setLevel(logging.WARNING)  # Taskiq's own, unstructured lines


def make_broker() -> JobBroker:
    """Run with `taskiq worker app:make_broker --no-configure-logging`."""
    configure_logging()  # runs in every worker process
    return create_broker(registry=jobs)


# --8<-- [end:formatter]

jobs = JobRegistry()
attempts: list[int] = []


@jobs.job("sms:send", retry_delay=fixed_schedule(0.1))
async def send_sms(payload: dict[str, str]) -> None:
    attempts.append(1)
    if len(attempts) == 1:
        raise ConnectionError("gateway timeout")


async def main(settings: QueueSettings) -> None:
    configure_logging()
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        await queue.enqueue("sms:send", {"to": "+15550100", "text": "Your code is 123456"})
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            for _ in range(200):
                if len(attempts) == 2:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
    assert len(attempts) == 2


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
