"""The `jobqueue` command group, on click.

Why click: it parses subcommands and options with help for each, prompts for confirmation,
draws progress bars, and is tested through `main(argv)` as easily as through a process; it has
no dependencies of its own. Tables are plain aligned columns (no rich): they read the same in a
terminal, a log and a pipe into grep or awk, and `--json` is there for programs.
"""

from __future__ import annotations

import click

from jobqueue.cli._actions import ACTIONS
from jobqueue.cli._reads import READS
from jobqueue.cli._serve import metrics
from jobqueue.cli._web import web

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobqueue", prog_name="jobqueue", message="%(prog)s %(version)s")
def cli() -> None:
    """Look at jobqueue's queues, workers, schedules and errors, and act on jobs.

    Settings come from QUEUE_* (as in workers). Reads take --json; bulk actions ask first
    unless --yes.
    """


for _command in [*READS, *ACTIONS, metrics, web]:
    cli.add_command(_command)
