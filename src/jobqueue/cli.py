"""`jobqueue` command: look at the queues and act on jobs (settings from `QUEUE_*`).

jobqueue stats
jobqueue jobs default dead --limit 20
jobqueue job <id>
jobqueue run <id> --queue default       # run a dead / waiting job now
jobqueue delete <id> --queue default    # also releases its unique lock
jobqueue pause low / jobqueue resume low
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sys
from collections.abc import Sequence

from redis.exceptions import AuthenticationError as RedisAuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobqueue.errors import JobQueueError, QueueUnavailableError
from jobqueue.options import JobState
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector, JobRecord
from jobqueue.settings import QueueSettings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobqueue", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stats", help="jobs per state in every queue")
    jobs = sub.add_parser("jobs", help="list jobs of a queue in one state")
    jobs.add_argument("queue")
    jobs.add_argument("state", choices=[s.value for s in JobState])
    jobs.add_argument("--limit", type=int, default=20)
    job = sub.add_parser("job", help="show one job")
    job.add_argument("id")
    job.add_argument("--queue")
    for name, text in (("run", "run a dead or waiting job now"), ("delete", "delete a job")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("id")
        cmd.add_argument("--queue", required=True)
    for name in ("pause", "resume"):
        sub.add_parser(name, help=f"{name} fetching from a queue").add_argument("queue")
    return parser


def _show(record: JobRecord) -> str:
    lines = [
        f"{record.id}  {record.job_type}  queue={record.queue}  state={record.state}",
        f"  payload: {record.payload}",
        f"  retried: {record.retried}  max_retry: {record.max_retry}"
        f"  deliveries: {record.deliveries}",
        f"  enqueued: {record.enqueued_at}  due: {record.process_at}  failed: {record.failed_at}",
    ]
    if record.error:
        lines.append(f"  error: {record.error}")
    return "\n".join(lines)


async def _run(args: argparse.Namespace, settings: QueueSettings) -> int:
    broker = RedisJobBroker(settings)
    await broker.startup()
    try:
        inspector = Inspector(broker)
        if args.command == "stats":
            header = ("queue", "pending", "scheduled", "active", "retry", "dead", "done", "failed")
            print("{:<12}{:>10}{:>10}{:>8}{:>8}{:>8}{:>10}{:>8}".format(*header))
            for s in await inspector.stats():
                name = s.queue + (" (paused)" if s.paused else "")
                print(
                    f"{name:<12}{s.pending:>10}{s.scheduled:>10}{s.active:>8}{s.retry:>8}"
                    f"{s.dead:>8}{s.processed_total:>10}{s.failed_total:>8}"
                )
        elif args.command == "jobs":
            for listed in await inspector.jobs(args.queue, args.state, args.limit):
                print(_show(listed))
        elif args.command == "job":
            record = await inspector.job(args.id, args.queue)
            if record is None:
                print(f"no job {args.id!r}", file=sys.stderr)
                return 1
            print(_show(record))
        elif args.command in ("run", "delete"):
            action = inspector.run_now if args.command == "run" else inspector.delete
            if not await action(args.id, args.queue):
                print(f"no such job waiting: {args.id!r}", file=sys.stderr)
                return 1
            print(f"{args.command}: {args.id}")
        elif args.command == "pause":
            await inspector.pause(args.queue)
        elif args.command == "resume":
            await inspector.resume(args.queue)
        return 0
    finally:
        await broker.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status is 0 on success.

    A bad setting or an unreachable Redis is reported in one line on stderr (never with the
    password), with exit status 2.
    """
    args = _parser().parse_args(argv)
    try:
        settings = QueueSettings.from_env()
    except JobQueueError as exc:
        return _fail(str(exc))
    try:
        return asyncio.run(_run(args, settings))
    except QueueUnavailableError as exc:  # the broker's word for a Redis it cannot reach
        return _fail(_unreachable(exc.__cause__ or exc, settings))
    except JobQueueError as exc:
        return _fail(str(exc))
    except _UNREACHABLE as exc:
        return _fail(_unreachable(exc, settings))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
"""Redis could not be reached or refused us (redis-py's errors, or the socket's own)."""


def _unreachable(exc: BaseException, settings: QueueSettings) -> str:
    """One line: where we tried to connect, which variable said so, and why it failed."""
    source = "QUEUE_URL" if settings.url is not None else "QUEUE_HOST and QUEUE_PORT, or QUEUE_URL"
    return f"cannot connect to Redis at {settings.redacted_url()} (from {source}): {_cause(exc)}"


def _cause(exc: BaseException) -> str:
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(e, RedisAuthenticationError) for e in chain):
        return "authentication failed (check the username and password)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused (is Redis running on that host and port?)"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "the host name could not be resolved"
    if any(isinstance(e, RedisTimeoutError | TimeoutError) for e in chain):
        return "timed out"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    """The error's first line, with anything like a password cut out."""
    text = (str(exc).splitlines() or [""])[0]
    return re.sub(r"://[^@\s]*@", "://***@", text)
