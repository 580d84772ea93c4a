"""Enqueue options resolved once: from (job type, payload, options, job spec) to a `Submission`.

`JobQueue`, `RecordingQueue` and the `kick()` path of the drivers all go through `resolve` (or
`resolve_taskiq`), so "which queue, how many retries, which timeout, which unique window, when is
it due" has one answer everywhere. The enqueue script computes the due time the same way on the
store's clock (`enqueue.lua`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from taskiq import TaskiqMessage

from jobqueue._job_types import Defaults, JobSpec, JobType, validate_payload
from jobqueue._names import check_job_id, check_job_type
from jobqueue._wire import encode_tail, from_taskiq, taskiq_body
from jobqueue.codec import canonical_digest, dump_validated, to_jsonable
from jobqueue.errors import InvalidOptionsError, UnknownQueueError
from jobqueue.options import (
    EnqueueOptions,
    JobInfo,
    JobState,
    ResultReader,
    as_deadline,
    as_seconds,
)

__all__ = ["JobRef", "Submission", "resolve", "resolve_taskiq"]

JobRef = str | JobType[Any, Any]
"""A job type by name, or a typed `JobType`."""
Spec = JobSpec | JobType[Any, Any]
_NO_DEFAULTS = Defaults()
T = TypeVar("T")
SpecLookup = Callable[[str], JobSpec | None]
"""The job spec of a job type, if known (`registry.get`, `broker.job_specs.get`)."""


@dataclass(slots=True, kw_only=True)
class Submission:
    """One job on its way into the store, with every option resolved."""

    id: str
    job_type: str
    queue: str
    payload: Any
    """The payload's JSON form."""
    max_retry: int | None = None
    timeout: float | None = None
    unique_ttl: float | None = None
    unique_digest: str | None = None
    delay: float | None = None
    """Seconds from when the store accepts the job, on the store's clock (not the producer's)."""
    process_at: float | None = None
    """Epoch seconds; `None` (or a time past) runs it now."""
    result_ttl: float | None = None
    deadline: float | None = None
    """Epoch seconds past which the job is not run."""
    tail: bytes = b""
    """The stored record after its job type and enqueue time (see `_wire`)."""
    reader: ResultReader | None = None
    """How the `JobInfo` of this job waits for its result (the queue that enqueued it)."""

    def encode(
        self, body: Any, labels: dict[str, Any] | None = None, args_and_kwargs: bool = False
    ) -> None:
        """Write the record's tail: `body` (the JSON-ready payload) and these options."""
        self.tail = encode_tail(
            orjson.dumps(body),
            unique_digest=self.unique_digest,
            max_retry=self.max_retry,
            timeout=self.timeout,
            result_ttl=self.result_ttl,
            deadline=self.deadline,
            labels=labels,
            args_and_kwargs=args_and_kwargs,
        )

    def due(self, now: float) -> float:
        """When the job becomes due, for a store that accepts it at `now`."""
        if self.delay:
            return now + self.delay
        if self.process_at and self.process_at > now:
            return self.process_at
        return now

    def info(self, state: JobState, enqueued_at: float) -> JobInfo:
        """The `JobInfo` producers get back once the store accepted this job."""
        return JobInfo(
            id=self.id,
            job_type=self.job_type,
            queue=self.queue,
            state=state,
            enqueued_at=datetime.fromtimestamp(enqueued_at, UTC),
            process_at=datetime.fromtimestamp(self.due(enqueued_at), UTC),
            max_retry=self.max_retry,
            timeout=self.timeout,
            result_ttl=self.result_ttl,
            deadline=None if self.deadline is None else datetime.fromtimestamp(self.deadline, UTC),
            reader=self.reader,
        )


def resolve(
    job: JobRef,
    payload: Any,
    opts: EnqueueOptions,
    *,
    specs: SpecLookup,
    queues: Collection[str],
    default_queue: str,
    new_id: Callable[[], str],
) -> Submission:
    """Validate one job and resolve its options (enqueue option, else job type, else setting).

    Raises:
        PayloadError: The payload is not JSON or does not match the job type's payload type.
        InvalidOptionsError: The options cannot work (an unknown queue, unique without a TTL).
    """
    job_type = job.name if isinstance(job, JobType) else _checked_type(job)
    spec: Spec | None = specs(job_type)
    if spec is None and isinstance(job, JobType):
        spec = job  # a producer without the job's code still knows its declared defaults
    known = spec.defaults if spec is not None else _NO_DEFAULTS
    queue = _queue(opts.queue or known.queue or default_queue, queues)
    if spec is not None and spec.adapter is not None:  # the registry's view wins, as in workers
        body = dump_validated(spec.adapter, validate_payload(spec, job_type, payload), job_type)
    else:
        body = to_jsonable(payload, job_type)
    unique_ttl = _unique_ttl(job_type, opts, known) if opts.unique else None
    deadline = None
    if opts.deadline is not None or known.deadline:
        now = time.time()
        deadline = as_deadline(opts.deadline, now)
        if deadline is None and known.deadline:
            deadline = now + known.deadline
    return Submission(
        id=opts.job_id or new_id(),
        job_type=job_type,
        queue=queue,
        payload=body,
        max_retry=_first(opts.max_retry, known.max_retry),
        timeout=_first(as_seconds(opts.timeout, "timeout"), known.timeout)
        if opts.timeout is not None or known.timeout is not None
        else None,
        unique_ttl=unique_ttl,
        unique_digest=canonical_digest(job_type, [[body], {}]) if unique_ttl else None,
        delay=as_seconds(opts.delay, "delay") or None,
        process_at=opts.process_at.timestamp() if opts.process_at is not None else None,
        result_ttl=_first(as_seconds(opts.result_ttl, "result_ttl"), known.result_ttl) or None
        if opts.result_ttl is not None or known.result_ttl
        else None,
        deadline=deadline,
    )


def _first(given: T | None, default: T | None) -> T | None:
    return given if given is not None else default


@functools.lru_cache(maxsize=1024)
def _checked_type(name: str) -> str:
    """`check_job_type`, once per name: most producers use a handful of job types."""
    return check_job_type(name)


def _queue(queue: str, queues: Collection[str]) -> str:
    if queue not in queues:
        raise UnknownQueueError(queue, tuple(queues))
    return queue


def _unique_ttl(job_type: str, opts: EnqueueOptions, known: Defaults) -> float | None:
    if not opts.unique:
        return None
    ttl = _first(as_seconds(opts.unique_ttl, "unique_ttl"), known.unique_ttl)
    if not ttl:
        raise InvalidOptionsError(
            f"unique job {job_type!r} needs unique_ttl (in the options or on the job type)"
        )
    return ttl


def resolve_taskiq(
    message: TaskiqMessage,
    *,
    specs: SpecLookup,
    queues: Collection[str],
    default_queue: str,
) -> Submission:
    """A message sent by Taskiq itself (`task.kiq()`, `taskiq scheduler`), as a submission.

    Its labels are read as enqueue options; Taskiq's own `delay` label counts too. Labels that
    jobqueue does not own are kept with the job.
    """
    check_job_id(message.task_id)
    check_job_type(message.task_name)
    spec = specs(message.task_name)
    try:
        options = from_taskiq(message)
    except ValueError as exc:
        raise InvalidOptionsError(f"task {message.task_name!r}: bad option label: {exc}") from None
    queue = _queue(options.queue or (spec.queue if spec else None) or default_queue, queues)
    raw_body, shaped = taskiq_body(message)
    body = to_jsonable(raw_body, message.task_name)
    digest = None
    if options.unique_ttl:
        digest = canonical_digest(message.task_name, [list(message.args), dict(message.kwargs)])
    known = spec.defaults if spec is not None else _NO_DEFAULTS
    submission = Submission(
        id=message.task_id,
        job_type=message.task_name,
        queue=queue,
        payload=body,
        max_retry=options.max_retry,
        timeout=options.timeout,
        unique_ttl=options.unique_ttl,
        unique_digest=digest,
        process_at=options.process_at,
        delay=None if options.process_at is not None else options.delay,
        result_ttl=known.result_ttl,
        deadline=time.time() + known.deadline if known.deadline else None,
    )
    submission.encode(body, options.labels, shaped)
    return submission
