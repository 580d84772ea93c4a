"""`Attempts`: the deliveries a worker holds, and the one owner that changes them.

A driver hands fetched deliveries to `hold`; the receiver (or, on Taskiq's own receiver, the
lifecycle middleware) reports `started` and `failed`; the driver's acknowledgement calls
`finished` and, once the store confirmed it, `released`. Heartbeats read `leases()`, and a
refused heartbeat marks a delivery `lost`. Nothing else writes a `Delivery`.

It also runs the graceful-shutdown clock: once fetching stopped, running attempts get
`shutdown_timeout`, then they are cancelled and their jobs go back to pending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from typing import Any

from taskiq import TaskiqMessage

from jobqueue._attempt import Delivery
from jobqueue._running import ProgressReporter, enter

__all__ = ["Attempts"]

Key = tuple[str, str]


class Attempts:
    """Every delivery this worker holds, by `(job id, token)`."""

    def __init__(self, report: ProgressReporter | None = None) -> None:
        self._report = report
        self._held: dict[Key, Delivery] = {}
        self._running: set[Key] = set()
        self._acking: set[Key] = set()
        self._slot_freed = asyncio.Event()
        self.drain_expired = False
        self._drain_timer: asyncio.Handle | None = None

    def reset(self) -> None:
        """Start afresh on the running event loop (a broker may be started again)."""
        self._slot_freed = asyncio.Event()
        self.drain_expired = False

    # -- what is held -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self) -> Iterator[Delivery]:
        return iter(list(self._held.values()))

    def unacknowledged(self) -> list[Delivery]:
        """Held deliveries without an acknowledgement on its way (what shutdown puts back)."""
        return [d for key, d in self._held.items() if key not in self._acking]

    @property
    def running(self) -> int:
        """Deliveries handed out to run and not yet acknowledged."""
        return len(self._running)

    def room(self, limit: int) -> int:
        """How many more deliveries may be fetched to keep at most `limit` unacknowledged."""
        return limit - (len(self._held) - len(self._acking))

    def find(self, job_id: str, token: str) -> Delivery | None:
        """The delivery `(job_id, token)`, if held."""
        return self._held.get((job_id, token))

    def leases(self) -> dict[str, list[str]]:
        """Id and token of every delivery whose lease is still ours, flat, by queue."""
        by_queue: dict[str, list[str]] = {}
        for delivery in self._held.values():
            if not delivery.lost:
                by_queue.setdefault(delivery.queue, []).extend(delivery.key)
        return by_queue

    # -- changes ------------------------------------------------------------------------------

    def hold(self, deliveries: Iterable[Delivery]) -> None:
        """Deliveries just fetched (leased in the store)."""
        for delivery in deliveries:
            self._held[delivery.key] = delivery

    def handed_out(self, delivery: Delivery) -> None:
        """A delivery goes to the receiver to run."""
        self._running.add(delivery.key)

    async def wait_for_slot(self, concurrency: int) -> None:
        """Wait while `concurrency` deliveries are running."""
        while len(self._running) >= concurrency:
            self._slot_freed.clear()
            await self._slot_freed.wait()

    def started(self, delivery: Delivery, message: TaskiqMessage) -> None:
        """Its attempt begins in the current task; after the drain's grace it stops at once.

        So does one whose job was cancelled meanwhile. The task's `current_job()` is this one.
        """
        delivery.message = message
        delivery.started_at = time.monotonic()
        delivery.task = asyncio.current_task()
        if self._report is not None:
            enter(delivery, self._report)
        if delivery.task is None:
            return
        if delivery.cancel_requested:
            delivery.task.cancel()
        elif self.drain_expired:
            delivery.stopped_for_shutdown = True
            delivery.task.cancel()

    def failed(self, delivery: Delivery, exc: BaseException) -> None:
        """Its attempt raised; the acknowledgement decides between retry and dead."""
        delivery.error = exc

    def succeeded(self, delivery: Delivery, returned: Any) -> None:
        """Its attempt returned; a job that keeps its result stores this."""
        delivery.returned = returned

    def cancel(self, job_id: str) -> list[Delivery]:
        """`cancel()` asked for the job to stop: mark its deliveries, stop what runs of them."""
        found = [d for key, d in self._held.items() if key[0] == job_id and not d.cancel_requested]
        for delivery in found:
            delivery.cancel_requested = True
            task = delivery.task
            if task is not None and not task.done() and delivery.error is None:
                task.cancel()
        return found

    def lose(self, pairs: Iterable[Key]) -> list[Delivery]:
        """The store refused these leases: the job is no longer this delivery's."""
        lost = []
        for key in pairs:
            delivery = self._held.get(key)
            if delivery is not None and not delivery.lost:
                delivery.lost = True
                lost.append(delivery)
        return lost

    def finished(self, delivery: Delivery) -> None:
        """It is acknowledged: its slot is free; it stays held until the store confirms."""
        self._running.discard(delivery.key)
        self._acking.add(delivery.key)
        self._slot_freed.set()

    def released(self, delivery: Delivery) -> None:
        """The store applied its outcome (or refused it as stale): forget it."""
        if self._held.get(delivery.key) is delivery:
            del self._held[delivery.key]
            self._acking.discard(delivery.key)

    def drop(self, deliveries: Iterable[Delivery]) -> None:
        """Forget deliveries that were put back without an acknowledgement (shutdown)."""
        for delivery in deliveries:
            if self._held.pop(delivery.key, None) is not None:
                self._running.discard(delivery.key)

    # -- graceful shutdown --------------------------------------------------------------------

    def begin_drain(self, grace: float) -> None:
        """Fetching stopped: give running attempts `grace` seconds, then stop them.

        A stopped attempt's job goes back to pending without counting a failure; so does one
        that would start after the grace (`started` stops it at once).
        """
        self.drain_expired = False
        self._drain_timer = asyncio.get_running_loop().call_later(grace, self._stop_running)

    def end_drain(self) -> None:
        """Cancel the drain's clock (shutdown is complete)."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _stop_running(self, tries: int = 0) -> None:
        self.drain_expired = True
        running = False
        for delivery in list(self._held.values()):
            task = delivery.task
            if task is not None and not task.done() and delivery.error is None:
                delivery.stopped_for_shutdown = True
                task.cancel()
                running = True
        if running:
            # A cancellation can be lost: Python 3.11's asyncio.wait_for, which redis-py uses for
            # every command, drops one that arrives while the command is being sent, and the job
            # runs on. Cancel again until each attempt has ended (its error is recorded): on the
            # next loop iteration, which gets past that race, then every 0.1 s for a job that
            # ignores cancellation.
            loop = asyncio.get_running_loop()
            if tries < 10:
                self._drain_timer = loop.call_soon(self._stop_running, tries + 1)
            else:
                self._drain_timer = loop.call_later(0.1, self._stop_running, tries + 1)
