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
from typing import TYPE_CHECKING, Any, TypeVar

from jobqueue._handlers import build_spec, runner, signature_types
from jobqueue._inject import inject_if_needed
from jobqueue._job_types import Defaults, Duration, JobSpec, JobType, validate_payload
from jobqueue._names import check_job_type, check_queue_name
from jobqueue.errors import InvalidOptionsError
from jobqueue.retry import RetryDelay

if TYPE_CHECKING:
    from taskiq import AsyncBroker

__all__ = ["JobRegistry", "JobSpec", "JobType", "validate_payload"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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
        job_type: str | JobType[Any, Any],
        *,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: Duration = None,
        retry_delay: RetryDelay | None = None,
        unique_ttl: Duration = None,
        result_ttl: Duration = None,
        deadline: Duration = None,
    ) -> Callable[[F], F]:
        """Register an async function as the handler of `job_type`.

        The payload type is the annotation of the function's first parameter (a pydantic model,
        `dict[str, int]`, ...), and the result type its return annotation (a kept result is
        validated as that type). The function is returned with `@inject` applied when it
        declares dependency-injector markers, so calling it directly in a test injects too.

        Args:
            job_type: The name producers enqueue by (`"email:send"`), or a `JobType`.
            queue: Default queue of this job type.
            max_retry: Default retries after the first attempt.
            timeout: Default seconds one attempt may run.
            retry_delay: `(attempt, exc, job) -> seconds`; e.g. `fixed_schedule(30, 60, 300, 600)`.
            unique_ttl: Default uniqueness window for `unique=True` enqueues.
            result_ttl: Default time a job's return value is kept after it ends.
            deadline: Default time after the enqueue past which a job is not run.
        """
        defaults = Defaults.of(
            queue=queue,
            max_retry=max_retry,
            timeout=timeout,
            unique_ttl=unique_ttl,
            result_ttl=result_ttl,
            deadline=deadline,
        )

        def register(func: F) -> F:
            if not inspect.iscoroutinefunction(inspect.unwrap(func)):
                raise InvalidOptionsError(f"job {job_type!r}: the handler must be `async def`")
            handler = inject_if_needed(func)
            spec = build_spec(
                job_type,
                func=handler,
                provider=None,
                types=signature_types(func),
                defaults=defaults,
                retry_delay=retry_delay,
            )
            self.add(spec)
            return handler

        return register

    def register(
        self,
        job_type: str | JobType[Any, Any],
        provider: Callable[[], Any],
        *,
        payload_type: Any = None,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: Duration = None,
        retry_delay: RetryDelay | None = None,
        unique_ttl: Duration = None,
        result_ttl: Duration = None,
        deadline: Duration = None,
    ) -> None:
        """Register a class-based handler built by `provider` for each run.

        The object it builds must have `async def handle(self, payload)`. The payload type is
        taken from `payload_type`, a `JobType`, or the annotation of `handle` on the provider's
        class (`providers.Factory(SendEmailJob, ...)`).
        """
        types: tuple[Any, Any] = (payload_type or Any, Any)
        cls = getattr(provider, "cls", None)
        handle = getattr(cls, "handle", None) if isinstance(cls, type) else None
        if handle is not None:
            annotated = signature_types(handle, skip_self=True)
            types = (payload_type or annotated[0], annotated[1])
        defaults = Defaults.of(
            queue=queue,
            max_retry=max_retry,
            timeout=timeout,
            unique_ttl=unique_ttl,
            result_ttl=result_ttl,
            deadline=deadline,
        )
        self.add(
            build_spec(
                job_type,
                func=None,
                provider=provider,
                types=types,
                defaults=defaults,
                retry_delay=retry_delay,
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
            broker.register_task(runner(spec, broker), task_name=spec.job_type)
