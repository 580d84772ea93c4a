"""`JobResultBackend`: Taskiq's result-backend interface on the results jobqueue keeps itself.

jobqueue stores a job's result in the job's own record, in the same script as its
acknowledgement (see `docs/job-control.md`). This backend only reads them, so that Taskiq's own
`await task.kiq(...).wait_result()` works on a jobqueue broker; `set_result` does nothing,
since the acknowledgement has already stored what there is to store.
"""

from __future__ import annotations

from typing import Any

import orjson
from taskiq import TaskiqResult
from taskiq.abc.result_backend import AsyncResultBackend
from taskiq.exceptions import ResultGetError

from jobqueue._status import StatusReader
from jobqueue.errors import JobFailedError
from jobqueue.options import JobState

__all__ = ["JobResultBackend"]

_ENDED = (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)


class JobResultBackend(AsyncResultBackend[Any]):
    """Reads jobqueue's kept results for Taskiq's `wait_result()` and `get_result()`."""

    def __init__(self, status: StatusReader) -> None:
        self._status = status

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Nothing to do: the acknowledgement stores a job's result."""

    async def is_result_ready(self, task_id: str) -> bool:
        """Whether the job ended (completed, dead or cancelled)."""
        status = await self._status(task_id)
        return status is not None and status.state in _ENDED

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        """The job's outcome as a `TaskiqResult` (an error result for a dead or cancelled job).

        Raises:
            ResultGetError: No such job, or it has not ended, or its result was not kept.
        """
        status = await self._status(task_id)
        if status is None or status.state not in _ENDED:
            raise ResultGetError
        failed = status.state is not JobState.COMPLETED
        return TaskiqResult(
            is_err=failed,
            log=None,
            return_value=None if failed or status.result is None else orjson.loads(status.result),
            execution_time=0.0,
            error=JobFailedError(task_id, status.state.value, status.error) if failed else None,
        )
