"""Job types: name, payload and result types, defaults (`JobType`, `JobSpec`); payload checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Generic

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypeVar

from jobqueue._names import check_job_type, check_queue_name
from jobqueue.errors import InvalidOptionsError, PayloadError
from jobqueue.options import as_seconds
from jobqueue.retry import RetryDelay

__all__ = ["Defaults", "JobSpec", "JobType", "result_adapter", "validate_payload"]

PayloadT = TypeVar("PayloadT")
ResultT = TypeVar("ResultT", default=Any)
Duration = timedelta | float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Defaults:
    """A job type's defaults; enqueue options override them one by one (durations in seconds)."""

    queue: str | None = None
    max_retry: int | None = None
    timeout: float | None = None
    unique_ttl: float | None = None
    result_ttl: float | None = None
    deadline: float | None = None
    """Seconds after the enqueue past which the job is not run."""

    @classmethod
    def of(
        cls,
        *,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: Duration = None,
        unique_ttl: Duration = None,
        result_ttl: Duration = None,
        deadline: Duration = None,
    ) -> Defaults:
        """Defaults from user input, checked (durations as seconds or `timedelta`)."""
        if max_retry is not None and max_retry < 0:
            raise InvalidOptionsError(f"max_retry must be >= 0, got {max_retry}")
        return cls(
            queue=None if queue is None else check_queue_name(queue),
            max_retry=max_retry,
            timeout=as_seconds(timeout, "timeout") or None,
            unique_ttl=as_seconds(unique_ttl, "unique_ttl") or None,
            result_ttl=as_seconds(result_ttl, "result_ttl") or None,
            deadline=as_seconds(deadline, "deadline") or None,
        )

    def over(self, declared: Defaults, name: str) -> Defaults:
        """These defaults on top of a `JobType`'s, refusing a contradiction.

        Producers that know only the `JobType` write its defaults into the job, so a registry that
        disagreed with them would be silently overruled.
        """
        merged = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(declared, item.name)
            if mine is not None and theirs is not None and mine != theirs:
                raise InvalidOptionsError(
                    f"job {name!r}: {item.name}={mine!r} contradicts the JobType's "
                    f"{item.name}={theirs!r}; declare defaults in one place"
                )
            merged[item.name] = mine if mine is not None else theirs
        return Defaults(**merged)


class JobType(Generic[PayloadT, ResultT]):
    """A job type's name, payload and result types and defaults, for producers without its code.

    `SEND_EMAIL = JobType("email:send", SendEmail, queue="critical")`; then
    `await queue.enqueue(SEND_EMAIL, payload)` is type-checked (the payload must be a `SendEmail`),
    validated before anything is stored, and goes to the job type's default queue. With
    `result_type=Receipt` (a `JobType[SendEmail, Receipt]`), `await info.result()` is a `Receipt`.
    Defaults given to `@registry.job(SEND_EMAIL, ...)` must agree with these.
    """

    __slots__ = ("adapter", "defaults", "name", "payload_type", "result_adapter", "result_type")

    def __init__(
        self,
        name: str,
        payload_type: type[PayloadT],
        *,
        result_type: type[ResultT] | None = None,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: Duration = None,
        unique_ttl: Duration = None,
        result_ttl: Duration = None,
        deadline: Duration = None,
    ) -> None:
        self.name = check_job_type(name)
        self.payload_type = payload_type
        self.adapter: TypeAdapter[PayloadT] = TypeAdapter(payload_type)
        self.result_type: Any = Any if result_type is None else result_type
        self.result_adapter = result_adapter(self.result_type)
        self.defaults = Defaults.of(
            queue=queue,
            max_retry=max_retry,
            timeout=timeout,
            unique_ttl=unique_ttl,
            result_ttl=result_ttl,
            deadline=deadline,
        )

    @property
    def queue(self) -> str | None:
        """The default queue."""
        return self.defaults.queue

    @property
    def max_retry(self) -> int | None:
        """The default retries."""
        return self.defaults.max_retry

    @property
    def timeout(self) -> float | None:
        """The default timeout of one attempt (seconds)."""
        return self.defaults.timeout

    @property
    def unique_ttl(self) -> float | None:
        """The default uniqueness window (seconds)."""
        return self.defaults.unique_ttl

    def __repr__(self) -> str:
        return (
            f"JobType({self.name!r}, {getattr(self.payload_type, '__name__', self.payload_type)})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """A job type, its handler and its defaults; enqueue options override them one by one."""

    job_type: str
    func: Callable[..., Awaitable[Any]] | None
    """Runs one attempt: takes the validated payload (dependencies are injected inside)."""
    provider: Any = None
    """For a class-based job: the provider that builds its handler object for each run."""
    payload_type: Any = Any
    queue: str | None = None
    max_retry: int | None = None
    timeout: float | None = None
    retry_delay: RetryDelay | None = None
    unique_ttl: float | None = None
    adapter: TypeAdapter[Any] | None = field(default=None, repr=False)
    result_type: Any = Any
    """The handler's return annotation: a kept result is validated as that type."""
    result_ttl: float | None = None
    deadline: float | None = None
    """Seconds after the enqueue past which the job is not run."""
    result_adapter: TypeAdapter[Any] | None = field(default=None, repr=False)

    @property
    def defaults(self) -> Defaults:
        """The defaults enqueue options fall back on."""
        return Defaults(
            queue=self.queue,
            max_retry=self.max_retry,
            timeout=self.timeout,
            unique_ttl=self.unique_ttl,
            result_ttl=self.result_ttl,
            deadline=self.deadline,
        )


def result_adapter(result_type: Any) -> TypeAdapter[Any] | None:
    """How a result of this type is checked and read back; `None` for any JSON."""
    if result_type is Any or result_type is None or result_type is type(None):
        return None
    return TypeAdapter(result_type)


def validate_payload(spec: JobSpec | JobType[Any] | None, job_type: str, payload: Any) -> Any:
    """Check a payload against its job type's payload type; `PayloadError` names the field."""
    adapter = spec.adapter if spec is not None else None
    if adapter is None:
        return payload
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        raise _payload_error(exc, job_type) from None


def _payload_error(exc: ValidationError, job_type: str) -> PayloadError:
    first = exc.errors()[0]
    path = "payload" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
    )
    count = exc.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    return PayloadError(
        f"invalid payload for {job_type!r}: {path}: {first['msg']}{more}",
        job_type=job_type,
        field=path,
    )
