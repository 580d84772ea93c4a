"""`jobqueue` command: look at the queues, workers, schedules and errors, and act on jobs.

Settings come from `QUEUE_*`, as in workers. Every read takes `--json` (one JSON document with
the field names of `jobqueue.redis.inspector`'s views); bulk actions ask first unless `--yes`.
See docs/operations.md. Built on click: see `_app.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from jobqueue.cli._app import cli
from jobqueue.cli._errors import UNREACHABLE, first_line, unreachable
from jobqueue.cli._session import Session
from jobqueue.errors import JobQueueError, QueueUnavailableError

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status is 0 on success, 1 when what was asked for is not there.

    Bad input, a bad setting or an unreachable Redis is reported in one line on stderr (never
    with the password), with exit status 2.
    """
    session = Session()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="jobqueue", standalone_mode=False, obj=session)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:  # bad input: a usage error names the option
        return _fail(exc.format_message())
    except QueueUnavailableError as exc:  # the broker's word for a Redis it cannot reach
        return _fail(unreachable(exc.__cause__ or exc, session.loaded))
    except JobQueueError as exc:
        return _fail(first_line(exc))
    except UNREACHABLE as exc:
        return _fail(unreachable(exc, session.loaded))
    except OSError as exc:  # e.g. the metrics port is taken
        return _fail(f"{type(exc).__name__}: {first_line(exc)}")
    return int(status or 0)


def _fail(message: str) -> int:
    click.echo(f"error: {message}", err=True)
    return 2
