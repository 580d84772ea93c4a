"""Redis key names. Every key of a queue carries the queue's hash tag, so it lives in one slot."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["QueueKeys", "queues_set", "schedule_runs", "worker_key", "workers_index"]


def queues_set(prefix: str) -> str:
    """The set of every queue name a producer or worker has used."""
    return f"{prefix}:queues"


def workers_index(prefix: str) -> str:
    """Sorted set of live worker ids (scored by when their record expires, ms)."""
    return f"{prefix}:workers"


def worker_key(prefix: str, worker_id: str) -> str:
    """A worker's record (JSON), expiring one lease timeout after its last renewal."""
    return f"{prefix}:worker:{worker_id}"


def schedule_runs(prefix: str) -> str:
    """Hash of each periodic schedule's last enqueue (`{"at": ms, "job_id": id}`) by its id."""
    return f"{prefix}:schedule-runs"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue, e.g. `jq:{default}:pending`."""

    prefix: str
    queue: str
    base: str = field(init=False, repr=False, compare=False)
    """Common prefix of the queue's keys, hash tag included (built once: keys are per call)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", f"{self.prefix}:{{{self.queue}}}:")

    @property
    def jobs(self) -> str:
        """Hash of every job's record (id: record), written once at enqueue."""
        return self.base + "jobs"

    @property
    def pending(self) -> str:
        """List of ids ready to run; producers push left, workers pop right."""
        return self.base + "pending"

    @property
    def lease(self) -> str:
        """Sorted set of active ids scored by lease expiry (ms)."""
        return self.base + "lease"

    @property
    def scheduled(self) -> str:
        """Sorted set of delayed ids scored by due time (ms)."""
        return self.base + "scheduled"

    @property
    def retry(self) -> str:
        """Sorted set of failed ids waiting for their next attempt, scored by due time (ms)."""
        return self.base + "retry"

    @property
    def dead(self) -> str:
        """Sorted set of ids that failed for good, scored by when (ms)."""
        return self.base + "dead"

    @property
    def completed(self) -> str:
        """Sorted set of completed ids kept for inspection, scored by expiry (ms)."""
        return self.base + "completed"

    @property
    def paused(self) -> str:
        """Exists while the queue is paused: workers do not fetch from it."""
        return self.base + "paused"

    @property
    def stats(self) -> str:
        """Hash of counters: processed, failed, dead, stale (acknowledgements refused)."""
        return self.base + "stats"

    @property
    def scanned_at(self) -> str:
        """When a worker last scanned the queue for expired leases (ms, Redis time)."""
        return self.base + "scanned_at"

    def history(self, day: int) -> str:
        """Hash of one day's processed, failed and dead counts (days since the epoch, UTC)."""
        return f"{self.base}history:{day}"

    @property
    def groups(self) -> str:
        """Sorted set of the queue's error groups, scored by when each was last seen (ms)."""
        return self.base + "groups"

    def group(self, group_id: str) -> str:
        """An error group's hash (type, message, example, first, last, seen); + `:jobs`: its ids."""
        return f"{self.base}group:{group_id}"

    @property
    def notify(self) -> str:
        """Pub/sub channel that wakes idle workers when the queue gets work after being empty."""
        return self.base + "notify"

    @property
    def cancel(self) -> str:
        """Pub/sub channel that tells workers a running job was cancelled (its id)."""
        return self.base + "cancel"

    @property
    def done(self) -> str:
        """Pub/sub channel on which a job that keeps its result announces its end (its id)."""
        return self.base + "done"

    @property
    def job_prefix(self) -> str:
        """Prefix of attempt hashes; the id follows."""
        return self.base + "job:"

    def job(self, job_id: str) -> str:
        """The attempt hash of one job: deliveries, retried, lost, last error, timestamps.

        It exists from the job's first delivery on (jobs stored by jobqueue 0.1 keep their
        record in it too, as `msg`).
        """
        return self.job_prefix + job_id

    @property
    def unique_prefix(self) -> str:
        """Prefix of uniqueness locks; `<job type>:<payload digest>` follows."""
        return self.base + "unique:"

    def unique(self, job_type: str, digest: str) -> str:
        """The uniqueness lock of a job type and payload digest; its value is the holder's id."""
        return f"{self.unique_prefix}{job_type}:{digest}"
