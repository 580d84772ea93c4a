"""`enqueue`, `enqueue_with_delay` and `enqueue_at`, written once on top of `enqueue_with_options`.

`JobQueue` and `RecordingQueue` inherit them, so the shortcuts cannot drift apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any, TypeVar, overload

from jobqueue.jobs import JobType
from jobqueue.options import EnqueueOptions, JobInfo

__all__ = ["NO_OPTIONS", "EnqueueShortcuts"]

NO_OPTIONS = EnqueueOptions()
P = TypeVar("P")
R = TypeVar("R")


class EnqueueShortcuts(ABC):
    """The three shortcut methods of the `Queue` interface."""

    @abstractmethod
    async def enqueue_with_options(
        self, job_type: str | JobType[Any], payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Enqueue a job with explicit options."""

    @overload
    async def enqueue(self, job_type: JobType[P, R], payload: P) -> JobInfo[R]: ...
    @overload
    async def enqueue(self, job_type: str, payload: Any) -> JobInfo: ...
    async def enqueue(self, job_type: str | JobType[Any], payload: Any) -> JobInfo:
        """Enqueue a job to run as soon as a worker is free."""
        return await self.enqueue_with_options(job_type, payload, NO_OPTIONS)

    @overload
    async def enqueue_with_delay(
        self, job_type: JobType[P, R], payload: P, delay: timedelta | float
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_with_delay(
        self, job_type: str, payload: Any, delay: timedelta | float
    ) -> JobInfo: ...
    async def enqueue_with_delay(
        self, job_type: str | JobType[Any], payload: Any, delay: timedelta | float
    ) -> JobInfo:
        """Enqueue a job to run no earlier than `delay` from now."""
        return await self.enqueue_with_options(job_type, payload, EnqueueOptions(delay=delay))

    @overload
    async def enqueue_at(
        self, job_type: JobType[P, R], payload: P, process_at: datetime
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_at(self, job_type: str, payload: Any, process_at: datetime) -> JobInfo: ...
    async def enqueue_at(
        self, job_type: str | JobType[Any], payload: Any, process_at: datetime
    ) -> JobInfo:
        """Enqueue a job to run no earlier than `process_at`; a naive datetime is refused."""
        return await self.enqueue_with_options(
            job_type, payload, EnqueueOptions(process_at=process_at)
        )
