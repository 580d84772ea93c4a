"""The exception hierarchy of jobqueue: every error the library raises derives from one root.

```
JobQueueError
├── ConfigurationError        a bad setting (names the variable)
├── PayloadError              a payload that is not JSON or fails its model (names the field)
├── InvalidOptionsError       contradictory or invalid enqueue options
│   └── UnknownQueueError     a queue that the configuration does not know
├── DuplicateJobError         a unique job (or job id) that already exists; carries the existing id
├── QueueClosedError          the queue was used after close()
├── QueueUnavailableError     the store could not be reached or was not ready: retry it
├── JobFailedError            waited for a result, but the job ended dead or cancelled
├── JobNotFoundError          no such job, or its result's retention ended
├── ResultTimeoutError        waited for a result longer than the timeout
└── PermanentError            raised by a job to skip its remaining retries and go to dead
```

`PermanentError` is the only one a job raises itself; the rest are raised to producers.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DuplicateJobError",
    "InvalidOptionsError",
    "JobFailedError",
    "JobNotFoundError",
    "JobQueueError",
    "PayloadError",
    "PermanentError",
    "QueueClosedError",
    "QueueUnavailableError",
    "ResultTimeoutError",
    "UnknownQueueError",
]


class JobQueueError(Exception):
    """The root of every error that jobqueue raises."""


class ConfigurationError(JobQueueError):
    """A setting has a value that cannot work; the message names the variable."""


class PayloadError(JobQueueError, ValueError):
    """A payload cannot be encoded as JSON or does not match the job's payload model.

    Attributes:
        job_type: The job type the payload was meant for.
        field: The dotted path of the offending field, when one can be named.
    """

    def __init__(self, message: str, *, job_type: str, field: str | None = None) -> None:
        super().__init__(message)
        self.job_type = job_type
        self.field = field


class InvalidOptionsError(JobQueueError, ValueError):
    """Enqueue options contradict each other or hold an invalid value; nothing was enqueued."""


class UnknownQueueError(InvalidOptionsError):
    """The queue named in the options is not one of the configured queues."""

    def __init__(self, queue: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown queue {queue!r}; configured queues: {', '.join(known)}")
        self.queue = queue
        self.known = known


class DuplicateJobError(JobQueueError):
    """A unique job with the same type and payload (or a job with the same id) already exists.

    Attributes:
        existing_id: The id of the job that holds the uniqueness lock (or the id).
    """

    def __init__(self, job_type: str, queue: str, existing_id: str) -> None:
        super().__init__(
            f"duplicate job {job_type!r} in queue {queue!r}: job {existing_id!r} already exists"
        )
        self.job_type = job_type
        self.queue = queue
        self.existing_id = existing_id


class QueueClosedError(JobQueueError, RuntimeError):
    """The queue was used after `close()`."""


class QueueUnavailableError(JobQueueError, ConnectionError):
    """The store could not be reached, timed out or was not ready (loading, failing over).

    It is transient: retrying may succeed. The jobs may or may not have been stored (a reply
    can be lost after the store applied the command), so retry with the same job ids: an enqueue
    retried with the id of a job that was stored gets `DuplicateJobError`, never a second job.

    Attributes:
        job_ids: The ids of the jobs of the failed call, in order.
    """

    def __init__(self, message: str, *, job_ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.job_ids = job_ids


class JobFailedError(JobQueueError):
    """The job whose result was awaited ended dead or cancelled.

    Attributes:
        job_id: The job.
        state: `dead` or `cancelled`.
        error: Why: its last error, "cancelled", or "deadline passed ...".
    """

    def __init__(self, job_id: str, state: str, error: str) -> None:
        super().__init__(f"job {job_id!r} ended {state}: {error}")
        self.job_id = job_id
        self.state = state
        self.error = error


class JobNotFoundError(JobQueueError, LookupError):
    """No job has this id: it never existed, or it ended and its result's retention is over."""


class ResultTimeoutError(JobQueueError, TimeoutError):
    """The job had not ended when the wait for its result timed out (it still may)."""


class PermanentError(JobQueueError):
    """Raise from a job to fail it at once: no retries, straight to the dead set."""
