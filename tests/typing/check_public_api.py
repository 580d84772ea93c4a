"""Type-checked (not run) by `mypy --strict`: user code declaring jobs and enqueueing them.

Lines marked `# type: ignore[...]` MUST be errors; mypy's `warn_unused_ignores` (part of
`--strict`) fails the check if one of them stops being an error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from jobqueue import (
    CancelResult,
    EnqueueOptions,
    JobInfo,
    JobQueue,
    JobRegistry,
    JobType,
    Progress,
    Queue,
    RunningJob,
    connect,
    current_job,
    fixed_schedule,
)


class SendEmail(BaseModel):
    user_id: int
    to: str


SEND_EMAIL = JobType("email:send", SendEmail)
jobs = JobRegistry()


@jobs.job(
    SEND_EMAIL, max_retry=4, timeout=timedelta(seconds=10), retry_delay=fixed_schedule(30, 60)
)
async def send_email(payload: SendEmail) -> None:
    print(payload.to)


@jobs.job("report:generate", queue="low")
async def generate_report(payload: dict[str, str]) -> int:
    return len(payload)


async def produce(queue: Queue) -> list[JobInfo]:
    infos = [
        await queue.enqueue(SEND_EMAIL, SendEmail(user_id=1, to="a@example.com")),
        await queue.enqueue("report:generate", {"kind": "daily"}),
        await queue.enqueue_with_delay(SEND_EMAIL, SendEmail(user_id=2, to="b@example.com"), 5),
        await queue.enqueue_at(
            SEND_EMAIL, SendEmail(user_id=3, to="c@example.com"), datetime.now(UTC)
        ),
        await queue.enqueue_with_options(
            SEND_EMAIL,
            SendEmail(user_id=4, to="d@example.com"),
            EnqueueOptions(queue="critical", max_retry=3, timeout=10, unique=True, unique_ttl=60),
        ),
    ]
    await queue.enqueue(SEND_EMAIL, {"user_id": 1})  # type: ignore[misc]
    await queue.enqueue_with_delay(SEND_EMAIL, "nope", 1)  # type: ignore[misc]
    return infos


async def main() -> None:
    async with connect(registry=jobs) as queue:
        assert isinstance(queue, JobQueue)
        await produce(queue)
        info = await queue.enqueue(SEND_EMAIL, SendEmail(user_id=1, to="x@example.com"))
        print(info.id, info.state, info.process_at)
        await send_email(SendEmail(user_id=1, to="direct@example.com"))
        count: int = await generate_report({"a": "b"})
        print(count)


class Receipt(BaseModel):
    total: float


RENDER = JobType("invoice:render", SendEmail, result_type=Receipt, result_ttl=60)


async def results(queue: Queue) -> None:
    info = await queue.enqueue(RENDER, SendEmail(user_id=1, to="a"))
    receipt: Receipt = await info.result(timeout=5)
    print(receipt.total)
    typed: Receipt = await queue.result(info.id, job_type=RENDER)
    print(typed.total)
    wrong: str = await info.result()  # type: ignore[assignment]
    print(wrong)
    untyped = await queue.result(info.id)
    print(untyped)
    cancelled: CancelResult = await queue.cancel(info.id)
    print(cancelled is CancelResult.STOPPING)
    progress: Progress | None = await queue.progress(info.id)
    print(progress)
    plain = await queue.enqueue(SEND_EMAIL, SendEmail(user_id=1, to="a"))
    anything = await plain.result()  # JobType[P] with no result type: Any
    print(anything)


async def inside_a_job() -> None:
    job: RunningJob = current_job()
    await job.progress(0.5, "halfway")
    await job.progress("half")  # type: ignore[arg-type]
