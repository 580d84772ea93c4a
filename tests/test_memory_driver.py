"""Behaviour of the in-memory driver: jobs run in-process, with the Redis driver's life cycle."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from taskiq.events import TaskiqEvents

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobQueue,
    JobRegistry,
    JobState,
    PermanentError,
    QueueSettings,
    connect,
    fixed_schedule,
)
from jobqueue._order import queue_order
from jobqueue._resolve import Submission
from jobqueue.memory import MemoryJobBroker
from jobqueue.testing import run_worker

EMPTY_TAIL = b"\x1f\x1f\x1f{}"  # a stored record's tail: no options or labels, payload {}


def memory_settings(**changes: Any) -> QueueSettings:
    """Explicit values, so neither the environment nor a `.env` file changes the tests."""
    values: dict[str, Any] = {
        "driver": "memory",
        "queues": {"critical": 6, "default": 3, "low": 1},
        "default_queue": "default",
        "strict_priority": False,
        "concurrency": 4,
        "shutdown_timeout": 1.0,
        "default_max_retry": 5,
        "completed_retention": 0.0,
    }
    return QueueSettings(**{**values, **changes})


async def eventually(predicate: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_job_runs_in_process_without_a_worker() -> None:
    registry = JobRegistry()
    seen: list[int] = []

    @registry.job("count")
    async def count(payload: dict[str, int]) -> None:
        seen.append(payload["i"])

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    events: list[str] = []
    for event in (TaskiqEvents.WORKER_STARTUP, TaskiqEvents.WORKER_SHUTDOWN):
        broker.add_event_handler(event, lambda state, e=event: events.append(e.value))
    async with JobQueue(broker) as queue:
        assert events == ["WORKER_STARTUP"]  # the process is its own worker
        infos = [await queue.enqueue("count", {"i": i}) for i in range(5)]
        assert all(info.state is JobState.PENDING for info in infos)
        await broker.wait_idle()
        assert sorted(seen) == list(range(5))
        assert broker.stats() == {"processed": 5, "failed": 0, "dead": 0}
        assert broker.job(infos[0].id) is None  # completed jobs are not kept by default
    assert events == ["WORKER_STARTUP", "WORKER_SHUTDOWN"]


async def test_delay_is_honoured() -> None:
    registry = JobRegistry()
    ran_at: list[float] = []

    @registry.job("later")
    async def later(payload: None) -> None:
        ran_at.append(time.time())

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        info = await queue.enqueue_with_delay("later", None, 0.3)
        assert info.state is JobState.SCHEDULED
        await broker.wait_idle()  # a job due later is not "work now"
        assert ran_at == []
        assert broker.job(info.id)["state"] == "scheduled"  # type: ignore[index]
        await broker.wait_idle(include_scheduled=True)
    assert len(ran_at) == 1
    assert ran_at[0] >= info.process_at.timestamp()
    assert ran_at[0] - info.enqueued_at.timestamp() >= 0.3


async def test_retries_follow_fixed_schedule_and_count() -> None:
    registry = JobRegistry()
    attempts: list[float] = []
    records: list[dict[str, Any] | None] = []
    job_id: dict[str, str] = {}

    @registry.job("flaky", max_retry=3, retry_delay=fixed_schedule(0.1, 0.2))
    async def flaky(payload: None) -> None:
        attempts.append(time.monotonic())
        records.append(broker.job(job_id["id"]))
        if len(attempts) < 3:
            raise ValueError(f"boom {len(attempts)}")

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        job_id["id"] = (await queue.enqueue_with_delay("flaky", None, 0.02)).id
        await broker.wait_idle(include_scheduled=True)
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.1
    assert attempts[2] - attempts[1] >= 0.2
    assert [r["retried"] for r in records if r] == [0, 1, 2]
    assert records[2] is not None
    assert records[2]["error"] == "ValueError: boom 2"
    assert broker.stats() == {"processed": 1, "failed": 2, "dead": 0}


async def test_permanent_error_goes_straight_to_dead() -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("strict", max_retry=5)
    async def strict(payload: None) -> None:
        attempts.append(1)
        raise PermanentError("bad input")

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        info = await queue.enqueue("strict", None)
        await broker.wait_idle(include_scheduled=True)
    assert len(attempts) == 1
    (dead,) = broker.dead_jobs("default")
    assert dead["id"] == info.id
    assert dead["state"] == "dead"
    assert dead["error"] == "permanent: PermanentError: bad input"
    assert broker.stats() == {"processed": 0, "failed": 1, "dead": 1}


async def test_exhausted_retries_go_to_dead_with_error_and_traceback() -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("always_fails", max_retry=2, retry_delay=fixed_schedule(0.01))
    async def always_fails(payload: None) -> None:
        attempts.append(1)
        raise ValueError("nope")

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        info = await queue.enqueue("always_fails", None)
        await broker.wait_idle(include_scheduled=True)
    assert len(attempts) == 3
    record = broker.job(info.id)
    assert record is not None
    assert record["state"] == "dead"
    assert record["retried"] == 2
    assert record["error"] == "retries exhausted after 3 attempts: ValueError: nope"
    assert "in always_fails" in record["traceback"]
    assert "ValueError: nope" in record["traceback"]
    assert broker.dead_jobs() == [record]
    assert broker.stats() == {"processed": 0, "failed": 3, "dead": 1}


async def test_dead_set_is_bounded_and_completed_jobs_can_be_kept() -> None:
    registry = JobRegistry()

    @registry.job("fail")
    async def fail(payload: int) -> None:
        raise PermanentError(str(payload))

    @registry.job("ok")
    async def ok(payload: int) -> None:
        return None

    settings = memory_settings(concurrency=1, dead_max_jobs=2, completed_retention=60)
    broker = MemoryJobBroker(settings, registry=registry)
    async with JobQueue(broker) as queue:
        failed = [await queue.enqueue("fail", i) for i in range(3)]
        done = await queue.enqueue_with_options("ok", 1, EnqueueOptions(job_id="kept"))
        await broker.wait_idle()
        assert [r["id"] for r in broker.dead_jobs()] == [failed[1].id, failed[2].id]
        assert broker.job(failed[0].id) is None  # dropped with its record, oldest first
        assert broker.stats()["dead"] == 3
        record = broker.job(done.id)
        assert record is not None
        assert record["state"] == "completed"
        with pytest.raises(DuplicateJobError):  # a kept job still owns its id
            await queue.enqueue_with_options("ok", 2, EnqueueOptions(job_id="kept"))

    broker = MemoryJobBroker(memory_settings(dead_max_age=0.1), registry=registry)
    async with JobQueue(broker) as queue:
        old = await queue.enqueue("fail", 1)
        await broker.wait_idle()
        await asyncio.sleep(0.15)
        new = await queue.enqueue("fail", 2)
        await broker.wait_idle()
        assert [r["id"] for r in broker.dead_jobs()] == [new.id]
        assert broker.job(old.id) is None


async def test_unique_job_is_refused_while_alive_and_released_after_success() -> None:
    registry = JobRegistry()
    gate = asyncio.Event()

    @registry.job("sync", unique_ttl=60)
    async def sync(payload: dict[str, int]) -> None:
        await gate.wait()

    unique = EnqueueOptions(unique=True)
    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        first = await queue.enqueue_with_options("sync", {"user": 1}, unique)
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("sync", {"user": 1}, unique)
        assert refused.value.existing_id == first.id
        await queue.enqueue_with_options("sync", {"user": 2}, unique)  # another payload
        gate.set()
        await broker.wait_idle()
        again = await queue.enqueue_with_options("sync", {"user": 1}, unique)
        assert again.id != first.id
        await broker.wait_idle()


async def test_unique_lock_is_held_through_retries() -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("once", retry_delay=fixed_schedule(0.3))
    async def once(payload: None) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    unique = EnqueueOptions(unique=True, unique_ttl=60)
    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        first = await queue.enqueue_with_options("once", None, unique)
        await eventually(lambda: (broker.job(first.id) or {}).get("state") == "retry")
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("once", None, unique)
        assert refused.value.existing_id == first.id
        await broker.wait_idle(include_scheduled=True)
        assert len(attempts) == 2
        await queue.enqueue_with_options("once", None, unique)  # released by the success
        await broker.wait_idle()


async def test_unique_lock_expires_after_its_ttl_and_job_id_reuse_is_refused() -> None:
    registry = JobRegistry()

    @registry.job("noop")
    async def noop(payload: Any) -> None:
        return None

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        short = EnqueueOptions(unique=True, unique_ttl=0.1, delay=60)
        await queue.enqueue_with_options("noop", None, short)
        with pytest.raises(DuplicateJobError):
            await queue.enqueue_with_options("noop", None, short)
        await asyncio.sleep(0.15)
        await queue.enqueue_with_options("noop", None, short)

        by_id = EnqueueOptions(job_id="order-1", delay=60)
        await queue.enqueue_with_options("noop", {"a": 1}, by_id)
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("noop", {"a": 2}, by_id)
        assert refused.value.existing_id == "order-1"


async def test_timeout_takes_the_retry_path() -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("slow", timeout=0.05, max_retry=1, retry_delay=fixed_schedule(0.3))
    async def slow(payload: None) -> None:
        attempts.append(1)
        await asyncio.sleep(10)

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    async with JobQueue(broker) as queue:
        info = await queue.enqueue("slow", None)
        await eventually(lambda: (broker.job(info.id) or {}).get("state") == "retry")
        record = broker.job(info.id)
        assert record is not None
        assert record["retried"] == 1
        assert record["error"].startswith("TimeoutError: the attempt ran longer than its timeout")
        await broker.wait_idle(timeout=3, include_scheduled=True)
    assert len(attempts) == 2
    record = broker.job(info.id)
    assert record is not None
    assert record["state"] == "dead"
    assert record["error"].startswith("retries exhausted after 2 attempts: TimeoutError")


async def test_strict_priority_drains_higher_weight_queues_first() -> None:
    registry = JobRegistry()
    order: list[tuple[str, int]] = []

    @registry.job("record")
    async def record(payload: dict[str, Any]) -> None:
        order.append((payload["q"], payload["i"]))

    broker = MemoryJobBroker(
        memory_settings(strict_priority=True, concurrency=1), registry=registry
    )
    queue = JobQueue(broker, owns_broker=False)  # fill the queues before anything runs
    for i in range(3):
        for name in ("low", "default", "critical"):
            await queue.enqueue_with_options(
                "record", {"q": name, "i": i}, EnqueueOptions(queue=name)
            )
    await broker.startup()
    try:
        await broker.wait_idle()
    finally:
        await broker.shutdown()
    assert order == [(q, i) for q in ("critical", "default", "low") for i in range(3)]


@pytest.fixture
def seeded_random() -> Iterator[None]:
    """A fixed seed for the weighted order, without changing other tests' randomness."""
    state = random.getstate()
    random.seed(20240601)
    yield
    random.setstate(state)


@pytest.mark.usefixtures("seeded_random")
async def test_weighted_order_shares_fetches_60_30_10() -> None:
    broker = MemoryJobBroker(memory_settings())
    firsts = Counter(queue_order(broker.settings)[0] for _ in range(20_000))
    for name, share in {"critical": 0.6, "default": 0.3, "low": 0.1}.items():
        assert abs(firsts[name] / 20_000 - share) < 0.02, firsts
    assert sorted(queue_order(broker.settings)) == ["critical", "default", "low"]

    fetches = 1000
    for name in ("critical", "default", "low"):
        await broker.submit(
            [
                Submission(
                    id=f"{name}-{i}", job_type="x", queue=name, tail=b"\x1f\x1f\x1f{}", payload={}
                )
                for i in range(fetches)
            ]
        )
    taken = Counter([delivery.queue for _ in range(fetches) for delivery in await broker.fetch(1)])
    assert sum(taken.values()) == fetches
    for name, share in {"critical": 0.6, "default": 0.3, "low": 0.1}.items():
        assert abs(taken[name] / fetches - share) < 0.05, taken
    assert await broker._requeue(list(broker.attempts)) == fetches


async def test_concurrency_limit_is_respected() -> None:
    registry = JobRegistry()
    running = 0
    peak = {"running": 0, "held": 0}

    @registry.job("work")
    async def work(payload: None) -> None:
        nonlocal running
        running += 1
        peak["running"] = max(peak["running"], running)
        peak["held"] = max(peak["held"], len(broker.attempts))
        await asyncio.sleep(0.03)
        running -= 1

    broker = MemoryJobBroker(memory_settings(concurrency=3), registry=registry)
    async with JobQueue(broker) as queue:
        await queue.enqueue_many([("work", None)] * 10)
        await broker.wait_idle()
    assert peak == {"running": 3, "held": 3}
    assert broker.stats()["processed"] == 10


async def test_listen_holds_at_most_concurrency_unacknowledged_jobs() -> None:
    registry = JobRegistry()

    @registry.job("x")
    async def x(payload: Any) -> None: ...

    broker = MemoryJobBroker(memory_settings(concurrency=2), registry=registry)
    await broker.submit(
        [
            Submission(
                id=f"j{i}", job_type="x", queue="default", tail=b"\x1f\x1f\x1f{}", payload={}
            )
            for i in range(3)
        ]
    )
    listener = broker.listen()
    first = await anext(listener)
    await anext(listener)
    third = asyncio.create_task(anext(listener))
    await asyncio.sleep(0.05)
    assert not third.done()
    assert len(broker.attempts) == 2
    await first.ack()  # type: ignore[union-attr, misc]
    assert b'"task_id":"j2"' in (await asyncio.wait_for(third, 1)).data  # type: ignore[union-attr]
    await listener.aclose()
    await broker.shutdown()
    assert {(broker.job(f"j{i}") or {}).get("state") for i in (1, 2)} == {"pending"}


async def test_graceful_shutdown_puts_an_unfinished_job_back() -> None:
    registry = JobRegistry()
    attempts: Counter[str] = Counter()

    @registry.job("quick")
    async def quick(payload: None) -> None:
        attempts["quick"] += 1
        await asyncio.sleep(0.05)

    @registry.job("stuck")
    async def stuck(payload: None) -> None:
        attempts["stuck"] += 1
        if attempts["stuck"] == 1:
            await asyncio.Event().wait()  # never set: only the shutdown stops it

    broker = MemoryJobBroker(memory_settings(shutdown_timeout=0.2), registry=registry)
    queue = JobQueue(broker)
    await queue.enqueue("quick", None)
    info = await queue.enqueue("stuck", None)
    await eventually(lambda: attempts["quick"] == 1 and attempts["stuck"] == 1)
    started = time.monotonic()
    await queue.close()
    assert time.monotonic() - started >= 0.2
    record = broker.job(info.id)
    assert record is not None
    assert (record["state"], record["retried"], record["error"]) == ("pending", 0, "")
    assert broker.stats() == {"processed": 1, "failed": 0, "dead": 0}

    async with JobQueue(broker):  # the job was kept and runs on the next start
        await broker.wait_idle()
    assert attempts == {"quick": 1, "stuck": 2}
    assert broker.job(info.id) is None


async def test_unknown_and_malformed_jobs_go_to_dead() -> None:
    broker = MemoryJobBroker(memory_settings())
    async with JobQueue(broker) as queue:
        unknown = await queue.enqueue("nobody:handles", {"a": 1})
        await broker.submit(
            [Submission(id="garbage", job_type="?", queue="default", payload=None, tail=b"junk")]
        )
        await broker.wait_idle()
    errors = {record["id"]: record["error"] for record in broker.dead_jobs()}
    assert errors[unknown.id].startswith("unknown job type 'nobody:handles'")
    assert errors["garbage"].startswith("malformed record")
    assert broker.stats()["dead"] == 2


async def test_connect_with_the_memory_driver() -> None:
    registry = JobRegistry()
    seen: list[str] = []

    @registry.job("hello")
    async def hello(payload: dict[str, str]) -> None:
        seen.append(payload["name"])

    async with connect(memory_settings(), registry=registry) as queue:
        broker = queue.broker
        assert isinstance(broker, MemoryJobBroker)
        await queue.enqueue("hello", {"name": "ada"})
        await broker.wait_idle()
    assert seen == ["ada"]


async def test_run_worker_uses_its_own_receiver_only() -> None:
    registry = JobRegistry()
    seen: list[int] = []

    @registry.job("count")
    async def count(payload: int) -> None:
        seen.append(payload)

    broker = MemoryJobBroker(memory_settings(), registry=registry)
    queue = JobQueue(broker, owns_broker=False)
    for i in range(3):
        await queue.enqueue("count", i)
    async with run_worker(broker):
        receivers = [t for t in asyncio.all_tasks() if t.get_name() == "jobqueue-memory-receiver"]
        assert receivers == []
        await broker.wait_idle()
    assert sorted(seen) == [0, 1, 2]
