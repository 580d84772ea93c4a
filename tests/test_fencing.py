"""Acks of a superseded delivery (lease expired, job recovered elsewhere) change nothing."""

from __future__ import annotations

import asyncio

from jobqueue import JobQueue, QueueSettings
from jobqueue._attempt import Outcome, OutcomeKind
from jobqueue.redis import RedisJobBroker


async def test_stale_ack_after_recovery_is_ignored(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"lease_timeout": 0.2})
    async with JobQueue(RedisJobBroker(settings)) as queue:
        info = await queue.enqueue("slow:job", {"n": 1})
        first = RedisJobBroker(settings)
        second = RedisJobBroker(settings)
        await first.startup()
        await second.startup()
        try:
            (lost,) = await first.fetch(1)
            await asyncio.sleep(0.3)  # the first worker "hangs" past its lease
            await first.worker_loops().recover_once()
            (current,) = await second.fetch(1)
            assert current.id == lost.id == info.id
            assert current.token != lost.token

            # The first worker wakes up and reports a failure: it must not touch the job.
            stale = first.calls.retry(lost, Outcome(OutcomeKind.RETRY, delay=0, error="late"))
            assert await first.scripts.call(*stale) == 0
            keys = first.keys["default"]
            assert await first.client.zscore(keys.lease, info.id) is not None
            assert await first.client.zcard(keys.retry) == 0
            assert (
                await first.client.hget(keys.job(info.id), "deliveries") == current.token.encode()
            )

            done = second.calls.complete(current.queue, second.calls.completion(current))
            assert await second.scripts.call(*done) == []  # no pair refused
            assert not await first.client.exists(keys.job(info.id))
            assert not await first.client.hexists(keys.jobs, info.id)
            assert await first.client.zcard(keys.lease) == 0
        finally:
            await first.shutdown()
            await second.shutdown()
