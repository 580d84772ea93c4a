"""Declaring jobs: a job type, its function and its defaults, collected in a `JobRegistry`.

A registry is plain data, so job modules import no broker and build nothing at import time; a
broker factory binds the registry when it builds the broker (in the API process and in every
worker process alike).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from jobqueue.errors import InvalidOptionsError
from jobqueue.options import as_seconds
from jobqueue.retry import RetryDelay

if TYPE_CHECKING:
    from taskiq import AsyncBroker

__all__ = ["JobRegistry", "JobSpec"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """A job type and its defaults; enqueue options override them one by one."""

    job_type: str
    func: Callable[..., Awaitable[Any]]
    queue: str | None = None
    max_retry: int | None = None
    timeout: float | None = None
    retry_delay: RetryDelay | None = None
    unique_ttl: float | None = None


class JobRegistry:
    """Job types by name. Decorate async functions with `@registry.job("email:send", ...)`."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def job(
        self,
        job_type: str,
        *,
        queue: str | None = None,
        max_retry: int | None = None,
        timeout: timedelta | float | None = None,
        retry_delay: RetryDelay | None = None,
        unique_ttl: timedelta | float | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Register an async function as the handler of `job_type`; the function is returned as is.

        Args:
            job_type: The name producers enqueue by, such as `"email:send"`.
            queue: Default queue of this job type.
            max_retry: Default retries after the first attempt.
            timeout: Default seconds one attempt may run.
            retry_delay: `(attempt, exc, job) -> seconds`; e.g. `fixed_schedule(30, 60, 300, 600)`.
            unique_ttl: Default uniqueness window for `unique=True` enqueues.
        """

        def register(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            self.add(
                JobSpec(
                    job_type=job_type,
                    func=func,
                    queue=queue,
                    max_retry=max_retry,
                    timeout=as_seconds(timeout, "timeout"),
                    retry_delay=retry_delay,
                    unique_ttl=as_seconds(unique_ttl, "unique_ttl"),
                )
            )
            return func

        return register

    def add(self, spec: JobSpec) -> None:
        """Register a job spec; a job type can be registered once."""
        if not spec.job_type or "{" in spec.job_type or "}" in spec.job_type:
            raise InvalidOptionsError(f"invalid job type {spec.job_type!r}")
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

    def bind(self, broker: AsyncBroker) -> None:
        """Register every job as a Taskiq task named by its job type."""
        for spec in self:
            broker.register_task(spec.func, task_name=spec.job_type)
