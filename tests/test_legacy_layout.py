"""Rolling upgrades: jobs stored by jobqueue 0.1 (the job hash with the Taskiq message in `msg`)
run on a worker of this version, and keep their unique lock until they complete.

The jobs are written by 0.1's own enqueue script (`tests/legacy/enqueue_0_1.lua`, with its
shared helpers), exactly as a producer of that version wrote them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
from tests.helpers import job_fields

from jobqueue import JobQueue, JobRegistry, QueueSettings, fixed_schedule
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker

LEGACY_ENQUEUE = (Path(__file__).parent / "legacy" / "enqueue_0_1.lua").read_text()


def message(job_id: str, job_type: str, payload: Any, **labels: Any) -> bytes:
    """The Taskiq message jobqueue 0.1's producer wrote (labels as strings, with their types)."""
    types = {"str": 0, "int": 1, "float": 2}
    all_labels = {"queue": "default", "ack_type": "when_saved", **labels}
    return orjson.dumps(
        {
            "task_id": job_id,
            "task_name": job_type,
            "labels": {k: str(v) for k, v in all_labels.items()},
            "labels_types": {k: types[type(v).__name__] for k, v in all_labels.items()},
            "args": [payload],
            "kwargs": {},
        }
    )


async def legacy_enqueue(
    broker: RedisJobBroker, *jobs: tuple[str, str, Any, dict[str, Any]]
) -> None:
    """Store jobs as 0.1 did: (id, job type, payload, options: max_retry, delay_ms, unique)."""
    keys = broker.keys["default"]
    args: list[Any] = [keys.job_prefix, keys.notify]
    for job_id, job_type, payload, options in jobs:
        labels = {"max_retry": options["max_retry"]} if "max_retry" in options else {}
        lock = keys.unique(job_type, "0" * 32) if options.get("unique") else ""
        args += [
            job_id,
            message(job_id, job_type, payload, **labels),
            job_type,
            0,
            60_000 if lock else 0,
            lock,
            options.get("max_retry", ""),
            "",
            options.get("delay_ms", 0),
        ]
    await broker.client.eval(LEGACY_ENQUEUE, 2, keys.pending, keys.scheduled, *args)


async def test_jobs_stored_by_the_previous_layout_run(settings: QueueSettings) -> None:
    runs: list[tuple[str, Any]] = []
    registry = JobRegistry()

    @registry.job("legacy:work")
    async def work(payload: dict[str, Any]) -> None:
        runs.append(("work", payload))

    @registry.job("legacy:flaky", retry_delay=fixed_schedule(0.05))
    async def flaky(payload: dict[str, Any]) -> None:
        runs.append(("flaky", payload))
        if len([r for r in runs if r[0] == "flaky"]) == 1:
            raise ValueError("first attempt fails")

    producer = RedisJobBroker(settings)
    async with JobQueue(producer):
        await legacy_enqueue(
            producer,
            ("old-1", "legacy:work", {"n": 1}, {}),
            ("old-2", "legacy:work", {"n": 2}, {"delay_ms": 200}),
            ("old-3", "legacy:work", {"n": 3}, {"unique": True}),
            ("old-4", "legacy:flaky", {"n": 4}, {"max_retry": 1}),
        )
        keys = producer.keys["default"]
        (lock,) = await producer.client.keys(keys.unique_prefix + "*")
        assert (await job_fields(producer, "old-1"))["type"] == "legacy:work"
        assert (await job_fields(producer, "old-2"))["state"] == "scheduled"

        async with run_worker(RedisJobBroker(settings, registry=registry)):
            deadline = time.monotonic() + 10
            while len(runs) < 5 or await producer.client.hlen(keys.stats) == 0:
                assert time.monotonic() < deadline, runs
                await asyncio.sleep(0.02)
            while int(await producer.client.hget(keys.stats, "processed") or 0) < 4:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)

        assert sorted(p["n"] for _, p in runs) == [1, 2, 3, 4, 4]
        assert not await producer.client.exists(lock)  # released on completion
        for job_id in ("old-1", "old-2", "old-3", "old-4"):
            assert not await job_fields(producer, job_id)
        stats = await producer.client.hgetall(keys.stats)
        assert stats == {b"processed": b"4", b"failed": b"1"}
