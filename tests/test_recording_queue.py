"""RecordingQueue records enqueues, validates payloads and honours unique options."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from jobqueue import DuplicateJobError, EnqueueOptions, JobState, JobType, PayloadError, Queue
from jobqueue.testing import RecordingQueue


class Report(BaseModel):
    kind: str
    user_id: int


REPORT = JobType("report:generate", Report)


async def register_user(queue: Queue, user_id: int) -> None:
    await queue.enqueue("email:send", {"user_id": user_id, "subject": "Welcome"})
    await queue.enqueue_with_delay(REPORT, Report(kind="signup", user_id=user_id), 300)


async def test_records_what_application_code_enqueued() -> None:
    queue = RecordingQueue()
    assert isinstance(queue, Queue)
    await register_user(queue, 7)
    queue.assert_enqueued("email:send", count=1, user_id=7)
    queue.assert_enqueued(REPORT, kind="signup")
    (report,) = queue.of_type(REPORT)
    assert report.info.state is JobState.SCHEDULED
    assert report.json == {"kind": "signup", "user_id": 7}
    with pytest.raises(AssertionError):
        queue.assert_enqueued("email:send", user_id=8)
    with pytest.raises(AssertionError):
        queue.assert_nothing_enqueued()


async def test_checks_payloads_and_unique_options() -> None:
    queue = RecordingQueue()
    with pytest.raises(PayloadError, match=r"payload\.user_id"):
        await queue.enqueue(REPORT, {"kind": "x"})
    with pytest.raises(PayloadError, match=r"payload\.when"):
        await queue.enqueue("email:send", {"when": object()})
    opts = EnqueueOptions(unique=True, unique_ttl=60)
    first = await queue.enqueue_with_options("sync", {"b": 1, "a": 2}, opts)
    with pytest.raises(DuplicateJobError) as info:
        await queue.enqueue_with_options("sync", {"a": 2, "b": 1}, opts)
    assert info.value.existing_id == first.id
    await queue.close()
    with pytest.raises(Exception, match="closed"):
        await queue.enqueue("sync", {})
