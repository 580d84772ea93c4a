"""The action commands: run, delete and kill (by id, state, filter or error group), and more.

Also pause, resume, delete-queue and regroup.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from jobqueue.cli._session import emit_json, json_option, run
from jobqueue.options import JobState
from jobqueue.redis.inspector import ActionResult, Inspector

__all__ = ["ACTIONS"]

_PROGRESS_FROM = 1000
"""Bulk actions on at least this many jobs show a progress bar (on stderr)."""
_HELP = {
    "run": "Run jobs now: scheduled, retry-waiting or dead ones go to pending, retries reset.",
    "delete": "Delete jobs that are not running (releases their unique locks).",
    "kill": "Move pending, scheduled or retry-waiting jobs to dead, keeping their last error.",
}


class _Bar:
    """A progress bar on stderr, shown for large sets only."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < _PROGRESS_FROM:
                return
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _confirm(yes: bool, what: str) -> None:
    if not yes:
        click.confirm(f"{what}?", abort=True, err=True)


def _describe(state: str | None, group: str | None, job_type: str | None, error: str | None) -> str:
    what = f"{state} jobs" if state else f"jobs of error group {group}"
    if job_type:
        what += f" of type {job_type!r}"
    if error:
        what += f" whose error contains {error!r}"
    return what


async def _one(inspector: Inspector, action: str, job_id: str, queue: str | None) -> bool:
    if queue is None:
        found = await inspector.job_detail(job_id)
        if found is None:
            return False
        queue = found.job.queue
    if action == "run":
        return await inspector.run_now(job_id, queue)
    if action == "delete":
        return await inspector.delete(job_id, queue)
    return await inspector.kill(job_id, queue)


def _bulk(action: str, options: dict[str, Any]) -> Callable[[Inspector], Any]:
    async def go(inspector: Inspector) -> list[ActionResult]:
        ids: tuple[str, ...] = options["ids"]
        queue, group = options["queue"], options["group"]
        filters = {"job_type": options["job_type"], "error": options["error"]}
        if ids:
            _confirm(options["yes"], f"{action} {len(ids)} jobs")
            by_queue: dict[str, list[str]] = {}
            for job_id in ids:
                where = queue or await _queue_of(inspector, job_id)
                if where is not None:
                    by_queue.setdefault(where, []).append(job_id)
            return [
                await inspector.act(action, q, ids=found, **filters)
                for q, found in by_queue.items()
            ]
        if group is not None and queue is None:
            found_group = await inspector.error_group(group)
            if found_group is None:
                raise click.UsageError(f"no error group {group!r} in any queue")
            queue = found_group.queue
        if queue is None:
            raise click.UsageError("--state needs --queue")
        what = _describe(options["state"], group, **filters)
        _confirm(options["yes"], f"{action} the {what} of queue {queue}")
        bar = _Bar(f"{action} {queue}")
        try:
            selection = {"state": options["state"]} if options["state"] else {"group": group}
            return [await inspector.act(action, queue, progress=bar, **selection, **filters)]
        finally:
            bar.close()

    return go


async def _queue_of(inspector: Inspector, job_id: str) -> str | None:
    found = await inspector.job_detail(job_id)
    return found.job.queue if found is not None else None


def _action(action: str) -> click.Command:
    @click.command(name=action, help=_HELP[action])
    @click.argument("ids", nargs=-1, metavar="[ID]...")
    @click.option("--queue", help="The jobs' queue (default: look each id up).")
    @click.option(
        "--state", type=click.Choice([s.value for s in JobState]), help="Every job in it."
    )
    @click.option("--group", help="Every job of this error group (see `jobqueue errors`).")
    @click.option("--type", "job_type", help="Only jobs of this job type.")
    @click.option("--error", help="Only jobs whose last error contains this text.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask before a bulk action.")
    @json_option
    def command(**options: Any) -> None:
        ids, state, group = options["ids"], options["state"], options["group"]
        if sum(bool(x) for x in (ids, state, group)) != 1:
            raise click.UsageError("give job ids, or --state, or --group (one of them)")
        if len(ids) == 1 and not (options["job_type"] or options["error"]):
            if not run(lambda i: _one(i, action, ids[0], options["queue"])):
                click.echo(f"no such job waiting: {ids[0]!r}", err=True)
                raise click.exceptions.Exit(1)
            if options["as_json_output"]:
                emit_json({"action": action, "id": ids[0], "done": 1})
            else:
                click.echo(f"{action}: {ids[0]}")
            return
        results = run(_bulk(action, options))
        if options["as_json_output"]:
            emit_json(results)
            return
        for r in results:
            running = f", {r.running} running left alone" if r.running else ""
            click.echo(f"{action}: {r.done} jobs in {r.queue} ({r.examined} examined{running})")
        if not any(r.done for r in results):
            raise click.exceptions.Exit(1)

    return command


@click.command()
@click.argument("queue")
def pause(queue: str) -> None:
    """Stop workers fetching from a queue (producers can still enqueue)."""
    run(lambda i: i.pause(queue))
    click.echo(f"paused: {queue}")


@click.command()
@click.argument("queue")
def resume(queue: str) -> None:
    """Let workers fetch from a paused queue again."""
    run(lambda i: i.resume(queue))
    click.echo(f"resumed: {queue}")


@click.command(name="delete-queue")
@click.argument("queue")
@click.option("--force", is_flag=True, help="Delete the queue's jobs with it.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
def delete_queue(queue: str, force: bool, yes: bool) -> None:
    """Delete a queue: refused while it holds jobs, unless --force (never while one runs)."""

    async def go(inspector: Inspector) -> int:
        _confirm(yes, f"delete queue {queue}" + (" and all its jobs" if force else ""))
        bar = _Bar(f"delete {queue}")
        try:
            return await inspector.delete_queue(queue, force=force, progress=bar)
        finally:
            bar.close()

    deleted = run(go)
    click.echo(f"deleted queue {queue} ({deleted} jobs)")


@click.command()
@click.argument("queue")
def regroup(queue: str) -> None:
    """File retry and dead jobs stored before error groups existed under their groups."""

    async def go(inspector: Inspector) -> int:
        bar = _Bar(f"regroup {queue}")
        try:
            return await inspector.rebuild_error_groups(queue, progress=bar)
        finally:
            bar.close()

    click.echo(f"regroup: {run(go)} jobs filed")


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--queue", help="The jobs' queue (default: whichever holds each).")
@json_option
def cancel(ids: tuple[str, ...], queue: str | None, as_json_output: bool) -> None:
    """Cancel jobs: waiting ones are removed, running ones are stopped (kept as cancelled)."""

    async def go(inspector: Inspector) -> dict[str, str]:
        return {job_id: (await inspector.cancel(job_id, queue)).value for job_id in ids}

    outcomes = run(go)
    if as_json_output:
        emit_json({"cancelled": outcomes})
    else:
        for job_id, outcome in outcomes.items():
            click.echo(f"{job_id}  {outcome}")
    if not any(o in ("cancelled", "stopping") for o in outcomes.values()):
        raise click.exceptions.Exit(1)


ACTIONS = [_action("run"), _action("delete"), _action("kill"), cancel, pause, resume]
ACTIONS += [delete_queue, regroup]
