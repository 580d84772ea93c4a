"""The worker process every chaos scenario runs, and the ledger it writes.

`taskiq worker chaos.worker:make_broker --workers 1 --receiver jobqueue.receiver:JobReceiver`,
with the queue settings in `QUEUE_*` variables and two of the harness's own:

- `CHAOS_LEDGER`: the ledger file. Every worker process appends to it, one `os.write` of one
  line per event on a descriptor opened with `O_APPEND`, so lines of concurrent workers never
  interleave, and a line is on disk (in the page cache) once written, whatever happens to the
  process or to Redis next;
- `CHAOS_SLOT`: which worker command of the pool this process belongs to.

Ledger lines are `<event> <key> <pid> <unix time>`:

- `ready <slot>`: the broker of a worker process has started (a restarted process writes it
  again, with its new pid);
- `start <key>`: a job's handler began; `<key>` is the payload's `key` (the job id for most
  jobs, the round for unique jobs);
- `done <key>`: the handler's body ran to its end, written before the acknowledgement goes out;
- `exit <key>`: the handler is about to end its own process with `os._exit(1)`.

Jobs: `chaos:work` sleeps `ms` milliseconds (asyncio), after its `trigger` file exists if it
names one; `chaos:stall` waits (asyncio) until its `trigger` file exists, then, on its first
run only (a stall is a passing event), blocks the event loop with `time.sleep(seconds)`;
`chaos:raise` raises the `BaseException` named by `kind` (`BaseException`, `SystemExit`,
`KeyboardInterrupt`), or with `kind` `exit` calls `os._exit(1)`. Exceptions raised on purpose
carry `DELIBERATE` in their message, so the log scan can tell them from crashes.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from taskiq import TaskiqEvents, TaskiqState

from jobqueue import JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker

__all__ = ["DELIBERATE", "make_broker", "registry"]

DELIBERATE = "chaos-deliberate"
"""In the message of every exception a chaos job raises on purpose."""

registry = JobRegistry()
_ledger_fd: int | None = None


def record(event: str, key: str) -> None:
    """Append one ledger line (a single write: atomic with O_APPEND for lines this short)."""
    if _ledger_fd is None:
        raise RuntimeError("CHAOS_LEDGER is not set")
    os.write(_ledger_fd, f"{event} {key} {os.getpid()} {time.time():.6f}\n".encode())


async def _wait_for(trigger: Path) -> None:
    while not trigger.exists():  # noqa: ASYNC110, ASYNC240 - a file has no event to wait on
        await asyncio.sleep(0.01)


@registry.job("chaos:work")
async def work(payload: dict[str, Any]) -> None:
    """Sleep `ms` milliseconds without blocking the event loop (after `trigger`, if given)."""
    key = str(payload["key"])
    record("start", key)
    if "trigger" in payload:
        await _wait_for(Path(str(payload["trigger"])))
    await asyncio.sleep(float(payload.get("ms", 0)) / 1000)
    record("done", key)


@registry.job("chaos:stall")
async def stall(payload: dict[str, Any]) -> None:
    """Wait for the trigger file, then block the whole event loop for `seconds`."""
    key = str(payload["key"])
    record("start", key)
    trigger = Path(str(payload["trigger"]))
    await _wait_for(trigger)
    stalled = trigger.with_name(trigger.name + ".stalled")
    if not stalled.exists():  # a stall is a passing event: only the first run blocks
        stalled.touch()
        time.sleep(float(payload["seconds"]))  # noqa: ASYNC251 - blocking on purpose
    record("done", key)


@registry.job("chaos:raise")
async def raise_(payload: dict[str, Any]) -> None:
    """Raise a `BaseException` that is not an `Exception`, or end the process."""
    key = str(payload["key"])
    kind = str(payload["kind"])
    record("start", key)
    message = f"{DELIBERATE}: {kind} raised by job {key}"
    if kind == "exit":
        record("exit", key)
        os._exit(1)
    if kind == "SystemExit":
        raise SystemExit(message)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt(message)
    raise BaseException(message)


def make_broker() -> RedisJobBroker:
    """The factory `taskiq worker` calls in each worker process."""
    global _ledger_fd
    ledger = os.environ.get("CHAOS_LEDGER")
    if ledger:
        _ledger_fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    slot = os.environ.get("CHAOS_SLOT", "0")
    broker = RedisJobBroker(QueueSettings.from_env(), registry=registry)

    async def ready(state: TaskiqState) -> None:
        record("ready", slot)

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, ready)
    return broker
