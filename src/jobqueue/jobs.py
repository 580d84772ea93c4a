"""Declaring jobs: a job type, its handler, its payload type and its defaults, in a `JobRegistry`.

A registry is plain data, so job modules import no broker and build nothing at import time; a
broker factory binds the registry when it builds the broker (in the API process and in every
worker process alike).

Handlers come in two forms:

- an async function whose first parameter is the payload; its other parameters may be
  dependency-injector markers (`repo: UserRepo = Provide[Container.user_repo]`), resolved when the
  job runs (the registry applies `@inject` itself when it sees a marker);
- a provider (e.g. `providers.Factory(SendEmailJob, repo=..., http=...)`) building an object with
  `async def handle(self, payload)`, registered with `registry.register(job_type, provider)`; the
  provider is called for every run, so `provider.override(fake)` applies at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_type_hints

from pydantic import TypeAdapter, ValidationError

from jobqueue._inject import has_marker, inject_if_needed
from jobqueue._names import check_job_type, check_queue_name
from jobqueue.errors import InvalidOptionsError, PayloadError
from jobqueue.options import as_seconds
from jobqueue.retry import RetryDelay

if TYPE_CHECKING:
    from taskiq import AsyncBroker

__all__ = ["JobRegistry", "JobSpec", "JobType", "validate_payload"]

PayloadT = TypeVar("PayloadT")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class JobType(Generic[PayloadT]):
    """A job type's name, payload type and defaults, for producers that do not import its code.

    `SEND_EMAIL = JobType("email:send", SendEmail, queue="critical")`; then
    `await queue.enqueue(SEND_EMAIL, payload)` is type-checked (the payload must be a `SendEmail`),
    validated before anything is stored, and goes to the job type's default queue. Defaults given
    to `@registry.job(SEND_EMAIL, ...)` override these.
    """

    __slots__ = ("adapter", "max_retry", "name", "payload_type", "queue", "timeout", "unique_ttl")

    def __init__(
        self,
        name: str,
        payload_type: type[PayloadT],
        *,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: timedelta | float | None = None,
        unique_ttl: timedelta | float | None = None,
    ) -> None:
        self.name = check_job_type(name)
        self.payload_type = payload_type
        self.adapter: TypeAdapter[PayloadT] = TypeAdapter(payload_type)
        self.queue = None if queue is None else check_queue_name(queue)
        self.max_retry = max_retry
        self.timeout = as_seconds(timeout, "timeout")
        self.unique_ttl = as_seconds(unique_ttl, "unique_ttl")

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


def _payload_annotation(func: Callable[..., Any], skip_self: bool = False) -> Any:
    """The annotation of a handler's first (payload) parameter (`Any` when it has none).

    The other parameters must be dependencies: each needs a default (a `Provide[...]` marker,
    usually) or a marker in `Annotated[...]`; anything else would only fail when the job runs.
    """
    target = inspect.unwrap(func)
    params = list(inspect.signature(target).parameters.values())
    if skip_self and params:
        params = params[1:]
    name = target.__qualname__
    if not params:
        raise InvalidOptionsError(f"{name} must take the payload as its first parameter")
    try:
        hints = get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise InvalidOptionsError(
            f"cannot resolve the type hints of {name} ({exc}); define the payload model at module "
            "level, or annotate the payload as Any to accept any JSON"
        ) from None
    for param in params[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty and not has_marker(hints.get(param.name)):
            raise InvalidOptionsError(
                f"{name}: parameter {param.name!r} is not the payload and has no default; give it "
                "a dependency marker such as `= Provide[Container.x]`"
            )
    return hints.get(params[0].name, Any)


class JobRegistry:
    """Job types by name.

    ```python
    jobs = JobRegistry()

    @jobs.job("email:send", max_retry=4, retry_delay=fixed_schedule(30, 60, 300, 600))
    async def send_email(payload: SendEmail, repo: UserRepo = Provide[Container.repo]) -> None:
        ...
    ```
    """

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def job(
        self,
        job_type: str | JobType[Any],
        *,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: timedelta | float | None = None,
        retry_delay: RetryDelay | None = None,
        unique_ttl: timedelta | float | None = None,
    ) -> Callable[[F], F]:
        """Register an async function as the handler of `job_type`.

        The payload type is the annotation of the function's first parameter (a pydantic model,
        `dict[str, int]`, ...). The function is returned with `@inject` applied when it declares
        dependency-injector markers, so calling it directly in a test injects too.

        Args:
            job_type: The name producers enqueue by (`"email:send"`), or a `JobType`.
            queue: Default queue of this job type.
            max_retry: Default retries after the first attempt.
            timeout: Default seconds one attempt may run.
            retry_delay: `(attempt, exc, job) -> seconds`; e.g. `fixed_schedule(30, 60, 300, 600)`.
            unique_ttl: Default uniqueness window for `unique=True` enqueues.
        """

        def register(func: F) -> F:
            if not inspect.iscoroutinefunction(inspect.unwrap(func)):
                raise InvalidOptionsError(f"job {job_type!r}: the handler must be `async def`")
            handler = inject_if_needed(func)
            payload_type = _declared_type(job_type, _payload_annotation(func))
            self.add(
                _spec(
                    job_type,
                    handler,
                    payload_type,
                    queue,
                    max_retry,
                    timeout,
                    retry_delay,
                    unique_ttl,
                )
            )
            return handler

        return register

    def register(
        self,
        job_type: str | JobType[Any],
        provider: Callable[[], Any],
        *,
        payload_type: Any = None,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: timedelta | float | None = None,
        retry_delay: RetryDelay | None = None,
        unique_ttl: timedelta | float | None = None,
    ) -> None:
        """Register a class-based handler built by `provider` for each run.

        The object it builds must have `async def handle(self, payload)`. The payload type is
        taken from `payload_type`, a `JobType`, or the annotation of `handle` on the provider's
        class (`providers.Factory(SendEmailJob, ...)`).
        """
        if payload_type is None:
            cls = getattr(provider, "cls", None)
            handle = getattr(cls, "handle", None) if isinstance(cls, type) else None
            payload_type = _payload_annotation(handle, skip_self=True) if handle else Any
        payload_type = _declared_type(job_type, payload_type)

        self.add(
            _spec(
                job_type,
                None,
                payload_type,
                queue,
                max_retry,
                timeout,
                retry_delay,
                unique_ttl,
                provider=provider,
            )
        )

    def add(self, spec: JobSpec) -> None:
        """Register a job spec; a job type can be registered once.

        Raises:
            InvalidOptionsError: The job type or its default queue breaks its naming rule, a
                default is invalid, or the job type is already registered.
        """
        check_job_type(spec.job_type)
        if spec.queue is not None:
            check_queue_name(spec.queue)
        if spec.max_retry is not None and spec.max_retry < 0:
            raise InvalidOptionsError(f"{spec.job_type}: max_retry must be >= 0")
        if spec.job_type in self._specs:
            raise InvalidOptionsError(f"job type {spec.job_type!r} is already registered")
        self._specs[spec.job_type] = spec

    def get(self, job_type: str) -> JobSpec | None:
        """The spec of a job type, if this registry has it."""
        return self._specs.get(job_type)

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def modules(self) -> list[str]:
        """The modules that define the registered functions (the ones a container must wire)."""
        names = {inspect.unwrap(spec.func).__module__ for spec in self if spec.func is not None}
        return sorted(n for n in names if n and n != __name__)

    def bind(self, broker: AsyncBroker) -> None:
        """Register every job as a Taskiq task named by its job type."""
        for spec in self:
            broker.register_task(_runner(spec, broker), task_name=spec.job_type)


def _declared_type(job_type: str | JobType[Any], annotated: Any) -> Any:
    if isinstance(job_type, JobType):
        return job_type.payload_type
    return annotated


def _spec(
    job_type: str | JobType[Any],
    func: Callable[..., Awaitable[Any]] | None,
    payload_type: Any,
    queue: str | None,
    max_retry: int | None,
    timeout: timedelta | float | None,
    retry_delay: RetryDelay | None,
    unique_ttl: timedelta | float | None,
    provider: Any = None,
) -> JobSpec:
    """A spec from the decorator's arguments, falling back on a `JobType`'s defaults.

    Producers that know only the `JobType` write its defaults into the job, so a registry that
    disagreed with them would be silently overruled: that is refused here.
    """
    typed = job_type if isinstance(job_type, JobType) else None
    if typed is not None:
        given = {
            "queue": queue,
            "max_retry": max_retry,
            "timeout": as_seconds(timeout, "timeout"),
            "unique_ttl": as_seconds(unique_ttl, "unique_ttl"),
        }
        for field_name, value in given.items():
            declared = getattr(typed, field_name)
            if value is not None and declared is not None and value != declared:
                raise InvalidOptionsError(
                    f"job {typed.name!r}: {field_name}={value!r} contradicts the JobType's "
                    f"{field_name}={declared!r}; declare defaults in one place"
                )
    return JobSpec(
        job_type=typed.name if typed else str(job_type),
        func=func,
        provider=provider,
        payload_type=payload_type,
        adapter=None if payload_type is Any else TypeAdapter(payload_type),
        queue=queue if queue is not None or typed is None else typed.queue,
        max_retry=max_retry if max_retry is not None or typed is None else typed.max_retry,
        timeout=as_seconds(timeout, "timeout") or (typed.timeout if typed else None),
        retry_delay=retry_delay,
        unique_ttl=as_seconds(unique_ttl, "unique_ttl") or (typed.unique_ttl if typed else None),
    )


def _runner(spec: JobSpec, broker: AsyncBroker) -> Callable[[Any], Awaitable[Any]]:
    """The Taskiq task of a job: validate the JSON payload, then run the handler.

    Its parameter is annotated `Any` so that Taskiq passes the JSON through untouched; an invalid
    payload raises `PayloadError`, which sends the job to dead (retrying cannot fix it). A
    class-based job asks the broker first for its provider: `attach_container` maps a provider
    declared on a container class to the attached container's own.
    """
    func = spec.func
    if func is None:
        overrides: dict[str, Any] = getattr(broker, "job_providers", {})

        async def run_handler(payload: Any) -> Any:
            handler = overrides.get(spec.job_type, spec.provider)()
            if inspect.isawaitable(handler):  # an async resource
                handler = await handler
            return await handler.handle(payload)

        func = run_handler

    async def run(payload: Any) -> Any:
        return await func(validate_payload(spec, spec.job_type, payload))

    run.__name__ = run.__qualname__ = f"job_{spec.job_type.replace(':', '_')}"
    if spec.func is not None:
        run.__module__ = inspect.unwrap(spec.func).__module__
    return run
