"""Hearing that jobs ended: the `done` channels of a broker's queues, for `result()` waiters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from jobqueue._ends import Waiters
from jobqueue._outage import Backoff, OutageLog

__all__ = ["EndListener"]

_READY_WAIT = 2.0
"""Seconds `start()` waits for the subscription; waiters re-check by themselves after that."""


class EndListener:
    """One subscription per producer process, shared by every `result()` that waits.

    A job that keeps its result publishes its id on its queue's `done` channel when it ends
    (completed, dead or cancelled). A lost subscription wakes every waiter, which then looks
    again; so does each waiter every second, in case a message is missed.
    """

    def __init__(
        self,
        pubsub: Callable[..., Any],
        channels: list[str],
        waiters: Waiters,
        outage: OutageLog,
    ) -> None:
        self._pubsub = pubsub
        self._channels = channels
        self._waiters = waiters
        self._outage = outage
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Subscribe (once); wait a little for the subscription to be in place."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="jobqueue-end-listener")
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_READY_WAIT):
                    await self._ready.wait()

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._ready.clear()

    async def _run(self) -> None:
        backoff = Backoff(first=0.1, cap=2.0)
        while True:
            pubsub = self._pubsub()
            try:
                await pubsub.subscribe(*self._channels)
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                self._waiters.everyone()  # ends may have been missed: let waiters look
                self._outage.failed("result notifications", exc)
                await asyncio.sleep(backoff.next())
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    async def _listen(self, pubsub: Any) -> None:
        confirmed = 0
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["type"] == "subscribe":
                confirmed += 1
                if confirmed == len(self._channels):
                    self._ready.set()
                    self._outage.ok()
            elif message["type"] == "message":
                self._waiters.ended(message["data"].decode(errors="replace"))
