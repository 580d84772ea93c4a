"""`RedisJobBroker`: jobqueue's life cycle in Redis, one atomic Lua script per state change.

Run a worker with `taskiq worker module:factory`, where the factory returns this broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson
from redis.asyncio import Redis

from jobqueue._attempt import Delivery, Outcome, OutcomeKind
from jobqueue._log import redis_logger as logger
from jobqueue._order import queue_order
from jobqueue._resolve import Submission
from jobqueue._status import JobStatus
from jobqueue._worker_metrics import WorkerMetricsServer, serve_worker_metrics
from jobqueue.broker import JobBroker
from jobqueue.errors import (
    DuplicateJobError,
    JobQueueError,
    QueueUnavailableError,
    UnknownQueueError,
)
from jobqueue.jobs import JobRegistry
from jobqueue.options import CancelResult, JobInfo, JobState
from jobqueue.redis._acks import AckBatcher
from jobqueue.redis._calls import Calls
from jobqueue.redis._clients import open_connections, register_queues, when_ready
from jobqueue.redis._connection import PipelinedConnection
from jobqueue.redis._end_listener import EndListener
from jobqueue.redis._errors import is_transient
from jobqueue.redis._keys import QueueKeys
from jobqueue.redis._loops import WorkerLoops
from jobqueue.redis._scripts import Call, NotDurableError, Scripts
from jobqueue.redis._workers import WorkerPresence
from jobqueue.settings import QueueSettings

__all__ = ["RedisJobBroker"]

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
        self._connection: PipelinedConnection | None = None
        self._calls: Calls | None = None
        self._acks: AckBatcher | None = None
        self._loops: WorkerLoops | None = None
        self._ends: EndListener | None = None
        self._cluster = False
        self._direct_calls = 0
        self._metrics: WorkerMetricsServer | None = None
        self.keys = {
            name: QueueKeys(self.settings.key_prefix, name) for name in self.settings.queues
        }

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def client(self) -> Redis:
        """The redis-py client; available after `startup()`."""
        if self._client is None:
            raise RuntimeError("the broker is not started: call `await broker.startup()` first")
        return self._client

    @property
    def connected(self) -> bool:
        """Whether `startup()` has connected the broker (and `shutdown()` not yet closed it)."""
        return self._calls is not None

    @property
    def calls(self) -> Calls:
        """The script calls of this broker's queues; available after `startup()`."""
        if self._calls is None:
            raise RuntimeError("the broker is not started: call `await broker.startup()` first")
        return self._calls

    @property
    def scripts(self) -> Scripts:
        """The Lua scripts, on this broker's pipelined connection (or client)."""
        return self.calls.scripts

    @property
    def acks(self) -> AckBatcher:
        """Batches acknowledgements of jobs that finish together into one round trip."""
        if self._acks is None:
            self._acks = AckBatcher(
                self.scripts, self.calls.complete, self.outage, linger=_ACK_LINGER
            )
        return self._acks

    async def startup(self) -> None:
        """Connect, record the queue names, and in a worker start the background loops."""
        await super().startup()
        if self.is_worker_process:
            self._loops = self.worker_loops()
            self._loops.start()
            if self.settings.metrics_port is not None:
                self._metrics = serve_worker_metrics(self, self.settings.metrics_port)

    async def _open(self) -> None:
        connections = open_connections(self.settings, self._client)
        if self._client is None:
            self._owns_client = True
        self._client = connections.client
        self._cluster = connections.cluster
        self._connection = connections.pipelined
        scripts = Scripts(self.client, self._connection, cluster=self._cluster)
        self._calls = Calls(scripts, self.keys, self.settings)
        self._acks = None
        register = partial(
            register_queues, self.client, scripts, self.settings.key_prefix, self.settings.queues
        )
        await when_ready(register, wait=self.is_worker_process, outage=self.outage)

    def worker_loops(self) -> WorkerLoops:
        """The background loops of a worker on this broker (started by `startup()` in workers)."""
        return WorkerLoops(
            self.calls,
            self.attempts,
            self.outage,
            wake=self.wake,
            cancel=self.cancel_requested,
            pubsub=self.client.pubsub,
            presence=WorkerPresence(
                self.client, self.settings, self.attempts, self.scripts.connection
            ),
        )

    async def shutdown(self) -> None:
        """Stop the loops, deliver pending acknowledgements, put held jobs back, disconnect."""
        try:
            self.attempts.end_drain()
            if self._ends is not None:
                await self._ends.stop()
                self._ends = None
            if self._loops is not None:
                await self._loops.stop()
                self._loops = None
            if self._acks is not None:
                given_up = await self._acks.flush(self.settings.shutdown_timeout)
                if given_up:
                    logger.error(
                        "%d acknowledgements could not reach Redis before shutdown; their jobs "
                        "run again once their leases expire",
                        given_up,
                    )
            if self._client is not None:
                await self.put_back_held()
            await super().shutdown()
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
        finally:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None
            if self._calls is not None:
                await self._calls.scripts.close()
            self._calls = None
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
            for start in range(0, len(indexes), _ENQUEUE_CHUNK):
                chunk = indexes[start : start + _ENQUEUE_CHUNK]
                calls.append(self.calls.enqueue(queue, [submissions[i] for i in chunk]))
                order.append(chunk)
        try:
            replies = await self._send(calls)
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        except NotDurableError as exc:
            raise QueueUnavailableError(
                str(exc), job_ids=tuple(sub.id for sub in submissions)
            ) from None
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise QueueUnavailableError(
                f"Redis unavailable ({type(exc).__name__}: {exc}); the jobs may or may not be "
                "stored, and retrying with the same job ids is safe",
                job_ids=tuple(sub.id for sub in submissions),
            ) from exc
        results: list[JobInfo | JobQueueError | None] = [None] * len(submissions)
        for chunk, call_reply in zip(order, replies, strict=True):
            enqueued_at = int(call_reply[0]) / 1000
            for index, reply in zip(chunk, call_reply[1:], strict=True):
                results[index] = _result(submissions[index], reply, enqueued_at)
        return [r for r in results if r is not None]

    async def _send(self, calls: list[Call]) -> list[Any]:
        scripts = self.scripts
        s = self.settings
        if s.durable_replicas:
            return [
                await scripts.call_durably(call, s.durable_replicas, s.durable_timeout)
                for call in calls
            ]
        if len(calls) > 1:
            return await scripts.batch(calls)
        if self._direct_calls and self._connection is None:
            # Concurrent single enqueues (a web app's requests) share round trips: while one is
            # in flight, the others ride pipelines together (the pipelined connection does this
            # by itself).
            return [await self.acks.submit(calls[0], urgent=True)]
        self._direct_calls += 1
        try:
            return [await scripts.call(*calls[0])]
        finally:
            self._direct_calls -= 1

    # -- job control ------------------------------------------------------------------------

    async def cancel(self, job_id: str, queue: str | None = None) -> CancelResult:
        """Cancel a job in `queue`, or in whichever configured queue holds it."""
        replies = await self._each_queue(self.calls.cancel, job_id, queue)
        found = [CancelResult(r.decode()) for r in replies]
        return next((r for r in found if r is not CancelResult.NOT_FOUND), CancelResult.NOT_FOUND)

    async def status(self, job_id: str, queue: str | None = None) -> JobStatus | None:
        """A job's state and what it left, from `queue` or whichever queue holds it."""
        for reply in await self._each_queue(self.calls.status, job_id, queue):
            if reply[0]:
                return JobStatus.parse(reply[0].decode(), *reply[1:])
        return None

    async def _each_queue(
        self, build: Callable[[str, str], Call], job_id: str, queue: str | None
    ) -> list[Any]:
        names = [queue] if queue is not None else list(self.keys)
        for name in names:
            if name not in self.keys:
                raise UnknownQueueError(name, tuple(self.keys))
        replies = await self.scripts.batch([build(name, job_id) for name in names])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def report_progress(self, delivery: Delivery, fraction: float, message: str) -> None:
        """Keep a running job's progress in its attempt hash (while its delivery holds it)."""
        report = b'{"f":%r,"m":%b' % (fraction, orjson.dumps(message))
        await self.scripts.call(*self.calls.progress(delivery, report))

    async def _watch_ends(self) -> None:
        if self._ends is None:
            channels = [keys.done for keys in self.keys.values()]
            self._ends = EndListener(self.client.pubsub, channels, self.waiters, self.outage)
        await self._ends.start()

    # -- consuming ----------------------------------------------------------------------------

    async def _fetch(self, count: int) -> list[Delivery]:
        """Lease up to `count` jobs from the queues in this fetch's order.

        On one server, one script call fetches from every queue in turn. On a Redis Cluster a
        script may touch one queue's slot only, so the queues are asked one after the other, in
        the same order, until `count` jobs are leased.
        """
        order = queue_order(self.settings)
        if not self._cluster:
            return await self._fetch_from(order, count)
        batch: list[Delivery] = []
        for name in order:
            batch += await self._fetch_from((name,), count - len(batch))
            if len(batch) >= count or any(d.times_lost for d in batch):
                break  # full, or a suspect that must run alone
        return batch

    async def _fetch_from(self, order: tuple[str, ...], count: int) -> list[Delivery]:
        call = self.calls.fetch(order, count)
        if self.acks.idle:  # an idle worker: no task to start for the batcher
            reply = await self.scripts.call(*call)
        else:  # urgent: goes out now, with the acknowledgements waiting (one round trip for both)
            reply = await self.acks.submit(call, urgent=True)
        return [
            Delivery(
                id=reply[i + 1].decode(),
                queue=order[int(reply[i]) - 1],
                raw=reply[i + 2],
                retried=int(reply[i + 3] or 0),
                token=str(reply[i + 4]),
                times_lost=int(reply[i + 5] or 0),
            )
            for i in range(0, len(reply), 6)
        ]

    def _apply(self, delivery: Delivery, outcome: Outcome) -> None:
        """Queue the outcome's script call; the delivery is released once Redis answered.

        The call joins the next acknowledgement pipeline, and is re-sent if Redis cannot be
        reached; until it is answered the job keeps its lease and its place in the heartbeat.
        """
        kind = outcome.kind
        future: asyncio.Future[Any]
        if kind is OutcomeKind.COMPLETE:
            completion = self.calls.completion(delivery, outcome.result)
            future = self.acks.complete(delivery.queue, completion)
        else:
            if kind is OutcomeKind.RETRY:
                call = self.calls.retry(delivery, outcome)
                if outcome.delay <= 0:
                    self.wake()
            elif kind in (OutcomeKind.DEAD, OutcomeKind.CANCELLED):
                call = self.calls.kill(delivery, outcome)
            else:
                call = self.calls.requeue(delivery.queue, delivery.key)
            future = self.acks.submit(call, resend=True)
        future.add_done_callback(partial(self._acked, delivery, kind))

    def _acked(self, delivery: Delivery, kind: OutcomeKind, future: asyncio.Future[Any]) -> None:
        self.attempts.released(delivery)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.error(
                "acknowledging job %s failed; it runs again when its lease expires",
                delivery.id,
                exc_info=error,
            )
        elif not future.result():  # 0 / False: the store refused a stale delivery
            self.stale([delivery], str(kind))

    async def _requeue(self, deliveries: Sequence[Delivery]) -> int:
        """Put held jobs back to the front of pending, not counted as failures."""
        by_queue: dict[str, list[str]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).extend(delivery.key)
        calls = [self.calls.requeue(queue, pairs) for queue, pairs in by_queue.items()]
        replies = await self.scripts.batch(calls)
        return sum(int(r) for r in replies if not isinstance(r, Exception))


def _result(sub: Submission, reply: bytes, enqueued_at: float) -> JobInfo | JobQueueError:
    state = _STATES.get(reply)
    if state is not None:
        return sub.info(state, enqueued_at)
    kind, _, other = reply.decode().partition(" ")
    existing = other if kind == "duplicate" else sub.id
    return DuplicateJobError(sub.job_type, sub.queue, existing)
