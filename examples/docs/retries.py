"""Retries: delay schedules, custom delay functions, PermanentError and the dead set.

    python examples/docs/retries.py

Runs a worker in this process against a throw-away Redis; delays are shortened to fractions of a
second so the example finishes quickly.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from jobqueue import (
    EnqueueOptions,
    JobContext,
    JobQueue,
    JobRegistry,
    PermanentError,
    QueueSettings,
    exponential_backoff,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import RedisServer, run_worker


def schedules() -> None:
    # --8<-- [start:schedules]
    # A delay function gets (attempt, exception, job); these two ignore all but the attempt.
    ctx = JobContext(id="x", job_type="t", queue="default", attempt=1, max_retry=5)
    error = RuntimeError("boom")

    # The default: 5 s, 10 s, 20 s, ... at most an hour, each spread by +/- 25 %.
    default = exponential_backoff()
    assert 3.75 <= default(1, error, ctx) <= 6.25

    no_jitter = exponential_backoff(base=5, factor=2, cap=3600, jitter=0)
    assert [no_jitter(n, error, ctx) for n in (1, 2, 3, 4, 11, 12)] == [5, 10, 20, 40, 3600, 3600]

    # 30 s before the first retry, then 1 min, 5 min, and 10 min for every retry after that.
    schedule = fixed_schedule(30, 60, 300, timedelta(minutes=10))
    assert [schedule(n, error, ctx) for n in (1, 2, 3, 4, 5, 6)] == [30, 60, 300, 600, 600, 600]
    # --8<-- [end:schedules]


# --8<-- [start:custom]
class RateLimitedError(Exception):
    """The remote API said "slow down" and told us for how long."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = retry_after


def retry_delay(attempt: int, exc: BaseException, job: JobContext) -> float:
    """`attempt` is the attempt that just failed: 1 for the first run."""
    if isinstance(exc, RateLimitedError):
        return exc.retry_after
    return min(600.0, 10.0 * 2.0 ** (attempt - 1))


# --8<-- [end:custom]

jobs = JobRegistry()
calls: dict[str, int] = {"sync": 0}


# --8<-- [start:jobs]
@jobs.job("crm:sync", max_retry=3, retry_delay=retry_delay)
async def sync_contact(payload: dict[str, int]) -> None:
    calls["sync"] += 1
    if calls["sync"] <= 2:  # the first two attempts hit the rate limit
        raise RateLimitedError(retry_after=0.2)


@jobs.job("user:import", max_retry=10)
async def import_user(payload: dict[str, str]) -> None:
    if "@" not in payload["email"]:
        raise PermanentError(f"not an email address: {payload['email']!r}")


@jobs.job("feed:poll", retry_delay=fixed_schedule(0.1))
async def poll_feed(payload: dict[str, str]) -> None:
    raise ConnectionError(f"cannot reach {payload['url']}")


# --8<-- [end:jobs]


async def main(settings: QueueSettings) -> None:
    schedules()
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        await queue.enqueue("crm:sync", {"contact_id": 7})
        bad = await queue.enqueue("user:import", {"email": "nobody"})
        # --8<-- [start:per-enqueue]
        # Per enqueue: one retry only, whatever the job type says.
        feed = await queue.enqueue_with_options(
            "feed:poll", {"url": "https://feeds.test/a"}, EnqueueOptions(max_retry=1)
        )
        # --8<-- [end:per-enqueue]
        inspector = Inspector(broker)
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            for _ in range(200):
                (stats,) = [s for s in await inspector.stats() if s.queue == "default"]
                if stats.processed_total == 1 and stats.dead == 2:
                    break
                await asyncio.sleep(0.02)
        print(stats)
        assert calls["sync"] == 3  # two rate-limited attempts, then success

        # --8<-- [start:inspect]
        record = await inspector.job(feed.id, "default")  # or: jobqueue job <id>
        assert record is not None
        assert record.state == "dead"
        assert record.retried == 1  # the first run and one retry
        print(record.error)  # retries exhausted after 2 attempts: ConnectionError: cannot reach ...
        print(record.traceback)
        # --8<-- [end:inspect]
        record = await inspector.job(bad.id, "default")
        assert record is not None
        print(record.error)  # permanent: PermanentError: not an email address: 'nobody'
        assert record.error == "permanent: PermanentError: not an email address: 'nobody'"


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
