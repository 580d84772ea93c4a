"""What a producer can read of a job while it waits for it: its state and what it left."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter

from jobqueue._ends import Waiters
from jobqueue.errors import JobFailedError, JobNotFoundError, ResultTimeoutError
from jobqueue.options import JobState, Progress

__all__ = ["JobStatus", "wait_for_result"]

_RECHECK = 1.0
"""Seconds between two looks at a job's state even without a wake-up (one may be lost)."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's state, and its result, error and progress as stored."""

    state: JobState
    result: bytes | None = None
    """Its return value as JSON, if it completed and keeps it."""
    error: str = ""
    progress: Progress | None = None
    job_type: str = ""

    @classmethod
    def parse(
        cls,
        state: str,
        result: bytes,
        error: bytes,
        progress: bytes,
        cancelled: bytes,
        job_type: bytes = b"",
    ) -> JobStatus:
        """From the fields the store keeps (empty bytes: absent)."""
        found = JobState(state)
        if found is JobState.DEAD and cancelled:
            found = JobState.CANCELLED
        report = None
        if progress:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                report = Progress.from_json(orjson.loads(progress))
        return cls(
            state=found,
            result=result or None,
            error=error.decode(errors="replace"),
            progress=report,
            job_type=job_type.decode(errors="replace"),
        )


StatusReader = Callable[[str], Awaitable["JobStatus | None"]]
ResultTypes = Callable[[str], "TypeAdapter[Any] | None"]
"""The result type of a job type, if known."""


async def wait_for_result(
    job_id: str,
    read: StatusReader,
    waiters: Waiters,
    timeout: float | None,
    result_types: ResultTypes,
) -> Any:
    """Wait for a job to end; its result (as its job type's result type), or its error.

    The waiter is registered before the first look, so an end between the look and the wait
    wakes it; it looks again at least every second, in case a wake-up was lost.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with waiters.watch(job_id) as woken:
        while True:
            woken.clear()
            status = await read(job_id)
            if status is None:
                raise JobNotFoundError(
                    f"no job {job_id!r}: it never existed, or it ended and was not kept "
                    "(a job keeps its result for its result_ttl)"
                )
            if status.state is JobState.COMPLETED:
                if status.result is None:
                    return None
                adapter = result_types(status.job_type)
                if adapter is None:
                    return orjson.loads(status.result)
                return adapter.validate_json(status.result)
            if status.state in (JobState.DEAD, JobState.CANCELLED):
                raise JobFailedError(job_id, status.state.value, status.error)
            wait = _RECHECK
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ResultTimeoutError(
                        f"job {job_id!r} had not ended after {timeout} s (it is {status.state})"
                    )
                wait = min(wait, left)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await woken.wait()
