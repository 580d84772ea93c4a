"""Background loops every worker runs: heartbeat, forwarding, crash recovery, wake-ups.

Every worker runs all three, so no extra process is needed; the Lua scripts make them safe to run
from many workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobqueue.redis.broker import RedisJobBroker

__all__ = ["WorkerLoops"]

logger = logging.getLogger("jobqueue.redis")

_FORWARD_BATCH = 500
_RECOVER_BATCH = 500
_MAX_FORWARD_WAIT = 0.05


class WorkerLoops:
    """Starts and stops the background loops of one worker process."""

    def __init__(self, broker: RedisJobBroker) -> None:
        self.broker = broker
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the loops on the running event loop."""
        s = self.broker.settings
        self._tasks = [
            self._spawn("heartbeat", self.heartbeat_once, lambda: s.lease_timeout / 3),
            self._spawn("forwarder", self.forward_once, None),
            self._spawn(
                "recoverer",
                self.recover_once,
                lambda: s.recovery_interval * random.uniform(0.9, 1.1),
            ),
            asyncio.create_task(self.notifications(), name="jobqueue-notifier"),
        ]

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

    def _spawn(
        self,
        name: str,
        step: Callable[[], Awaitable[float | None]],
        interval: Callable[[], float] | None,
    ) -> asyncio.Task[None]:
        async def run() -> None:
            while True:
                try:
                    wait = await step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # Redis hiccup: log, back off a little, keep going
                    logger.exception("jobqueue %s failed; retrying", name)
                    wait = 1.0
                await asyncio.sleep(interval() if interval is not None else wait or 0)

        return asyncio.create_task(run(), name=f"jobqueue-{name}")

    async def notifications(self) -> None:
        """Wake the idle listener as soon as an empty queue gets a job (pub/sub).

        Producers publish only when a queue goes from empty to non-empty, so a busy system sends
        almost nothing; polling (`poll_interval`) stays as the fallback if a message is missed.
        """
        broker = self.broker
        channels = [keys.notify for keys in broker.keys.values()]
        while True:
            pubsub = broker.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                while True:
                    if await pubsub.get_message(timeout=1.0) is not None:
                        broker.wake()
            except asyncio.CancelledError:
                raise
            except Exception:  # lost connection: polling covers the gap until we are back
                logger.warning("jobqueue notifications lost; resubscribing", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    async def heartbeat_once(self) -> None:
        """Extend the lease of every job this worker holds."""
        broker = self.broker
        lease_ms = int(broker.settings.lease_timeout * 1000)
        calls = [
            (
                broker.scripts.extend,
                [broker.keys[queue].lease],
                [lease_ms, broker.keys[queue].job_prefix, *pairs],
            )
            for queue, pairs in broker.held().items()
        ]
        if calls:
            await broker.scripts.batch(calls)

    async def forward_once(self) -> float:
        """Move due scheduled and retry jobs to pending; return how long to sleep."""
        broker = self.broker
        replies = await broker.scripts.batch(
            [
                (
                    broker.scripts.forward,
                    [keys.scheduled, keys.retry, keys.pending],
                    [keys.job_prefix, _FORWARD_BATCH, keys.notify],
                )
                for keys in broker.keys.values()
            ]
        )
        moved = sum(int(r[0]) for r in replies)
        if moved:
            broker.wake()
        if any(int(r[0]) >= _FORWARD_BATCH for r in replies):
            return 0.0
        waits = [int(r[1]) / 1000 for r in replies if int(r[1]) >= 0]
        return max(0.001, min([_MAX_FORWARD_WAIT, *waits]))

    async def recover_once(self) -> None:
        """Return jobs whose lease expired to pending (or dead after too many losses)."""
        broker = self.broker
        s = broker.settings
        replies = await broker.scripts.batch(
            [
                (
                    broker.scripts.recover,
                    [keys.lease, keys.pending, keys.dead, keys.stats],
                    [
                        keys.job_prefix,
                        s.max_deliveries,
                        s.dead_max_jobs,
                        int(s.dead_max_age * 1000),
                        _RECOVER_BATCH,
                        keys.notify,
                    ],
                )
                for keys in broker.keys.values()
            ]
        )
        recovered = sum(int(r[0]) for r in replies)
        buried = sum(int(r[1]) for r in replies)
        if recovered or buried:
            logger.warning(
                "Recovered jobs of a stopped worker",
                extra={"recovered": recovered, "moved_to_dead": buried},
            )
            broker.wake()
