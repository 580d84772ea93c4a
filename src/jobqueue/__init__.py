"""jobqueue: an async job queue on Taskiq and Redis.

Weighted priority queues, leases with crash recovery, delayed and scheduled jobs, retries with
backoff, unique jobs and timeouts, behind a small `Queue` interface.
"""

from jobqueue.broker import JobBroker
from jobqueue.errors import (
    ConfigurationError,
    DuplicateJobError,
    InvalidOptionsError,
    JobQueueError,
    PayloadError,
    PermanentError,
    QueueClosedError,
    QueueUnavailableError,
    UnknownQueueError,
)
from jobqueue.factory import connect, create_broker
from jobqueue.jobs import JobRegistry, JobSpec, JobType
from jobqueue.options import EnqueueOptions, JobContext, JobInfo, JobState
from jobqueue.queue import JobQueue, Queue
from jobqueue.retry import RetryDelay, exponential_backoff, fixed_schedule
from jobqueue.settings import QueueSettings

__all__ = [
    "ConfigurationError",
    "DuplicateJobError",
    "EnqueueOptions",
    "InvalidOptionsError",
    "JobBroker",
    "JobContext",
    "JobInfo",
    "JobQueue",
    "JobQueueError",
    "JobRegistry",
    "JobSpec",
    "JobState",
    "JobType",
    "PayloadError",
    "PermanentError",
    "Queue",
    "QueueClosedError",
    "QueueSettings",
    "QueueUnavailableError",
    "RetryDelay",
    "UnknownQueueError",
    "connect",
    "create_broker",
    "exponential_backoff",
    "fixed_schedule",
]
