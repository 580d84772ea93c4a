"""jobqueue: an async job queue on Taskiq and Redis.

Weighted priority queues, leases with crash recovery, delayed and scheduled jobs, retries with
backoff, unique jobs, timeouts and deadlines, cancellation, kept results and progress, behind a
small `Queue` interface.
"""

from jobqueue._running import RunningJob, current_job
from jobqueue.broker import JobBroker
from jobqueue.errors import (
    ConfigurationError,
    DuplicateJobError,
    InvalidOptionsError,
    JobFailedError,
    JobNotFoundError,
    JobQueueError,
    PayloadError,
    PermanentError,
    QueueClosedError,
    QueueUnavailableError,
    ResultTimeoutError,
    UnknownQueueError,
)
from jobqueue.factory import connect, create_broker
from jobqueue.jobs import JobRegistry, JobSpec, JobType
from jobqueue.options import (
    CancelResult,
    EnqueueOptions,
    JobContext,
    JobInfo,
    JobRecord,
    JobState,
    Progress,
)
from jobqueue.queue import JobQueue, Queue
from jobqueue.retry import RetryDelay, exponential_backoff, fixed_schedule
from jobqueue.settings import QueueSettings

__all__ = [
    "CancelResult",
    "ConfigurationError",
    "DuplicateJobError",
    "EnqueueOptions",
    "InvalidOptionsError",
    "JobBroker",
    "JobContext",
    "JobFailedError",
    "JobInfo",
    "JobNotFoundError",
    "JobQueue",
    "JobQueueError",
    "JobRecord",
    "JobRegistry",
    "JobSpec",
    "JobState",
    "JobType",
    "PayloadError",
    "PermanentError",
    "Progress",
    "Queue",
    "QueueClosedError",
    "QueueSettings",
    "QueueUnavailableError",
    "ResultTimeoutError",
    "RetryDelay",
    "RunningJob",
    "UnknownQueueError",
    "connect",
    "create_broker",
    "current_job",
    "exponential_backoff",
    "fixed_schedule",
]
