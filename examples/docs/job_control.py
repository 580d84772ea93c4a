"""Job control: typed results, waiting for them, progress, cancelling, deadlines.

    python examples/docs/job_control.py

Runs a worker in this process against a throw-away Redis.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from jobqueue import (
    CancelResult,
    EnqueueOptions,
    JobFailedError,
    JobQueue,
    JobRegistry,
    JobType,
    QueueSettings,
    ResultTimeoutError,
    current_job,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker


# --8<-- [start:types]
class ReportRequest(BaseModel):
    """What to build."""

    account: int
    months: int


class Report(BaseModel):
    """What was built."""

    account: int
    rows: int
    url: str


# A producer that does not import the job's code still knows both types.
BUILD_REPORT = JobType(
    "report:build", ReportRequest, result_type=Report, result_ttl=timedelta(hours=1)
)
# --8<-- [end:types]

jobs = JobRegistry()
stopped: list[int] = []


# --8<-- [start:job]
@jobs.job(BUILD_REPORT)
async def build_report(request: ReportRequest) -> Report:
    job = current_job()
    rows = 0
    try:
        for month in range(request.months):
            await asyncio.sleep(0.05)  # one month's query
            rows += 100
            await job.progress((month + 1) / request.months, f"month {month + 1} done")
    finally:
        if rows < request.months * 100:
            stopped.append(request.account)  # runs when the job is cancelled, too
    return Report(account=request.account, rows=rows, url=f"/reports/{request.account}.csv")


# --8<-- [end:job]


async def main(url: str) -> None:
    settings = QueueSettings.from_env(url=url)
    async with (
        JobQueue(RedisJobBroker(settings, registry=jobs)) as queue,
        run_worker(RedisJobBroker(settings, registry=jobs)),
    ):
        # --8<-- [start:result]
        info = await queue.enqueue(BUILD_REPORT, ReportRequest(account=7, months=3))
        report = await info.result(timeout=10)  # a Report: mypy knows it too
        print(report.rows, report.url)  # 300 /reports/7.csv
        # Any process can wait by id; the result is kept for the job type's result_ttl.
        same = await queue.result(info.id, timeout=10, job_type=BUILD_REPORT)
        assert same == report
        # --8<-- [end:result]

        # --8<-- [start:progress]
        info = await queue.enqueue(BUILD_REPORT, ReportRequest(account=8, months=40))
        await asyncio.sleep(0.3)
        progress = await queue.progress(info.id)
        assert progress is not None
        print(f"{progress.fraction:.0%}: {progress.message}")  # e.g. 12%: month 5 done
        # --8<-- [end:progress]

        # --8<-- [start:cancel]
        assert await queue.cancel(info.id) is CancelResult.STOPPING  # it was running
        try:
            await info.result(timeout=5)
        except JobFailedError as failed:
            print(failed.state, failed.error)  # cancelled cancelled
        assert await queue.cancel(info.id) is CancelResult.FINISHED  # twice changes nothing
        # --8<-- [end:cancel]
        assert stopped == [8]

        # --8<-- [start:deadline]
        tomorrow_9am = datetime.now(UTC) + timedelta(seconds=0.2)  # a short one, for the demo
        info = await queue.enqueue_with_options(
            BUILD_REPORT,
            ReportRequest(account=9, months=100),
            EnqueueOptions(deadline=tomorrow_9am),  # not worth running after this
        )
        try:
            await info.result(timeout=5)
        except JobFailedError as failed:
            print(failed.error)  # deadline passed while it ran
        # --8<-- [end:deadline]

        # --8<-- [start:timeout]
        slow = await queue.enqueue(BUILD_REPORT, ReportRequest(account=10, months=100))
        try:
            await slow.result(timeout=0.1)
        except ResultTimeoutError:
            print("not done yet")  # it runs on; wait again later, or cancel it
            await queue.cancel(slow.id)
        # --8<-- [end:timeout]


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
