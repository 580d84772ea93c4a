"""The `Queue` API: every way to enqueue, what comes back, and closing.

    python examples/docs/queue_api.py

Runs against a throw-away Redis; no worker runs, so the jobs stay where they were put.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobInfo,
    JobQueue,
    JobRegistry,
    JobState,
    Queue,
    QueueClosedError,
    QueueSettings,
    connect,
)
from jobqueue.testing import RedisServer

jobs = JobRegistry()


@jobs.job("report:generate", queue="low", timeout=300)
async def generate_report(payload: dict[str, str]) -> None:
    """Not run here: this example only enqueues."""


@jobs.job("webhook:deliver")
async def deliver_webhook(payload: dict[str, object]) -> None:
    """Not run here: this example only enqueues."""


# --8<-- [start:enqueue]
async def enqueue_examples(queue: Queue) -> None:
    # As soon as a worker is free; the queue and timeout come from the job type.
    info = await queue.enqueue("report:generate", {"kind": "daily"})
    assert info.queue == "low"
    assert info.timeout == 300
    assert info.state is JobState.PENDING

    # No earlier than 5 minutes from now (seconds or a timedelta).
    info = await queue.enqueue_with_delay("report:generate", {"kind": "hourly"}, 300)
    assert info.state is JobState.SCHEDULED

    # No earlier than a given time; it must be timezone-aware.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    info = await queue.enqueue_at("report:generate", {"kind": "weekly"}, tomorrow)
    assert info.state is JobState.SCHEDULED
    assert info.process_at > info.enqueued_at

    # Everything at once.
    opts = EnqueueOptions(queue="critical", max_retry=3, timeout=10, job_id="hook-7")
    info = await queue.enqueue_with_options("webhook:deliver", {"url": "https://x.test"}, opts)
    assert info.id == "hook-7"
    assert info.max_retry == 3
    print(info)


# --8<-- [end:enqueue]


# --8<-- [start:many]
async def enqueue_batch(queue: Queue) -> None:
    results = await queue.enqueue_many(
        [
            ("report:generate", {"kind": "a"}),
            ("report:generate", {"kind": "b"}, EnqueueOptions(delay=60)),
            ("webhook:deliver", {}, EnqueueOptions(queue="critical", job_id="hook-7")),
        ]
    )
    for result in results:
        if isinstance(result, JobInfo):
            print(f"enqueued {result.id} ({result.state})")
        elif isinstance(result, DuplicateJobError):
            print(f"refused: {result} (existing id {result.existing_id})")
    assert isinstance(results[2], DuplicateJobError)


# --8<-- [end:many]


# --8<-- [start:lifecycle]
async def lifecycle(settings: QueueSettings) -> None:
    # Preferred: the queue connects on entry and disconnects on exit.
    async with connect(settings, registry=jobs) as queue:
        await queue.enqueue("report:generate", {"kind": "daily"})

    # Without `async with`: start() is optional (the first enqueue connects), close() is not.
    queue = connect(settings, registry=jobs)
    try:
        await queue.enqueue("report:generate", {"kind": "daily"})
    finally:
        await queue.close()
    try:
        await queue.enqueue("report:generate", {"kind": "daily"})
    except QueueClosedError:
        print("a closed queue refuses further jobs")


# --8<-- [end:lifecycle]


async def main(settings: QueueSettings) -> None:
    async with connect(settings, registry=jobs) as queue:
        assert isinstance(queue, Queue)  # JobQueue implements the Queue protocol
        assert isinstance(queue, JobQueue)
        await enqueue_examples(queue)
        await enqueue_batch(queue)
    await lifecycle(settings)


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
