"""Weighted and strict priority of fetches across queues, measured on a real Redis.

The tests call `broker.fetch(1)` directly (no worker), so every fetch is one independent draw of
the queue order, and the share of fetches per queue can be compared with the weights.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Mapping

import pytest

from jobqueue import JobQueue, QueueSettings
from jobqueue.options import EnqueueOptions
from jobqueue.redis import RedisJobBroker

FETCHES = 3000


@pytest.fixture
async def broker(settings: QueueSettings) -> AsyncIterator[RedisJobBroker]:
    broker = RedisJobBroker(settings)
    await broker.startup()
    yield broker
    await broker.shutdown()


async def fill(queue: JobQueue, backlog: Mapping[str, int]) -> dict[str, list[str]]:
    """Enqueue `backlog[name]` jobs into each queue; return their ids in enqueue order."""
    ids: dict[str, list[str]] = {}
    for name, count in backlog.items():
        opts = EnqueueOptions(queue=name)
        for start in range(0, count, 500):
            infos = await queue.enqueue_many(
                ("prio:job", {"i": i}, opts) for i in range(start, min(count, start + 500))
            )
            ids.setdefault(name, []).extend(info.id for info in infos)  # type: ignore[union-attr]
    return ids


async def fetch_queues(broker: RedisJobBroker, fetches: int) -> list[str]:
    """The queue each of `fetches` single-job fetches came from."""
    seen = []
    for _ in range(fetches):
        (delivery,) = await broker.fetch(1)
        seen.append(delivery.queue)
    return seen


async def pending_left(broker: RedisJobBroker) -> dict[str, int]:
    return {name: await broker.client.llen(keys.pending) for name, keys in broker.keys.items()}


async def test_weighted_share_of_fetches_follows_weights(broker: RedisJobBroker) -> None:
    # Backlogs larger than any queue can be asked for, so no queue runs dry mid-measurement
    # (a dry queue would hand its share to the others and distort the ratio).
    async with JobQueue(broker, owns_broker=False) as queue:
        await fill(queue, {"critical": 2100, "default": 1200, "low": 500})

    seen = await fetch_queues(broker, FETCHES)

    assert all(left > 0 for left in (await pending_left(broker)).values())
    share = {name: count / FETCHES for name, count in collections.Counter(seen).items()}
    assert share["critical"] == pytest.approx(0.60, abs=0.05)
    assert share["default"] == pytest.approx(0.30, abs=0.05)
    assert share["low"] == pytest.approx(0.10, abs=0.05)
    # Not starved: the lowest-weight queue is served in every stretch of 250 fetches (at 10 %,
    # missing it for 250 fetches in a row has a chance of about 4e-12).
    for start in range(0, FETCHES, 250):
        assert "low" in seen[start : start + 250], f"low starved in fetches {start}..{start + 250}"


async def test_strict_priority_drains_queues_in_weight_order(settings: QueueSettings) -> None:
    broker = RedisJobBroker(settings.model_copy(update={"strict_priority": True}))
    await broker.startup()
    try:
        async with JobQueue(broker, owns_broker=False) as queue:
            # Enqueue the low-priority jobs first, so only priority (not age) can order them.
            ids = await fill(queue, {"low": 30, "default": 30, "critical": 30})

        fetched = []
        for _ in range(90):
            (delivery,) = await broker.fetch(1)
            fetched.append((delivery.queue, delivery.id))

        assert [q for q, _ in fetched] == ["critical"] * 30 + ["default"] * 30 + ["low"] * 30
        # Within a queue, first in, first out.
        for name in ("critical", "default", "low"):
            assert [i for q, i in fetched if q == name] == ids[name]
        assert await broker.fetch(1) == []
    finally:
        await broker.shutdown()


async def test_strict_priority_batch_fetch_fills_from_the_next_queue(
    settings: QueueSettings,
) -> None:
    broker = RedisJobBroker(settings.model_copy(update={"strict_priority": True}))
    await broker.startup()
    try:
        async with JobQueue(broker, owns_broker=False) as queue:
            await fill(queue, {"low": 5, "default": 5, "critical": 3})
        batch = await broker.fetch(6)
        assert [d.queue for d in batch] == ["critical"] * 3 + ["default"] * 3
    finally:
        await broker.shutdown()


async def test_custom_queue_names_and_weights(settings: QueueSettings) -> None:
    custom = settings.model_copy(
        update={"queues": {"urgent": 4, "bulk": 1}, "default_queue": "bulk"}
    )
    broker = RedisJobBroker(custom)
    await broker.startup()
    try:
        async with JobQueue(broker, owns_broker=False) as queue:
            # No queue option: the job goes to the configured default queue.
            info = await queue.enqueue("prio:job", {"i": -1})
            assert info.queue == "bulk"
            await fill(queue, {"urgent": 1800, "bulk": 700})

        fetches = 2000
        seen = await fetch_queues(broker, fetches)

        assert set(seen) == {"urgent", "bulk"}
        assert all(left > 0 for left in (await pending_left(broker)).values())
        assert seen.count("urgent") / fetches == pytest.approx(0.80, abs=0.05)
        assert seen.count("bulk") / fetches == pytest.approx(0.20, abs=0.05)
        # The keys are named after the custom queues.
        assert broker.keys["urgent"].pending == f"{custom.key_prefix}:{{urgent}}:pending"
    finally:
        await broker.shutdown()
