"""What the inspector returns: frozen, JSON-friendly dataclasses, and `as_json` to render them.

Field names are part of the public interface: `jobqueue ... --json` prints exactly these (see
docs/operations.md), so a field is added, never renamed.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jobqueue.options import JobRecord, JobState

__all__ = [
    "ActionResult",
    "DayCount",
    "ErrorGroup",
    "JobDetail",
    "JobPage",
    "QueueInfo",
    "RunningJob",
    "ScheduleInfo",
    "ServerInfo",
    "WorkerInfo",
    "as_json",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueInfo:
    """One queue: jobs per state, latency, pause, sampled memory, lifetime and today's counts.

    Attributes:
        queue: The queue's name.
        size: Jobs in the queue, all states together.
        pending: Waiting to run now.
        active: Leased by a worker (running, or prefetched).
        scheduled: Waiting for their due time.
        retry: Failed, waiting for their next attempt.
        dead: Failed for good.
        completed: Completed and kept for `QUEUE_COMPLETED_RETENTION`.
        paused: Whether workers skip the queue.
        latency: Seconds the next pending job has waited (since its enqueue, or its last
            failure); 0 when nothing is pending.
        memory_bytes: Redis memory used by the queue, estimated by sampling; `None` when not
            asked for.
        processed_total: Jobs completed since the queue was first used.
        failed_total: Failed attempts since then.
        dead_total: Jobs moved to dead since then.
        stale_total: Acknowledgements refused as stale since then.
        processed_today: Jobs completed today (UTC, on the Redis server's clock).
        failed_today: Failed attempts today.
        error_groups: Distinct error groups among its retry and dead jobs.
    """

    queue: str
    size: int
    pending: int
    active: int
    scheduled: int
    retry: int
    dead: int
    completed: int
    paused: bool
    latency: float
    memory_bytes: int | None
    processed_total: int
    failed_total: int
    dead_total: int
    stale_total: int
    processed_today: int
    failed_today: int
    error_groups: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DayCount:
    """One day of a queue's history (a UTC day, by the Redis server's clock)."""

    day: date
    processed: int
    failed: int
    dead: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPage:
    """One page of the jobs of a queue in one state.

    Attributes:
        queue: The queue.
        state: The state listed.
        jobs: The jobs of this page, oldest first (newest first when asked).
        total: Jobs in that state now, filtered or not.
        offset: Where this page started.
        next_offset: Pass it as `offset` for the next page; `None` at the end.
    """

    queue: str
    state: JobState
    jobs: tuple[JobRecord, ...]
    total: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDetail:
    """A job with everything stored about it.

    Attributes:
        job: Its record (payload, state, attempts, error, traceback, times).
        attempts: Attempts so far: `retried + 1` once it was delivered, else 0.
        labels: The Taskiq labels stored with it (those jobqueue does not own).
        unique_digest: The digest of its unique lock, for a unique job.
        completed_at: When it completed, for a completed job that is kept.
        error_group: The id of its error group, while it is in retry or dead.
        legacy: Stored in the layout of jobqueue 0.1.
    """

    job: JobRecord
    attempts: int
    labels: dict[str, Any]
    unique_digest: str | None
    completed_at: datetime | None
    error_group: str | None
    legacy: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningJob:
    """A job a worker process is running."""

    id: str
    queue: str
    job_type: str
    started_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """A live worker process, from the record it renews in Redis.

    Attributes:
        id: The worker's id (`<host>:<pid>:<random>`).
        host: Its host name.
        pid: Its process id.
        queues: The queues it serves, with their weights.
        concurrency: Jobs it runs at once at most.
        prefetch: Jobs it leases ahead of running them.
        started_at: When its broker started.
        heartbeat_at: When it last renewed its record.
        expires_at: When its record expires unless renewed (one lease timeout after the renewal).
        running: The jobs it is running.
        held: Jobs it holds: running, prefetched, or being acknowledged.
        version: Its jobqueue version.
    """

    id: str
    host: str
    pid: int
    queues: dict[str, int]
    concurrency: int
    prefetch: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    running: tuple[RunningJob, ...]
    held: int
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    """A cron or interval schedule of `RedisScheduleSource`.

    Attributes:
        id: The schedule id.
        job_type: The job type it enqueues.
        queue: The queue named by its labels (else the job type's, decided at enqueue).
        cron: Its cron expression, if it is a cron schedule.
        cron_offset: The time zone (or offset) its cron expression is read in.
        interval: Seconds between runs, if it is an interval schedule.
        labels: Its labels (enqueue options).
        args: The job's positional arguments (a jobqueue job: its payload).
        kwargs: The job's keyword arguments.
        next_run: When it fires next, while a `taskiq scheduler` runs; `None` if unknown.
        last_enqueued_at: When it last enqueued a job.
        last_job_id: The id of that job.
    """

    id: str
    job_type: str
    queue: str | None
    cron: str | None
    cron_offset: str | None
    interval: float | None
    labels: dict[str, Any]
    args: list[Any]
    kwargs: dict[str, Any]
    next_run: datetime | None
    last_enqueued_at: datetime | None
    last_job_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorGroup:
    """The retry and dead jobs of a queue whose errors share a fingerprint.

    Attributes:
        id: The group's id (16 hex digits of the fingerprint's SHA-1).
        queue: The queue.
        error_type: The exception type (empty when the error names none).
        message: The message with quoted values, ids and numbers masked (`'?'`, `<id>`, `<n>`).
        example: One error as it was recorded (the first of the group).
        count: Jobs in the group now (in retry or dead).
        seen: Failures filed under it since the group appeared.
        first_seen: When the group appeared.
        last_seen: Its latest failure.
        sample_job: The id of its latest job.
    """

    id: str
    queue: str
    error_type: str
    message: str
    example: str
    count: int
    seen: int
    first_seen: datetime | None
    last_seen: datetime | None
    sample_job: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """The Redis server, from `INFO` and `DBSIZE`, and the keys jobqueue keeps there.

    Attributes:
        version: The server's version.
        mode: `standalone`, `cluster` or `sentinel`.
        uptime_seconds: Seconds since the server started.
        used_memory: Bytes of memory in use.
        used_memory_peak: The most bytes in use since it started.
        maxmemory: Its memory limit in bytes (0: none).
        maxmemory_policy: What it does at the limit (`noeviction` is what jobqueue needs).
        connected_clients: Client connections open.
        blocked_clients: Clients waiting in a blocking command.
        ops_per_second: Commands per second, as the server last measured.
        database_keys: Keys in the database (`DBSIZE`), jobqueue's or not.
        jobqueue_keys: jobqueue's keys found by name, without scanning (per-job attempt
            hashes and unique locks not counted).
        stored_jobs: Jobs stored in the configured queues, every state together.
    """

    version: str
    mode: str
    uptime_seconds: int
    used_memory: int
    used_memory_peak: int
    maxmemory: int
    maxmemory_policy: str
    connected_clients: int
    blocked_clients: int
    ops_per_second: int
    database_keys: int
    jobqueue_keys: int
    stored_jobs: int


def as_json(value: Any) -> Any:
    """A view (or a list of them) as plain JSON types: times in ISO 8601, states as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    """What a bulk action did.

    Attributes:
        action: `run`, `delete` or `kill`.
        queue: The queue.
        done: Jobs it changed.
        examined: Jobs it looked at (those left alone: not matching, or not in a state the
            action applies to).
        running: Jobs left alone because a worker is running them.
    """

    action: str
    queue: str
    done: int
    examined: int
    running: int
