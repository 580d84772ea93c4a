"""Error groups: the fingerprint's rules, groups kept at failure time, bulk actions per group."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from jobqueue import JobQueue, JobQueueError, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import run_worker

COMMON = (
    Path(__file__).resolve().parent.parent / "src" / "jobqueue" / "redis" / "lua" / "_common.lua"
).read_text()


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ("ValueError: row 17 not found", "ValueError", "row <n> not found"),
        (
            "retries exhausted after 3 attempts: ValueError: row 18 not found",
            "ValueError",
            "row <n> not found",
        ),
        ("permanent: PermanentError: bad row 4", "PermanentError", "bad row <n>"),
        ("KeyError: 'user_id'", "KeyError", "'?'"),
        (
            "ConnectionError: can't reach 'db-7.internal' port 5432",
            "ConnectionError",
            "can't reach '?' port <n>",
        ),
        ('PayloadError: field "email" got "a@b"', "PayloadError", 'field "?" got "?"'),
        (
            "RuntimeError: job 9f86d081-884c-7d65-9a2f-eaa0c55ad015 failed",
            "RuntimeError",
            "job <id> failed",
        ),
        ("HTTPError: 503 for /v2/users/6fa9c2e1b0d34", "HTTPError", "<n> for /v<n>/users/<id>"),
        ("lost 5 times: its lease expired", "", "lost <n> times: its lease expired"),
        ("malformed: no job stored under this id", "malformed", "no job stored under this id"),
    ],
)
async def test_fingerprint_masks_values(
    jobqueue_redis_url: str, error: str, kind: str, message: str
) -> None:
    client = Redis.from_url(jobqueue_redis_url)
    try:
        _, got_kind, got_message = await client.eval(
            COMMON + "\nreturn {fingerprint(ARGV[1])}", 0, error
        )
    finally:
        await client.aclose()
    assert (got_kind.decode(), got_message.decode()) == (kind, message)


def registry(fixed: set[int], ran: list[str]) -> JobRegistry:
    jobs = JobRegistry()

    @jobs.job("work", max_retry=0)
    async def work(payload: dict[str, int]) -> None:
        kind = payload["n"] % 3
        if kind in fixed:
            ran.append(str(payload["n"]))
            return
        if kind == 0:
            raise ValueError(f"row {payload['n']} has no id")
        if kind == 1:
            raise ConnectionError(f"host 'db-{payload['n']}' refused the connection")
        raise KeyError(f"user-{payload['n']}")

    return jobs


async def wait_for(check: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_thousand_failures_of_three_kinds(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"concurrency": 50, "prefetch": 50})
    fixed: set[int] = set()
    ran: list[str] = []
    async with JobQueue(RedisJobBroker(settings, registry=registry(fixed, ran))) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        ids = {}
        for start in range(0, 1000, 250):
            infos = await queue.enqueue_many(
                ("work", {"n": n}, _id(n)) for n in range(start, start + 250)
            )
            ids.update(
                {
                    n: info.id
                    for n, info in zip(range(start, start + 250), infos, strict=True)
                    if not isinstance(info, JobQueueError)
                }
            )
        async with run_worker(RedisJobBroker(settings, registry=registry(fixed, ran))):

            async def all_dead() -> bool:
                return (await inspector.queue_info(["default"], memory=False))[0].dead == 1000

            await wait_for(all_dead)
            groups = await inspector.error_groups("default")
            assert sorted(g.count for g in groups) == [333, 333, 334]
            by_type = {g.error_type: g for g in groups}
            assert set(by_type) == {"ValueError", "ConnectionError", "KeyError"}
            assert by_type["ValueError"].message == "row <n> has no id"
            assert by_type["ConnectionError"].message == "host '?' refused the connection"
            assert by_type["ValueError"].count == 334
            assert by_type["ValueError"].seen == 334
            assert by_type["ValueError"].first_seen is not None
            assert by_type["ValueError"].sample_job in ids.values()
            assert (await inspector.queue_info(["default"], memory=False))[0].error_groups == 3

            connection = by_type["ConnectionError"]
            assert await inspector.error_group(connection.id) == connection
            fixed.add(1)  # the jobs of that kind now succeed
            result = await inspector.run_group("default", connection.id)
            assert result.done == 333

            async def ran_all() -> bool:
                return len(ran) == 333

            await wait_for(ran_all)
        assert sorted(int(n) for n in ran) == [n for n in range(1000) if n % 3 == 1]
        after = {g.error_type: g.count for g in await inspector.error_groups("default")}
        assert after == {"ValueError": 334, "KeyError": 333}
        assert await inspector.error_group(connection.id) is None
        deleted = await inspector.delete_group("default", by_type["KeyError"].id)
        assert deleted.done == 333
        assert [g.error_type for g in await inspector.error_groups()] == ["ValueError"]


def _id(n: int) -> object:
    from jobqueue import EnqueueOptions

    return EnqueueOptions(job_id=f"job-{n:04d}")


async def test_a_retry_leaves_its_group_when_it_runs_again(settings: QueueSettings) -> None:
    jobs = JobRegistry()
    attempts: list[int] = []

    @jobs.job("flaky", max_retry=2, retry_delay=lambda *_: 0.3)
    async def flaky(payload: dict[str, int]) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError("upstream took 31 s")

    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        await queue.enqueue("flaky", {})
        async with run_worker(RedisJobBroker(settings, registry=jobs)):

            async def retrying() -> bool:
                return [g.count for g in await inspector.error_groups("default")] == [1]

            await wait_for(retrying, 10)
            (group,) = await inspector.error_groups("default")
            assert group.message == "upstream took <n> s"

            async def done() -> bool:
                return len(attempts) == 3 and not await inspector.error_groups("default")

            await wait_for(done, 10)


async def test_trimmed_dead_jobs_leave_their_groups(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"dead_max_jobs": 5})
    fixed: set[int] = {1, 2}
    async with JobQueue(RedisJobBroker(settings, registry=registry(fixed, []))) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        await queue.enqueue_many(("work", {"n": 3 * n}) for n in range(12))
        async with run_worker(RedisJobBroker(settings, registry=registry(fixed, []))):

            async def done() -> bool:
                info = (await inspector.queue_info(["default"], memory=False))[0]
                return info.dead_total == 12

            await wait_for(done, 10)
        assert [g.count for g in await inspector.error_groups("default")] == [5]


async def test_rebuild_files_jobs_that_have_no_group(settings: QueueSettings) -> None:
    fixed: set[int] = {1, 2}
    async with JobQueue(RedisJobBroker(settings, registry=registry(fixed, []))) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        await queue.enqueue_many(("work", {"n": 3 * n}) for n in range(4))
        async with run_worker(RedisJobBroker(settings, registry=registry(fixed, []))):

            async def dead() -> bool:
                return (await inspector.queue_info(["default"], memory=False))[0].dead == 4

            await wait_for(dead, 10)
        k = inspector.broker.keys["default"]
        client = inspector.broker.client
        (group,) = await inspector.error_groups("default")
        await client.delete(k.groups, k.group(group.id), k.group(group.id) + ":jobs")
        for job_id in await client.zrange(k.dead, 0, -1):
            await client.hdel(k.job(job_id.decode()), "group")  # as stored before groups
        assert await inspector.error_groups("default") == []
        assert await inspector.rebuild_error_groups("default") == 4
        assert [g.count for g in await inspector.error_groups("default")] == [4]
        assert await inspector.rebuild_error_groups("default") == 0


async def test_killing_a_group_keeps_its_jobs_in_it(settings: QueueSettings) -> None:
    jobs = JobRegistry()

    @jobs.job("later", max_retry=3, retry_delay=lambda *_: 3600)
    async def later(payload: dict[str, int]) -> None:
        raise OSError(f"disk {payload['n']} full")

    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        inspector = Inspector(queue.broker)
        await queue.enqueue_many(("later", {"n": n}) for n in range(3))
        async with run_worker(RedisJobBroker(settings, registry=jobs)):

            async def retrying() -> bool:
                return (await inspector.queue_info(["default"], memory=False))[0].retry == 3

            await wait_for(retrying, 10)
        (group,) = await inspector.error_groups("default")
        result = await inspector.act("kill", "default", group=group.id)
        assert (result.done, result.examined) == (3, 3)
        (info,) = await inspector.queue_info(["default"], memory=False)
        assert (info.retry, info.dead) == (0, 3)
        (after,) = await inspector.error_groups("default")
        assert (after.id, after.count) == (group.id, 3)
        dead = await inspector.list_jobs("default", "dead")
        assert {j.error for j in dead.jobs} == {f"OSError: disk {n} full" for n in range(3)}
        with pytest.raises(JobQueueError, match="no sorted set"):
            inspector.calls.regroup(inspector.broker.keys["default"], "pending", 0)
