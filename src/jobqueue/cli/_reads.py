"""The read commands: stats, queues, history, jobs, job, workers, schedules, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from jobqueue.cli._render import ago, size, table, when
from jobqueue.cli._session import emit_json, json_option, run
from jobqueue.options import JobState
from jobqueue.redis.inspector import Inspector, JobDetail, JobRecord

__all__ = ["READS"]

_STATES = click.Choice([s.value for s in JobState])


@click.command()
@json_option
def stats(as_json_output: bool) -> None:
    """Jobs per state in every queue."""
    found = run(lambda i: i.stats())
    if as_json_output:
        emit_json(found)
        return
    header = ("queue", "pending", "scheduled", "active", "retry", "dead", "done", "failed")
    click.echo("{:<12}{:>10}{:>10}{:>8}{:>8}{:>8}{:>10}{:>8}".format(*header))
    for s in found:
        name = s.queue + (" (paused)" if s.paused else "")
        click.echo(
            f"{name:<12}{s.pending:>10}{s.scheduled:>10}{s.active:>8}{s.retry:>8}"
            f"{s.dead:>8}{s.processed_total:>10}{s.failed_total:>8}"
        )


@click.command()
@click.option("--no-memory", is_flag=True, help="Skip the sampled memory estimate.")
@json_option
def queues(no_memory: bool, as_json_output: bool) -> None:
    """Every queue: jobs per state, latency, memory, totals and today's counts."""
    found = run(lambda i: i.queue_info(memory=not no_memory))
    if as_json_output:
        emit_json(found)
        return
    header = ["queue", "paused", "pending", "active", "sched", "retry", "dead", "done"]
    header += ["latency", "memory", "processed", "failed", "done-today", "failed-today", "groups"]
    rows = [
        [
            q.queue,
            q.paused,
            q.pending,
            q.active,
            q.scheduled,
            q.retry,
            q.dead,
            q.completed,
            ago(q.latency),
            size(q.memory_bytes),
            q.processed_total,
            q.failed_total,
            q.processed_today,
            q.failed_today,
            q.error_groups,
        ]
        for q in found
    ]
    table(header, rows)


@click.command()
@click.argument("queue", required=False)
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True)
@json_option
def history(queue: str | None, days: int, as_json_output: bool) -> None:
    """Processed, failed and dead jobs per day (UTC), for one queue or all of them."""

    async def read(inspector: Inspector) -> list[tuple[str, list[object]]]:
        names = [queue] if queue else list(inspector.broker.keys)
        return [(name, list(await inspector.history(name, days))) for name in names]

    found = run(read)
    if as_json_output:
        emit_json([{"queue": name, "days": counts} for name, counts in found])
        return
    rows = [
        [str(day.day), name, day.processed, day.failed, day.dead]  # type: ignore[attr-defined]
        for name, counts in found
        for day in counts
    ]
    table(["day", "queue", "processed", "failed", "dead"], rows)


@click.command()
@click.argument("queue")
@click.argument("state", type=_STATES, metavar="STATE")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, help="From the previous page.")
@click.option("--type", "job_type", help="Only jobs of this job type.")
@click.option("--error", help="Only jobs whose last error contains this text.")
@click.option("--newest", is_flag=True, help="Newest first.")
@json_option
def jobs(
    queue: str,
    state: str,
    limit: int,
    offset: int,
    job_type: str | None,
    error: str | None,
    newest: bool,
    as_json_output: bool,
) -> None:
    """List the jobs of a queue in one state, oldest first."""
    page = run(
        lambda i: i.list_jobs(
            queue,
            state,
            offset=offset,
            limit=limit,
            job_type=job_type,
            error=error,
            newest_first=newest,
        )
    )
    if as_json_output:
        emit_json(page)
        return
    rows = [
        [j.id, j.job_type, j.retried, when(j.enqueued_at), when(j.failed_at), _short(j.error, 60)]
        for j in page.jobs
    ]
    table(["id", "type", "retried", "enqueued", "failed", "error"], rows)
    more = f"; next page: --offset {page.next_offset}" if page.next_offset is not None else ""
    click.echo(f"{len(page.jobs)} shown of {page.total} {state} in {queue}{more}")


@click.command()
@click.argument("job_id", metavar="ID")
@click.option("--queue", help="The job's queue (default: look in every queue).")
@json_option
def job(job_id: str, queue: str | None, as_json_output: bool) -> None:
    """Show one job: payload, state, attempts, error and traceback."""
    found = run(lambda i: i.job_detail(job_id, queue))
    if found is None:
        click.echo(f"no job {job_id!r}", err=True)
        raise click.exceptions.Exit(1)
    if as_json_output:
        emit_json(found)
        return
    click.echo(show(found))


def show(detail: JobDetail) -> str:
    """A job in full, as text."""
    r: JobRecord = detail.job
    lines = [
        f"{r.id}  {r.job_type}  queue={r.queue}  state={r.state}",
        f"  payload: {r.payload}",
        f"  retried: {r.retried}  max_retry: {r.max_retry}  deliveries: {r.deliveries}"
        f"  lost: {r.lost}  attempts: {detail.attempts}  timeout: {r.timeout}",
        f"  enqueued: {r.enqueued_at}  due: {r.process_at}  failed: {r.failed_at}"
        + (f"  completed: {detail.completed_at}" if detail.completed_at else ""),
    ]
    if detail.labels:
        lines.append(f"  labels: {detail.labels}")
    if detail.unique_digest:
        lines.append(f"  unique digest: {detail.unique_digest}")
    if r.error:
        lines.append(f"  error: {r.error}")
    if detail.error_group:
        lines.append(f"  error group: {detail.error_group}")
    if detail.legacy:
        lines.append("  stored by jobqueue 0.1")
    if r.traceback:
        lines.append("  traceback:")
        lines += [f"    {line}" for line in r.traceback.rstrip().splitlines()]
    return "\n".join(lines)


@click.command()
@click.option("--queue", help="Only workers serving this queue.")
@json_option
def workers(queue: str | None, as_json_output: bool) -> None:
    """Live worker processes: host, pid, queues, concurrency, running jobs, heartbeat."""
    found = run(lambda i: i.workers(queue))
    if as_json_output:
        emit_json(found)
        return
    now = datetime.now(UTC)
    rows = [
        [
            w.id,
            ",".join(f"{name}={weight}" for name, weight in w.queues.items()),
            f"{len(w.running)}/{w.concurrency}",
            w.held,
            ago((now - w.started_at).total_seconds()),
            ago(max(0.0, (now - w.heartbeat_at).total_seconds())) + " ago",
        ]
        for w in found
    ]
    table(["worker", "queues", "running", "held", "up", "heartbeat"], rows)
    for w in found:
        for running in w.running:
            click.echo(f"  {w.id}  {running.queue}  {running.job_type}  {running.id}")


@click.command()
@json_option
def schedules(as_json_output: bool) -> None:
    """Cron and interval schedules, with their next run and their last enqueue."""
    found = run(lambda i: i.schedules())
    if as_json_output:
        emit_json(found)
        return
    rows = [
        [
            s.id,
            s.job_type,
            f"cron {s.cron}" if s.cron else f"every {s.interval:g}s",
            when(s.next_run),
            when(s.last_enqueued_at),
            s.last_job_id,
        ]
        for s in found
    ]
    table(["schedule", "type", "when", "next run", "last enqueued", "last job"], rows)


@click.command()
@click.option("--queue", help="Only this queue.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@json_option
def errors(queue: str | None, limit: int, as_json_output: bool) -> None:
    """Error groups: retry and dead jobs grouped by a fingerprint of their error."""
    found = run(lambda i: i.error_groups(queue, limit=limit))
    if as_json_output:
        emit_json(found)
        return
    rows = [
        [
            g.id,
            g.queue,
            g.count,
            g.seen,
            when(g.last_seen),
            _short(f"{g.error_type}: {g.message}" if g.error_type else g.message, 70),
        ]
        for g in found
    ]
    table(["group", "queue", "jobs", "seen", "last seen", "error"], rows)


def _short(text: str | None, width: int = 50) -> str:
    if not text:
        return ""
    line = text.splitlines()[0] if text.splitlines() else text
    return line if len(line) <= width else line[: width - 1] + "…"


READS = [stats, queues, history, jobs, job, workers, schedules, errors]
