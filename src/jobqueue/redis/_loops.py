"""Background loops every worker runs: heartbeat, forwarding, crash recovery, wake-ups.

Every worker runs all four, so no extra process is needed; the Lua scripts make them safe to run
from many workers at once. Each loop rides out Redis outages with backoff (logged once, through
the broker's `OutageLog`) and never ends because of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

from jobqueue._held import Attempts
from jobqueue._log import redis_logger as logger
from jobqueue._outage import Backoff, OutageLog
from jobqueue.redis._calls import FORWARD_BATCH, Calls
from jobqueue.redis._workers import WorkerPresence

__all__ = ["WorkerLoops"]

_MAX_FORWARD_WAIT = 0.05


class WorkerLoops:
    """Starts and stops the background loops of one worker process.

    Args:
        calls: The script calls of the worker's queues.
        attempts: The deliveries the worker holds (for heartbeats).
        outage: Where the loops report failures to reach Redis.
        wake: Makes the idle fetcher look again (jobs were forwarded or recovered).
        cancel: Stops the held deliveries of a job whose cancellation was asked for.
        pubsub: Makes a redis-py `PubSub` for the wake-up notifications.
        presence: The worker's record in Redis, renewed next to the heartbeat (live workers).
    """

    def __init__(
        self,
        calls: Calls,
        attempts: Attempts,
        outage: OutageLog,
        *,
        wake: Callable[[], None],
        cancel: Callable[[str], None],
        pubsub: Callable[..., Any],
        presence: WorkerPresence | None = None,
    ) -> None:
        self.calls = calls
        self.attempts = attempts
        self.outage = outage
        self.wake = wake
        self.cancel = cancel
        self._pubsub = pubsub
        self.presence = presence
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the loops on the running event loop."""
        s = self.calls.settings
        self._tasks = [
            self._spawn("heartbeat", self.heartbeat_once, lambda: s.lease_timeout / 3),
            self._spawn("forwarding", self.forward_once, None),
            self._spawn(
                "recovery",
                self.recover_once,
                lambda: s.recovery_interval * random.uniform(0.9, 1.1),
            ),
            asyncio.create_task(self.notifications(), name="jobqueue-notifications"),
        ]
        if (presence := self.presence) is not None:
            self._tasks.append(self._spawn("presence", presence.renew, lambda: presence.interval))

    async def stop(self) -> None:
        """Cancel the loops and wait for them.

        A cancellation can be lost: on Python 3.11, `asyncio.wait_for` (which redis-py uses to
        send every command) drops one that arrives just as the command completes, and the loop
        carries on. So cancel again until every loop has ended, rather than wait forever.
        """
        while pending := [task for task in self._tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.05)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.presence is not None:
            await self.presence.remove()

    def _spawn(
        self,
        name: str,
        step: Callable[[], Awaitable[float | None]],
        interval: Callable[[], float] | None,
    ) -> asyncio.Task[None]:
        backoff = Backoff(first=0.1, cap=2.0)

        async def run() -> None:
            while True:
                try:
                    wait = await step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis is away (or a bug): report, back off, go on
                    self.outage.failed(name, exc)
                    wait = backoff.next()
                    if interval is not None:
                        wait = min(wait, interval())
                    await asyncio.sleep(wait)
                    continue
                self.outage.ok()
                backoff.reset()
                await asyncio.sleep(interval() if interval is not None else wait or 0)

        return asyncio.create_task(run(), name=f"jobqueue-{name}")

    async def notifications(self) -> None:
        """Wake the idle fetcher when a queue gets work, stop a job at once when it is cancelled.

        Both come by pub/sub. Producers publish only when a queue goes from empty to non-empty,
        so a busy system sends almost nothing; polling (`poll_interval`) stays as the fallback if
        a message is missed, and so does the heartbeat for cancellations.
        """
        queues = self.calls.keys.values()
        cancels = {keys.cancel.encode() for keys in queues}
        channels = [keys.notify for keys in queues] + [keys.cancel for keys in queues]
        backoff = Backoff(first=0.1, cap=2.0)
        while True:
            pubsub = self._pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                backoff.reset()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["channel"] in cancels:
                        self.cancel(message["data"].decode(errors="replace"))
                    else:
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # lost connection: polling covers the gap until we are back
                self.outage.failed("notifications", exc)
                await asyncio.sleep(backoff.next())
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    async def heartbeat_once(self) -> None:
        """Extend the lease of every job this worker holds; mark the ones Redis refused lost."""
        held = self.attempts.leases()
        if not held:
            return
        queues = list(held)
        replies = await self.calls.scripts.batch(
            [self.calls.extend(queue, held[queue]) for queue in queues]
        )
        for queue, reply in zip(queues, replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            refused_at, cancel_at = reply
            pairs = held[queue]
            for position in map(int, cancel_at):  # the cancel message may have been missed
                self.cancel(pairs[2 * position - 2])
            if refused_at:
                refused = [(pairs[2 * p - 2], pairs[2 * p - 1]) for p in map(int, refused_at)]
                for delivery in self.attempts.lose(refused):
                    logger.warning(
                        "Lease of job %s lost (its lease expired and it was recovered); this "
                        "attempt's outcome will be dropped",
                        delivery.id,
                        extra={"job_id": delivery.id, "queue": delivery.queue},
                    )

    async def forward_once(self) -> float:
        """Move due scheduled and retry jobs to pending; return how long to sleep."""
        calls = self.calls
        replies = await calls.scripts.batch([calls.forward(queue) for queue in calls.keys])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        if sum(int(r[0]) for r in replies):
            self.wake()
        if any(int(r[0]) >= FORWARD_BATCH for r in replies):
            return 0.0
        waits = [int(r[1]) / 1000 for r in replies if int(r[1]) >= 0]
        return max(0.001, min([_MAX_FORWARD_WAIT, *waits]))

    async def recover_once(self) -> None:
        """Return jobs whose lease expired to pending (or dead after too many losses)."""
        calls = self.calls
        replies = await calls.scripts.batch([calls.recover(queue) for queue in calls.keys])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        recovered = sum(int(r[0]) for r in replies)
        buried = sum(int(r[1]) for r in replies)
        extended = sum(int(r[3]) for r in replies)
        if extended:
            logger.warning(
                "No recovery scan ran for a while (Redis or every worker was away): %d expired "
                "leases get one more lease time for their workers to renew them",
                extended,
                extra={"leases_extended": extended},
            )
        if recovered or buried:
            logger.warning(
                "Recovered %d jobs whose lease expired (%d moved to dead)",
                recovered,
                buried,
                extra={"recovered": recovered, "moved_to_dead": buried},
            )
            self.wake()
