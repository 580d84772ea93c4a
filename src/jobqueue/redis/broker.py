"""`RedisJobBroker`: weighted fetch with leases, atomic state changes, crash recovery.

Run a worker with `taskiq worker module:factory`, where the factory returns this broker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from functools import partial
from typing import Any

from redis.asyncio import Redis

from jobqueue.broker import Delivery, JobBroker, Outcome, OutcomeKind, Submission, duplicate_error
from jobqueue.errors import JobQueueError
from jobqueue.jobs import JobRegistry
from jobqueue.options import JobInfo, JobState
from jobqueue.redis.batcher import AckBatcher
from jobqueue.redis.keys import QueueKeys, queues_set
from jobqueue.redis.lane import Lane
from jobqueue.redis.loops import WorkerLoops
from jobqueue.redis.scripts import Call, Scripts
from jobqueue.settings import QueueSettings

__all__ = ["RedisJobBroker"]

logger = logging.getLogger("jobqueue.redis")

_MIN_WAIT = 0.001
_ACK_LINGER = 0.002
_ENQUEUE_CHUNK = 500
_STATES = {state.value.encode(): state for state in JobState}


class RedisJobBroker(JobBroker):
    """A Taskiq broker on Redis with jobqueue's life cycle.

    Args:
        settings: Queue settings; read from the environment when omitted.
        registry: Jobs to register on the broker.
        client: A Redis client to use instead of one built from the settings (not closed here).
    """

    def __init__(
        self,
        settings: QueueSettings | None = None,
        *,
        registry: JobRegistry | None = None,
        client: Redis | None = None,
    ) -> None:
        super().__init__(settings, registry=registry)
        self._client = client
        self._owns_client = client is None
        self._scripts: Scripts | None = None
        self._lane: Lane | None = None
        self._acks: AckBatcher | None = None
        s = self.settings
        self.keys = {name: QueueKeys(s.key_prefix, name) for name in s.queues}
        self._names = s.queue_names
        self._layouts: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._running = 0
        self._acking = 0
        self._direct_calls = 0
        self._loops: WorkerLoops | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def client(self) -> Redis:
        """The Redis client; available after `startup()`."""
        if self._client is None:
            raise RuntimeError("the broker is not started: call `await broker.startup()` first")
        return self._client

    @property
    def scripts(self) -> Scripts:
        """The Lua scripts, on this broker's lane (or client)."""
        if self._scripts is None:
            self._scripts = Scripts(self.client, self._lane)
        return self._scripts

    @property
    def acks(self) -> AckBatcher:
        """Batches acknowledgements of jobs that finish together into one round trip."""
        if self._acks is None:
            self._acks = AckBatcher(self.scripts, self._completion_call, linger=_ACK_LINGER)
        return self._acks

    def _completion_call(self, queue: str, pairs: list[str]) -> Call:
        keys = self.keys[queue]
        retention = int(self.settings.completed_retention * 1000)
        return (
            self.scripts.complete,
            [keys.lease, keys.completed, keys.stats],
            [keys.job_prefix, retention, *pairs],
        )

    async def startup(self) -> None:
        """Connect, record the queue names, and in a worker start the background loops."""
        # Fresh events: a broker may be started again on another event loop (tests do).
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        if self._client is None:
            self._client = Redis.from_url(self.settings.redis_url(), health_check_interval=30)
            self._owns_client = True
        self._lane = Lane.for_client(self.client)
        self._scripts = None
        await self.client.sadd(queues_set(self.settings.key_prefix), *self._names)
        await self.scripts.load()
        await super().startup()
        if self.is_worker_process:
            self._loops = WorkerLoops(self)
            self._loops.start()

    async def shutdown(self) -> None:
        """Stop the loops, put back jobs this worker still holds, and disconnect."""
        try:
            self.end_drain()
            if self._loops is not None:
                await self._loops.stop()
                self._loops = None
            if self._acks is not None:
                await self._acks.flush()
            if self.deliveries and self._client is not None:
                await self.requeue(list(self.deliveries.values()))
            await super().shutdown()
        finally:
            if self._lane is not None:
                await self._lane.close()
                self._lane = None
            self._scripts = None
            self._acks = None
            if self._owns_client and self._client is not None:
                await self._client.aclose()
                self._client = None

    # -- producing ----------------------------------------------------------------------------

    async def submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        """Store jobs with one round trip; per job, its info or why it was refused.

        Jobs of one queue go in one script call (up to `_ENQUEUE_CHUNK` each), so a batch costs
        Redis one command per queue rather than one per job.
        """
        if not submissions:
            return []
        by_queue: dict[str, list[int]] = {}
        for index, sub in enumerate(submissions):
            by_queue.setdefault(sub.queue, []).append(index)
        calls: list[Call] = []
        order: list[list[int]] = []
        for queue, indexes in by_queue.items():
            keys = self.keys[queue]
            for start in range(0, len(indexes), _ENQUEUE_CHUNK):
                chunk = indexes[start : start + _ENQUEUE_CHUNK]
                args: list[Any] = [keys.job_prefix, keys.notify]
                for index in chunk:
                    sub = submissions[index]
                    args += [
                        sub.id,
                        sub.message,
                        sub.job_type,
                        int(sub.process_at * 1000) if sub.process_at else 0,
                        int(sub.unique_ttl * 1000) if sub.unique_ttl else 0,
                        keys.unique(sub.job_type, sub.unique_digest) if sub.unique_digest else "",
                        "" if sub.max_retry is None else sub.max_retry,
                        "" if sub.timeout is None else sub.timeout,
                        int(sub.delay * 1000) if sub.delay else 0,
                    ]
                calls.append((self.scripts.enqueue, [keys.pending, keys.scheduled], args))
                order.append(chunk)
        if len(calls) == 1 and self._direct_calls and self._lane is None:
            # Concurrent single enqueues (a web app's requests) share round trips: while one is
            # in flight, the others ride pipelines together (a lane pipelines them by itself).
            replies = [await self.acks.submit(calls[0], urgent=True)]
        elif len(calls) == 1:
            self._direct_calls += 1
            try:
                replies = [await self.scripts.call(*calls[0])]
            finally:
                self._direct_calls -= 1
        else:
            replies = await self.scripts.batch(calls)
        results: list[JobInfo | JobQueueError | None] = [None] * len(submissions)
        for chunk, call_reply in zip(order, replies, strict=True):
            if isinstance(call_reply, Exception):
                raise call_reply
            enqueued_at = int(call_reply[0]) / 1000
            for index, reply in zip(chunk, call_reply[1:], strict=True):
                sub = submissions[index]
                state = _STATES.get(reply)
                if state is not None:
                    results[index] = sub.info(state, enqueued_at)
                else:
                    kind, _, other = reply.decode().partition(" ")
                    results[index] = duplicate_error(kind, sub, other)
        return [r for r in results if r is not None]

    # -- consuming ----------------------------------------------------------------------------

    def _fetch_layout(self, order: tuple[str, ...]) -> tuple[list[str], list[str]]:
        keys: list[str] = []
        args: list[str] = []
        for name in order:
            k = self.keys[name]
            keys += [k.pending, k.lease, k.dead, k.paused]
            args += [k.job_prefix, k.stats]
        return keys, args

    async def fetch(self, count: int) -> list[Delivery]:
        """Lease up to `count` jobs from the queues in this fetch's order."""
        order = self.queue_order()
        layout = self._layouts.get(order)
        if layout is None:  # built once per order seen (there are n! orders, most never drawn)
            layout = self._layouts[order] = self._fetch_layout(order)
        keys, tail = layout
        s = self.settings
        args = [count, int(s.lease_timeout * 1000), s.dead_max_jobs, int(s.dead_max_age * 1000)]
        call = (self.scripts.fetch, keys, [*args, *tail])
        if self.acks.idle:  # an idle worker: no task to start for the batcher
            reply = await self.scripts.call(*call)
        else:  # urgent: goes out now, with the acknowledgements waiting (one round trip for both)
            reply = await self.acks.submit(call, urgent=True)
        deliveries = []
        for i in range(0, len(reply), 5):
            queue = order[int(reply[i]) - 1]
            delivery = Delivery(
                id=reply[i + 1].decode(),
                queue=queue,
                message=reply[i + 2],
                retried=int(reply[i + 3] or 0),
                token=str(reply[i + 4]),
            )
            deliveries.append(delivery)
        return deliveries

    async def stream(self) -> AsyncGenerator[Delivery, None]:
        """Yield leased jobs, at most `concurrency` running (handed out, not acknowledged) at once.

        Up to `prefetch` more are leased ahead in a local buffer (heartbeats cover them too), so
        one fetch round trip serves many jobs.
        """
        wait = _MIN_WAIT
        s = self.settings
        buffer: collections.deque[Delivery] = collections.deque()
        try:
            while True:
                if self._running >= s.concurrency:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                if not buffer:
                    room = s.concurrency + s.prefetch - (len(self.deliveries) - self._acking)
                    # Cleared before the fetch, not after: a job that arrives while the fetch is
                    # in flight (too late for it) then ends the idle wait below at once.
                    self._wakeup.clear()
                    batch = await self._fetch_shielded(max(room, 1))
                    if not batch:
                        await self._idle(wait)
                        wait = min(wait * 2, s.poll_interval)
                        continue
                    wait = _MIN_WAIT
                    buffer.extend(batch)
                delivery = buffer.popleft()
                self._running += 1
                yield delivery
        finally:
            self.begin_drain()

    async def _fetch_shielded(self, count: int) -> list[Delivery]:
        # The script may have leased jobs by the time a shutdown cancels us: record them anyway,
        # so shutdown puts them back at once instead of after the lease expires.
        task = asyncio.ensure_future(self.fetch(count))
        try:
            batch = await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                for delivery in await task:
                    self.deliveries[delivery.id] = delivery
            raise
        for delivery in batch:
            self.deliveries[delivery.id] = delivery
        return batch

    async def _idle(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for starts a task for every wait.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    def wake(self) -> None:
        """Make an idle listener fetch now (jobs were forwarded or recovered)."""
        self._wakeup.set()

    def acknowledge(self, delivery: Delivery) -> None:
        """Apply the attempt's outcome without waiting for Redis.

        The call joins the next acknowledgement pipeline; the job keeps its lease (and its place
        in the heartbeat) until Redis has answered, so a crash before that only means the job is
        recovered and run again, never lost. Shutdown flushes the pipeline first.
        """
        self._running -= 1
        self._acking += 1
        self._slot_freed.set()
        try:
            outcome = self.decide(delivery)
            if outcome.kind is OutcomeKind.COMPLETE:
                future = self.acks.complete(delivery.queue, delivery.id, delivery.token)
            else:
                future = self.acks.submit(self.outcome_call(delivery, outcome))
        except Exception:  # never raise from an ack: log, and let the lease expire
            logger.exception("could not acknowledge job %s", delivery.id)
            self._acking -= 1
            return
        future.add_done_callback(partial(self._acked, delivery))

    def _acked(self, delivery: Delivery, future: asyncio.Future[Any]) -> None:
        self._acking -= 1
        self.deliveries.pop(delivery.id, None)
        if not future.cancelled() and future.exception() is not None:
            logger.error(
                "acknowledging job %s failed; it will be recovered when its lease expires",
                delivery.id,
                exc_info=future.exception(),
            )

    def outcome_call(self, delivery: Delivery, outcome: Outcome) -> Call:
        """The script call that carries out the outcome of an attempt in one atomic step."""
        keys = self.keys[delivery.queue]
        s = self.settings
        if outcome.kind is OutcomeKind.COMPLETE:
            return self._completion_call(delivery.queue, [delivery.id, delivery.token])
        if outcome.kind is OutcomeKind.RETRY:
            if outcome.delay <= 0:
                self.wake()
            return (
                self.scripts.retry,
                [keys.job(delivery.id), keys.lease, keys.retry, keys.stats],
                [
                    delivery.id,
                    int(outcome.delay * 1000),
                    outcome.error,
                    outcome.traceback,
                    delivery.token,
                ],
            )
        if outcome.kind is OutcomeKind.DEAD:
            logger.warning(
                "Job moved to dead id=%s queue=%s: %s",
                delivery.id,
                delivery.queue,
                outcome.error,
                extra={"job_id": delivery.id, "queue": delivery.queue, "error": outcome.error},
            )
            return (
                self.scripts.kill,
                [keys.lease, keys.dead, keys.stats],
                [
                    delivery.id,
                    outcome.error,
                    outcome.traceback,
                    keys.job_prefix,
                    s.dead_max_jobs,
                    int(s.dead_max_age * 1000),
                    1 if outcome.counts_as_failure else 0,
                    delivery.token,
                ],
            )
        return (
            self.scripts.requeue,
            [keys.lease, keys.pending],
            [keys.job_prefix, keys.notify, delivery.id, delivery.token],
        )

    async def requeue(self, deliveries: Sequence[Delivery]) -> int:
        """Put held jobs back to the front of pending, not counted as failures."""
        moved = 0
        by_queue: dict[str, list[str]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).extend((delivery.id, delivery.token))
        calls = [
            (
                self.scripts.requeue,
                [self.keys[q].lease, self.keys[q].pending],
                [self.keys[q].job_prefix, self.keys[q].notify, *pairs],
            )
            for q, pairs in by_queue.items()
        ]
        if calls:
            moved = sum(int(r) for r in await self.scripts.batch(calls))
        for delivery in deliveries:
            self.deliveries.pop(delivery.id, None)
        if moved:
            logger.info("Returned %d unfinished jobs to pending", moved)
        return moved

    def held(self) -> dict[str, list[str]]:
        """Id and delivery token of each job this worker holds, flat, by queue (for heartbeats)."""
        by_queue: dict[str, list[str]] = {}
        for delivery in self.deliveries.values():
            by_queue.setdefault(delivery.queue, []).extend((delivery.id, delivery.token))
        return by_queue
