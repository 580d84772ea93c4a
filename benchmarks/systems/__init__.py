"""One adapter module per system. Each runs only inside its own venv (see `benchmarks.venvs`).

An adapter module holds, at the top, a `SETTINGS` dict documenting the worker settings used, then
the two job bodies (`noop` and `sleep`), the worker entry point (the object its CLI loads), and:

- `worker_command() -> (argv, env)`: how to start one worker process with the system's own CLI
  (argv after the venv's `python`);
- `open_producer()`: an object with `enqueue(body, t)` (and optionally `enqueue_many(body, ts)`,
  `prepare()` and `close()`); async methods, or sync ones when the module sets `SYNC = True`.

This package itself imports nothing from any system, so the harness can read this registry from
the main venv.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    """A system under test: its adapter module and the venv it runs from (None: the harness's)."""

    name: str
    module: str
    venv: str | None


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("jobqueue", "benchmarks.systems.jobqueue", "jobqueue"),
        System("taskiq-list", "benchmarks.systems.taskiq_list", "taskiq"),
        System("taskiq-stream", "benchmarks.systems.taskiq_stream", "taskiq"),
        System("arq", "benchmarks.systems.arq", "arq"),
        System("saq", "benchmarks.systems.saq", "saq"),
        System("dramatiq", "benchmarks.systems.dramatiq", "dramatiq"),
        System("streaq", "benchmarks.systems.streaq", "streaq"),
        System("celery", "benchmarks.systems.celery", "celery"),
    )
}
