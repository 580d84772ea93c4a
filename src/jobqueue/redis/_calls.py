"""One call builder per Lua script: each script's KEYS and ARGV order is written here, once.

The header of every `.lua` file names its KEYS and ARGV; the method of the same name below is the
only Python that lays them out. Drivers, loops and the inspector ask `Calls` for a call and run it
with `Scripts.call` / `Scripts.batch` (or hand it to the acknowledgement batcher).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobqueue._attempt import Delivery, Outcome, OutcomeKind
from jobqueue._resolve import Submission
from jobqueue.redis._keys import QueueKeys
from jobqueue.redis._scripts import Call, Scripts
from jobqueue.settings import QueueSettings

__all__ = ["FORWARD_BATCH", "RECOVER_BATCH", "Calls"]

Completion = tuple[str, str, str, int, bytes]
"""One delivery's fields in `complete`: id, token, unique lock, result retention ms, result."""
FORWARD_BATCH = 500
RECOVER_BATCH = 500


class Calls:
    """Builds the script calls of one broker's queues."""

    def __init__(
        self, scripts: Scripts, keys: Mapping[str, QueueKeys], settings: QueueSettings
    ) -> None:
        self.scripts = scripts
        self.keys = keys
        self.settings = settings
        self._fetch_layouts: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
        s = settings
        self._lease_ms = int(s.lease_timeout * 1000)
        self._dead_bounds = (s.dead_max_jobs, int(s.dead_max_age * 1000))
        self._retention_ms = int(s.completed_retention * 1000)
        # No scan by any worker for this long means nobody could renew a lease (see recover.lua).
        self._scan_gap_ms = int(max(s.lease_timeout, 3 * s.recovery_interval) * 1000)

    # -- producing ----------------------------------------------------------------------------

    def enqueue(self, queue: str, submissions: Sequence[Submission]) -> Call:
        """Store a batch of jobs of one queue (`enqueue.lua`)."""
        k = self.keys[queue]
        args: list[Any] = [k.base, k.notify]
        for sub in submissions:
            args += [
                sub.id,
                sub.job_type,
                sub.tail,
                int(sub.process_at * 1000) if sub.process_at else 0,
                int(sub.delay * 1000) if sub.delay else 0,
                int(sub.unique_ttl * 1000) if sub.unique_ttl else 0,
                k.unique(sub.job_type, sub.unique_digest) if sub.unique_digest else "",
            ]
        return self.scripts.enqueue, [k.pending, k.scheduled, k.jobs], args

    # -- the worker ---------------------------------------------------------------------------

    def fetch(self, order: tuple[str, ...], count: int) -> Call:
        """Lease up to `count` jobs, trying the queues in `order` (`fetch.lua`)."""
        layout = self._fetch_layouts.get(order)
        if layout is None:  # built once per order seen (there are n! orders, most never drawn)
            keys: list[str] = []
            bases: list[str] = []
            for name in order:
                k = self.keys[name]
                keys += [k.pending, k.lease, k.dead, k.paused, k.jobs]
                bases.append(k.base)
            layout = self._fetch_layouts[order] = (keys, bases)
        keys, bases = layout
        return self.scripts.fetch, keys, [count, self._lease_ms, *self._dead_bounds, *bases]

    def complete(self, queue: str, completions: Sequence[Any]) -> Call:
        """Acknowledge successes of one queue, flat `completion()` fields (`complete.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.complete,
            [k.lease, k.completed, k.stats, k.jobs],
            [k.base, self._retention_ms, *completions],
        )

    def completion(self, delivery: Delivery, result: bytes | None = None) -> Completion:
        """A delivery's fields for `complete`: id, token, unique lock, result retention, result."""
        job = delivery.job
        lock = ""
        if job is None or job.legacy:
            lock = "?"  # the script looks it up
        elif job.unique_digest:
            lock = self.keys[delivery.queue].unique(job.job_type, job.unique_digest)
        keep = job.result_ttl_ms if job is not None and result is not None else 0
        return delivery.id, delivery.token, lock, keep, result or b""

    def retry(self, delivery: Delivery, outcome: Outcome) -> Call:
        """Schedule the next attempt after `outcome.delay` (`retry.lua`)."""
        k = self.keys[delivery.queue]
        return (
            self.scripts.retry,
            [k.lease, k.retry, k.stats],
            [
                k.base,
                delivery.id,
                int(outcome.delay * 1000),
                outcome.error,
                outcome.traceback,
                delivery.token,
            ],
        )

    def kill(self, delivery: Delivery, outcome: Outcome) -> Call:
        """Move a job to dead, or end it cancelled (`kill.lua`)."""
        k = self.keys[delivery.queue]
        keeps = delivery.job is not None and delivery.job.result_ttl_ms > 0
        return (
            self.scripts.kill,
            [k.lease, k.dead, k.stats, k.jobs],
            [
                k.base,
                delivery.id,
                outcome.error,
                outcome.traceback,
                *self._dead_bounds,
                1 if outcome.counts_as_failure else 0,
                delivery.token,
                "cancelled" if outcome.kind is OutcomeKind.CANCELLED else "dead",
                1 if keeps else 0,
            ],
        )

    def requeue(self, queue: str, pairs: Sequence[str]) -> Call:
        """Put held jobs back to the front of pending: flat (id, token) pairs (`requeue.lua`)."""
        k = self.keys[queue]
        return self.scripts.requeue, [k.lease, k.pending], [k.base, k.notify, *pairs]

    def extend(self, queue: str, pairs: Sequence[str]) -> Call:
        """Renew the leases of held jobs: flat (id, token) pairs (`extend.lua`)."""
        k = self.keys[queue]
        return self.scripts.extend, [k.lease], [self._lease_ms, k.base, *pairs]

    def forward(self, queue: str) -> Call:
        """Move due scheduled and retry jobs to pending (`forward.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.forward,
            [k.scheduled, k.retry, k.pending],
            [FORWARD_BATCH, k.notify],
        )

    def recover(self, queue: str) -> Call:
        """Return jobs with expired leases to pending, and trim completed jobs (`recover.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.recover,
            [k.lease, k.pending, k.dead, k.stats, k.completed, k.jobs],
            [
                k.base,
                self.settings.max_deliveries,
                *self._dead_bounds,
                RECOVER_BATCH,
                k.notify,
                self._lease_ms,
                self._scan_gap_ms,
            ],
        )

    # -- the operator -------------------------------------------------------------------------

    def delete(self, queue: str, job_id: str) -> Call:
        """Delete a waiting, dead or completed job (`delete.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.delete,
            [k.pending, k.scheduled, k.retry, k.dead, k.completed, k.lease, k.jobs],
            [k.base, job_id],
        )

    def cancel(self, queue: str, job_id: str) -> Call:
        """Cancel a job (`cancel.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.cancel,
            [k.pending, k.scheduled, k.retry, k.lease, k.dead, k.completed, k.jobs, k.stats],
            [k.base, job_id, *self._dead_bounds],
        )

    def status(self, queue: str, job_id: str) -> Call:
        """Where a job is and what it left (`status.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.status,
            [k.jobs, k.lease, k.scheduled, k.retry, k.dead, k.completed],
            [k.base, job_id],
        )

    def progress(self, delivery: Delivery, report: bytes) -> Call:
        """Keep a running job's progress (`progress.lua`); `report` is JSON without its `}`."""
        k = self.keys[delivery.queue]
        return self.scripts.progress, [k.lease], [k.base, delivery.id, delivery.token, report]

    def revive(self, queue: str, job_id: str) -> Call:
        """Run a dead, retrying or scheduled job now (`revive.lua`)."""
        k = self.keys[queue]
        return (
            self.scripts.revive,
            [k.pending, k.dead, k.retry, k.scheduled, k.jobs],
            [k.base, job_id],
        )
