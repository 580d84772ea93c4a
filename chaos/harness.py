"""The harness every chaos scenario shares: Redis, workers, ledger, producer, figures, report.

A scenario gets a private Redis (`ChaosRedis`), a pool of real `taskiq worker` processes
(`WorkerPool`), the ledger they append to (`Ledger`), a producer on the public API (`Producer`),
and turns what happened into a `ScenarioResult`: one row of the report, with its verdict.

Definitions used in the report (see also `chaos/README.md`):

- **in**: jobs the producer saw accepted (a `JobInfo`, or a `DuplicateJobError` for its own id
  on a re-send after a transient error: the first attempt had landed), plus the bad jobs a
  scenario writes straight into Redis.
- **done**: jobs of those with at least one `done` line in the ledger.
- **dead**: jobs of those in a dead set at the end (read through `Inspector`), with their reasons.
- **lost**: jobs of those that never completed and are not in a dead set for a reason the
  scenario expects (a job buried for a wrong reason counts as lost).
- **twice**: jobs with more than one `done` line (completed more than once); a scenario says
  which of them its promise allows.
- **crash**: worker processes that exited when the scenario did not end them itself (SIGKILL by
  the harness, or a job's deliberate `os._exit`, which are counted apart). Two counts are taken
  per worker command and the larger is kept: worker pids (each process registers in the ledger
  when its broker has started) that are gone before the pool is stopped, and Taskiq's process
  manager's "worker-N is dead. Scheduling reload." lines, which also catch a process that died
  before it could register (at startup, while Redis is down). Crash tracebacks (printed by
  `multiprocessing` after "Process worker-N:") are collected to explain them.
- **recovery**: seconds from the end of the fault (the last SIGKILL, Redis answering PING
  again, the pause's end, the last CLIENT KILL, the stall's end) until throughput is back:
  until half the offered load's completions per second (`RECOVERED_SHARE` of the producer's
  rate) have landed within one second, all of them after the fault ended; or until the last job
  completed, if that comes first. A completion is a job's first `done` line. Blank for
  scenarios without a steady load.
- **drain**: seconds from the end of the fault until the last `done` line (a job that runs
  again after all the others had finished counts).
- **state**: jobs that are, at the end, in more than one place (pending, lease, scheduled,
  retry, dead, completed), still waiting after the drain, in a list without a stored job, or
  completed and yet also waiting or dead.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from chaos import layout
from chaos.worker import DELIBERATE
from jobqueue import DuplicateJobError, EnqueueOptions, JobInfo, JobQueue, JobQueueError
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.settings import QueueSettings
from jobqueue.testing import RedisServer
from jobqueue.testing.redis_server import find_redis_server

ROOT = Path(__file__).resolve().parent.parent
WORKER = "chaos.worker:make_broker"
RECEIVER = "jobqueue.receiver:JobReceiver"
WORKER_ARGV = (sys.executable, "-m", "taskiq", "worker", WORKER, "--workers", "1")
RECOVERED_SHARE = 0.5
PREFIX = "chaos"

EnqueueItem = tuple[str, dict[str, Any], EnqueueOptions]

# -- processes ------------------------------------------------------------------------------------

_LIVE_GROUPS: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_SERVERS: list[RedisServer] = []


def _cleanup() -> None:
    """At exit: end every process group and Redis server this harness started (by pid)."""
    for proc in list(_LIVE_GROUPS.values()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    _LIVE_GROUPS.clear()
    for server in list(_LIVE_SERVERS):
        server.stop()
    _LIVE_SERVERS.clear()


atexit.register(_cleanup)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP end the run through `SystemExit`, so that clean-up runs."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def exited(pid: int) -> bool:
    """Whether a process has exited (gone, or a zombie)."""
    stat = _stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def parent_of(pid: int) -> int | None:
    """The parent pid of a running process."""
    stat = _stat(pid)
    return int(stat[1]) if stat is not None else None


def redis_version(executable: str) -> tuple[int, ...]:
    """The version of a `redis-server` binary, `()` if it cannot tell."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else ()


def pick_redis_server() -> str:
    """`CHAOS_REDIS_SERVER`, else the newest `redis-server` on PATH (a venv may shadow it)."""
    if os.environ.get("CHAOS_REDIS_SERVER"):
        return os.environ["CHAOS_REDIS_SERVER"]
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("redis-server", path=folder)
        if candidate and candidate not in found:
            found.append(candidate)
    return max(found, key=redis_version) if found else find_redis_server()


# -- the run's context ----------------------------------------------------------------------------


@dataclass
class Context:
    """What a scenario gets: the mode, the Redis binary, and a directory of its own."""

    quick: bool
    redis_server: str
    workdir: Path
    seed: int = 0

    def path(self, name: str) -> Path:
        """A file in this scenario's directory."""
        return self.workdir / name

    def pick(self, quick: Any, full: Any) -> Any:
        """The quick or the full size of something."""
        return quick if self.quick else full


def queue_env(url: str, **settings: Any) -> dict[str, str]:
    """`QUEUE_*` variables: short timings, overridden by `settings` (as `lease_timeout=2`)."""
    values: dict[str, Any] = {
        "url": url,
        "key_prefix": PREFIX,
        "lease_timeout": 2,
        "recovery_interval": 0.5,
        "shutdown_timeout": 1,
        "concurrency": 10,
        "prefetch": 10,
        "max_deliveries": 5,
        "poll_interval": 0.05,
    }
    values.update(settings)
    return {f"QUEUE_{name.upper()}": str(value) for name, value in values.items()}


def settings_from(env: dict[str, str]) -> QueueSettings:
    """The `QueueSettings` a worker with this environment reads (for the harness's own broker)."""
    return QueueSettings.from_env(
        **{name[len("QUEUE_") :].lower(): value for name, value in env.items()}
    )


# -- Redis ----------------------------------------------------------------------------------------


class ChaosRedis:
    """The scenario's private Redis and the faults it can suffer.

    With `aof=True` it writes an append-only file with `appendfsync always`: every write is on
    disk before Redis answers it, so a SIGKILL of Redis loses nothing that any client was told
    had happened. With `everysec` (the usual production setting) a crash may drop the last second
    of writes, and the scenario would measure Redis's fsync window rather than jobqueue. The data
    directory is kept across restarts, and a restart listens on the same port.

    `loading_delay_us` makes Redis spend that long on each command it replays at startup (the
    `key-load-delay` test knob), and `ballast` fills database 15 with that many keys, so that a
    restarted server answers `-LOADING` for a second or so, as a production server with a large
    dataset does; clients must cope with that too.
    """

    def __init__(
        self, ctx: Context, *, aof: bool = False, loading_delay_us: int = 0, ballast: int = 0
    ) -> None:
        extra = ["--logfile", str(ctx.path("redis.log"))]
        if loading_delay_us:
            extra += [
                "--key-load-delay",
                str(loading_delay_us),
                "--loading-process-events-interval-bytes",
                "1024",
            ]
        self.server = RedisServer(
            ctx.redis_server,
            appendonly=aof,
            appendfsync="always",
            data_dir=ctx.path("redis-data") if aof else None,
            extra_args=extra,
        )
        self.ballast = ballast
        self._admin: Redis | None = None

    @property
    def url(self) -> str:
        """The queue's database (0)."""
        return f"{self.server.url}/0"

    @property
    def admin(self) -> Redis:
        """A client for the harness's own commands (no retries: they would hide faults)."""
        if self._admin is None:
            self._admin = Redis.from_url(
                self.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2
            )
        return self._admin

    async def start(self) -> None:
        """Start the server (and write the ballast)."""
        await asyncio.to_thread(self.server.start)
        _LIVE_SERVERS.append(self.server)
        if self.ballast:
            ballast = Redis.from_url(f"{self.server.url}/15")
            try:
                for start in range(0, self.ballast, 1000):
                    async with ballast.pipeline(transaction=False) as pipe:
                        for i in range(start, min(start + 1000, self.ballast)):
                            pipe.set(f"ballast:{i}", "x" * 32)
                        await pipe.execute()
            finally:
                await ballast.aclose()

    def kill(self) -> None:
        """SIGKILL the server (its AOF stays)."""
        self.server.kill()

    async def shutdown_nosave(self) -> None:
        """`SHUTDOWN NOSAVE` (on a raw socket: redis-py would retry it), and wait for the exit."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            with contextlib.suppress(OSError):
                while sock.recv(1024):
                    pass
        process = self.server.process
        if process is not None:
            await asyncio.to_thread(process.wait, 30)

    async def restart(self) -> float:
        """Start the server again on its port; the time it answered PING (data loaded)."""
        await asyncio.to_thread(self.server.restart, 120.0)
        return time.time()

    async def client_kill(self) -> int:
        """`CLIENT KILL TYPE normal` (every normal client but the harness's admin connection)."""
        killed = await self.admin.execute_command(  # type: ignore[no-untyped-call]
            "CLIENT", "KILL", "TYPE", "normal"
        )
        return int(killed)

    async def close(self) -> None:
        """Close the admin client and stop the server."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.aclose()
            self._admin = None
        self.server.stop()
        with contextlib.suppress(ValueError):
            _LIVE_SERVERS.remove(self.server)


# -- the ledger -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One ledger line."""

    kind: str
    key: str
    pid: int
    t: float


class Ledger:
    """Reads the ledger file the workers append to (see `chaos.worker`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self.events: list[Event] = []
        self._offset = 0
        self._partial = b""

    def refresh(self) -> None:
        """Read the lines appended since the last call."""
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            parts = line.decode(errors="replace").split(" ")
            if len(parts) == 4:
                self.events.append(Event(parts[0], parts[1], int(parts[2]), float(parts[3])))

    def of(self, kind: str) -> list[Event]:
        """Events of one kind, in order."""
        return [e for e in self.events if e.kind == kind]

    def done_counts(self) -> collections.Counter[str]:
        """How many `done` lines each key has."""
        return collections.Counter(e.key for e in self.events if e.kind == "done")

    def first_done(self) -> dict[str, float]:
        """Key -> time of its first `done`."""
        out: dict[str, float] = {}
        for e in self.events:
            if e.kind == "done" and e.key not in out:
                out[e.key] = e.t
        return out

    def started_in(self, pids: Iterable[int]) -> set[str]:
        """Keys of jobs that started in one of these processes."""
        chosen = set(pids)
        return {e.key for e in self.events if e.kind == "start" and e.pid in chosen}


# -- workers --------------------------------------------------------------------------------------

_DEAD_LINE = re.compile(r"worker-\d+ is dead\. Scheduling reload")
_PROCESS_LINE = re.compile(r"^Process worker-\d+:$")
_LEVEL_LINE = re.compile(r"^\[[^\]]*\]\[([^\]]+)\]\[(ERROR|CRITICAL)\s*\]")
_FAILED_ACK = re.compile(r"acknowledging job (\S+) failed")
_FRAME = re.compile(r'File "[^"]*/jobqueue/([\w/]+)\.py", line \d+, in (\w+)')
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")


@dataclass
class LogScan:
    """What a worker command's log shows."""

    dead_lines: int = 0
    recovery_scans: int = 0
    """Scans that took back jobs whose lease had expired ("Recovered jobs of a stopped worker")."""
    crash_exceptions: list[str] = field(default_factory=list)
    """The last exception line of each traceback that ended a worker process."""
    tracebacks: collections.Counter[str] = field(default_factory=collections.Counter)
    """Other tracebacks not raised on purpose, by their exception line (errors, not crashes)."""
    deliberate_tracebacks: int = 0
    error_lines: collections.Counter[str] = field(default_factory=collections.Counter)
    """ERROR and CRITICAL log lines, by logger."""
    failed_acks: set[str] = field(default_factory=set)
    """Jobs whose acknowledgement failed ("acknowledging job <id> failed ...")."""
    marker_lines: int = 0
    longest_line: int = 0


def _exception_line(lines: list[str], start: int) -> tuple[str, int]:
    """The exception line of the traceback whose header is at `start`, and its index."""
    j = start + 1
    while j < len(lines) and (not lines[j].strip() or lines[j][:1] in (" ", "\t")):
        j += 1
    return (lines[j] if j < len(lines) else "?"), j


def scan_log(text: str, marker: str | None = None) -> LogScan:
    """Count restarts, crash tracebacks, other tracebacks and marker hits in a worker log."""
    scan = LogScan()
    lines = text.splitlines()
    crash_chain = False
    i = 0
    while i < len(lines):
        line = lines[i]
        scan.longest_line = max(scan.longest_line, len(line))
        if marker is not None and marker in line:
            scan.marker_lines += 1
        if _DEAD_LINE.search(line):
            scan.dead_lines += 1
        if "Recovered jobs of a stopped worker" in line:
            scan.recovery_scans += 1
        failed_ack = _FAILED_ACK.search(line)
        if failed_ack:
            scan.failed_acks.add(failed_ack.group(1))
        level = _LEVEL_LINE.match(line)
        if level:
            scan.error_lines[level.group(1)] += 1
        if _PROCESS_LINE.match(line):
            crash_chain = True
        elif line.startswith("Traceback (most recent call last):"):
            final, end = _exception_line(lines, i)
            chained = end + 2 < len(lines) and lines[end + 2].startswith(_CHAIN)
            if DELIBERATE in final:
                scan.deliberate_tracebacks += 1
            elif crash_chain and not chained:
                frames = _FRAME.findall("\n".join(lines[i:end]))
                names = [f"{module}.{function}" for module, function in frames]
                if len(names) > 5:
                    names = [*names[:4], "…", names[-1]]
                where = " > ".join(names)
                scan.crash_exceptions.append(final[:240] + (f" [in {where}]" if where else ""))
            elif not crash_chain:
                scan.tracebacks[final[:160]] += 1
            if not chained:
                crash_chain = False
            for skipped in lines[i + 1 : end + 1]:
                scan.longest_line = max(scan.longest_line, len(skipped))
                if marker is not None and marker in skipped:
                    scan.marker_lines += 1
            i = end + 1
            continue
        elif line.strip() and not line.startswith(_CHAIN):
            crash_chain = False  # "Process worker-N:" is followed by its traceback at once
        i += 1
    return scan


@dataclass
class CrashReport:
    """Worker exits over a scenario, told apart by who caused them."""

    unexpected: int = 0
    deliberate_kills: int = 0
    deliberate_exits: int = 0
    processes: int = 0
    recovery_scans: int = 0
    crash_exceptions: list[str] = field(default_factory=list)
    tracebacks: dict[str, int] = field(default_factory=dict)
    deliberate_tracebacks: int = 0
    error_lines: dict[str, int] = field(default_factory=dict)
    crashed_slots: list[int] = field(default_factory=list)
    crashed_pids: list[int] = field(default_factory=list)
    """Registered worker processes that exited unexpectedly."""
    failed_acks: list[str] = field(default_factory=list)
    marker_lines: int = 0
    longest_log_line: int = 0


class WorkerPool:
    """`size` worker commands (`taskiq worker ... --workers 1`), each in its own process group.

    The harness signals only the groups and the pids it started: a child is SIGKILLed only after
    checking that its parent is the command this pool spawned.
    """

    def __init__(self, ctx: Context, env: dict[str, str], size: int, ledger: Ledger) -> None:
        self.ctx = ctx
        self.env = env
        self.size = size
        self.ledger = ledger
        self.commands: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.killed: dict[int, int] = {}
        """Pid -> slot of each child the harness SIGKILLed."""
        self.kill_times: list[float] = []
        self._census: dict[int, tuple[bool, int]] = {}

    def start(self) -> None:
        """Spawn the worker commands."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "CHAOS_"))}
        for slot in range(len(self.commands), self.size):
            log = self.ctx.path(f"worker-{slot}.log")
            env = {**base, **self.env, "CHAOS_LEDGER": str(self.ledger.path)}
            env["CHAOS_SLOT"] = str(slot)
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [*WORKER_ARGV, "--receiver", RECEIVER],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            _LIVE_GROUPS[proc.pid] = proc
            self.commands.append(proc)
            self.logs.append(log)

    def registered(self, slot: int) -> list[int]:
        """Pids of the worker processes of a slot, in the order they started."""
        return [
            e.pid for e in self.ledger.of("ready") if e.key == str(slot) and self._ours(slot, e.pid)
        ]

    def _ours(self, slot: int, pid: int) -> bool:
        parent = parent_of(pid)
        return parent is None or parent == self.commands[slot].pid

    def child(self, slot: int) -> int | None:
        """The running worker process of a slot, if it has registered."""
        pids = self.registered(slot)
        if pids and not exited(pids[-1]) and parent_of(pids[-1]) == self.commands[slot].pid:
            return pids[-1]
        return None

    async def wait_ready(self, seconds: float = 60.0, slots: Iterable[int] | None = None) -> None:
        """Wait until every slot (or the given ones) has a registered, running worker process."""
        chosen = list(range(self.size)) if slots is None else list(slots)
        deadline = time.monotonic() + seconds
        while True:
            self.ledger.refresh()
            if all(self.child(slot) is not None for slot in chosen):
                return
            for slot in chosen:
                if self.commands[slot].poll() is not None:
                    raise RuntimeError(
                        f"worker command {slot} exited:\n{log_tail(self.logs[slot], 30)}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"workers not ready after {seconds:.0f} s:\n{log_tail(self.logs[0], 30)}"
                )
            await asyncio.sleep(0.05)

    def sigkill_child(self, slot: int) -> int | None:
        """SIGKILL the running worker process of a slot (the process manager restarts it)."""
        self.ledger.refresh()
        pid = self.child(slot)
        if pid is None:
            return None
        os.kill(pid, signal.SIGKILL)
        self.killed[pid] = slot
        self.kill_times.append(time.time())
        return pid

    def census(self) -> None:
        """Note which registered processes are gone, and how far each log has got."""
        self.ledger.refresh()
        self._census = {}
        for slot in range(self.size):
            for pid in self.registered(slot):
                self._census[pid] = (exited(pid), slot)
        self._log_sizes = [log.stat().st_size if log.exists() else 0 for log in self.logs]

    def deliberate_pids(self) -> set[int]:
        """Processes the scenario ended itself: SIGKILLed, or by a job's `os._exit`."""
        return set(self.killed) | {e.pid for e in self.ledger.of("exit")}

    def crash_report(self, marker: str | None = None) -> CrashReport:
        """Unexpected exits and log findings (after `census()`; whole logs for the findings)."""
        if not self._census:
            self.census()
        exits = {e.pid for e in self.ledger.of("exit")}
        report = CrashReport(deliberate_kills=len(self.killed), deliberate_exits=len(exits))
        tracebacks: collections.Counter[str] = collections.Counter()
        errors: collections.Counter[str] = collections.Counter()
        for slot in range(self.size):
            pids = [pid for pid, (_, s) in self._census.items() if s == slot]
            report.processes += len(pids)
            gone = [pid for pid in pids if self._census[pid][0]]
            crashed = [pid for pid in gone if pid not in self.killed and pid not in exits]
            report.crashed_pids += crashed
            by_pid = len(crashed)
            deliberate = len([pid for pid in gone if pid in self.killed or pid in exits])
            data = self.logs[slot].read_bytes() if self.logs[slot].exists() else b""
            before = scan_log(data[: self._log_sizes[slot]].decode(errors="replace"))
            whole = scan_log(data.decode(errors="replace"), marker)
            by_log = max(0, before.dead_lines - deliberate)
            unexpected = max(by_pid, by_log)
            report.unexpected += unexpected
            if unexpected:
                report.crashed_slots.append(slot)
            report.crash_exceptions += whole.crash_exceptions
            tracebacks.update(whole.tracebacks)
            errors.update(whole.error_lines)
            report.recovery_scans += whole.recovery_scans
            report.failed_acks += sorted(whole.failed_acks)
            report.deliberate_tracebacks += whole.deliberate_tracebacks
            report.marker_lines += whole.marker_lines
            report.longest_log_line = max(report.longest_log_line, whole.longest_line)
        report.tracebacks = dict(tracebacks.most_common())
        report.error_lines = dict(errors.most_common())
        return report

    async def stop(self) -> None:
        """SIGTERM each group, SIGKILL what is left after the grace period."""
        if not self._census:
            self.census()
        for proc in self.commands:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + float(self.env.get("QUEUE_SHUTDOWN_TIMEOUT", "1")) + 6
        running = [p for p in self.commands if p.poll() is None]
        while running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            running = [p for p in running if p.poll() is None]
        for proc in self.commands:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            _LIVE_GROUPS.pop(proc.pid, None)


def crash_excerpt(path: Path, before: int = 6, last: int = 14, width: int = 300) -> str:
    """The lines that lead to a log's first crash, and the end of its traceback.

    The log's tail when it shows no crash ("Process worker-N:" and a traceback).
    """
    try:
        lines = path.read_bytes().decode(errors="replace").splitlines()
    except OSError:
        return ""
    start = next((i for i, line in enumerate(lines) if _PROCESS_LINE.match(line)), None)
    if start is None:
        return log_tail(path, width=width)
    end = start + 1
    while end < len(lines) and not _LEVEL_OR_MANAGER.match(lines[end]):
        end += 1
    head = lines[max(0, start - before) : start + 1]
    body = lines[start + 1 : end]
    if len(body) > last:
        body = ["    ...", *body[-last:]]
    return "\n".join(line[:width] for line in [*head, *body])


_LEVEL_OR_MANAGER = re.compile(r"^\[\d{4}-")


def log_tail(path: Path, lines: int = 25, width: int = 300) -> str:
    """The last lines of a log, each cut to `width` characters."""
    try:
        text = path.read_bytes()[-200_000:].decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(line[:width] for line in text.splitlines()[-lines:])


# -- the producer ---------------------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """An error a producer should retry: Redis unreachable, loading, or the queue unavailable."""
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True  # BusyLoadingError is a ConnectionError
    if isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith("LOADING"):
        return True
    if isinstance(exc, JobQueueError) and "unavailable" in str(exc).lower():
        return True
    return isinstance(exc, ConnectionError | TimeoutError)


def describe(exc: BaseException) -> str:
    """An error's class and the start of its message, to count kinds of errors."""
    return f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:60]}"


class Producer:
    """Enqueues through the public API and keeps what it saw succeed.

    A batch that fails with a transient error is sent again, same job ids, until it lands or
    `give_up` seconds have passed. On a re-send, `DuplicateJobError` for the job's own id means an
    earlier attempt had stored it: it counts once, as accepted.
    """

    def __init__(self, settings: QueueSettings, give_up: float = 90.0) -> None:
        self.broker = RedisJobBroker(settings)
        self.queue = JobQueue(self.broker)
        self.give_up = give_up
        self.accepted: dict[str, float] = {}
        self.refused: dict[str, str] = {}
        self.resent: set[str] = set()
        self.landed_earlier: set[str] = set()
        self.errors: collections.Counter[str] = collections.Counter()
        self.sent = 0
        self.finished_at: float | None = None

    async def start(self) -> None:
        """Connect (retrying while Redis is not there yet)."""
        await retry_transient(self.queue.start, 30.0)

    async def close(self) -> None:
        """Disconnect."""
        with contextlib.suppress(Exception):
            await self.queue.close()

    async def submit(self, items: Sequence[EnqueueItem]) -> None:
        """Enqueue a batch with `enqueue_many`, re-sending it on transient errors."""
        todo = list(items)
        self.sent += len(todo)
        deadline = time.monotonic() + self.give_up
        attempt = 0
        while todo:
            try:
                results = await self.queue.enqueue_many(todo)
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() > deadline:
                    for item in todo:
                        self.refused[_job_id(item)] = describe(exc)
                    return
                self.errors[describe(exc)] += 1
                self.resent.update(_job_id(item) for item in todo)
                attempt += 1
                await asyncio.sleep(min(0.02 * attempt, 0.25))
                continue
            now = time.time()
            for item, result in zip(todo, results, strict=True):
                job_id = _job_id(item)
                if isinstance(result, JobInfo):
                    self.accepted[job_id] = now
                elif (
                    isinstance(result, DuplicateJobError)
                    and job_id in self.resent
                    and result.existing_id == job_id
                ):
                    self.accepted[job_id] = now
                    self.landed_earlier.add(job_id)
                else:
                    self.refused[job_id] = describe(result)
            todo = []

    async def steady(
        self,
        total: int,
        rate: float,
        make: Callable[[int], EnqueueItem],
        interval: float = 0.1,
    ) -> None:
        """`total` jobs at `rate` per second, one batch every `interval`; late batches catch up."""
        per_batch = max(1, round(rate * interval))
        started = time.monotonic()
        for number, first in enumerate(range(0, total, per_batch)):
            delay = started + number * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.submit([make(i) for i in range(first, min(first + per_batch, total))])
        self.finished_at = time.time()


def _job_id(item: EnqueueItem) -> str:
    job_id = item[2].job_id
    if job_id is None:
        raise ValueError("the chaos producer always sets job_id")
    return job_id


def new_id(tag: str, number: int) -> str:
    """A job id that says which scenario and which job it is, e.g. `storm-00042-1f3a`."""
    return f"{tag}-{number:05d}-{uuid.uuid4().hex[:4]}"


def work_item(job_id: str, ms: float, **extra: Any) -> EnqueueItem:
    """A `chaos:work` job whose ledger key is its id."""
    return ("chaos:work", {"key": job_id, "ms": ms, **extra}, EnqueueOptions(job_id=job_id))


def random_ms(low: float = 10, high: float = 50) -> float:
    """A job duration in milliseconds."""
    return round(random.uniform(low, high), 1)


async def retry_transient(call: Callable[[], Awaitable[Any]], seconds: float) -> Any:
    """Run `call` until it does not fail with a transient error, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Poll `check` every 0.1 s; whether it became true within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


QUIET = 2.0
"""Seconds with no job waiting anywhere after which a drain ends even if jobs are missing."""


async def drain(
    broker: RedisJobBroker, ledger: Ledger, expected: set[str], dead_ok: set[str], seconds: float
) -> bool:
    """Wait until the jobs have settled; whether they all did within `seconds`.

    Settled: the expected keys completed (or are among `dead_ok`) and no job waits anywhere
    (pending, leased, retrying, scheduled); or no job has waited anywhere for `QUIET` seconds,
    so the missing ones will not come (they are lost, or dead).
    """
    inspector = Inspector(broker)
    quiet_since: float | None = None

    async def settled() -> bool:
        nonlocal quiet_since
        ledger.refresh()
        try:
            stats = await inspector.stats()
        except Exception as exc:
            if is_transient(exc):
                quiet_since = None
                return False
            raise
        if any(s.pending + s.active + s.retry + s.scheduled for s in stats):
            quiet_since = None
            return False
        now = time.monotonic()
        quiet_since = quiet_since or now
        return expected <= set(ledger.first_done()) | dead_ok or now - quiet_since >= QUIET

    return await wait_until(settled, seconds)


# -- figures and verdicts -------------------------------------------------------------------------


@dataclass
class Tally:
    """What became of the jobs that went in."""

    jobs_in: int = 0
    completed: int = 0
    dead: dict[str, str] = field(default_factory=dict)
    dead_unexpected: dict[str, str] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    ran_twice: dict[str, int] = field(default_factory=dict)
    unknown_done: int = 0


def tally(
    jobs_in: Iterable[str],
    ledger: Ledger,
    dead: dict[str, str],
    expected_dead: dict[str, str] | None = None,
) -> Tally:
    """Completed, dead, lost and ran-twice counts.

    `expected_dead` maps an id to the reason it should be dead for: substrings separated by `|`,
    any of which may appear in the error (case-insensitive).
    """
    expected_dead = expected_dead or {}
    keys = set(jobs_in)
    counts = ledger.done_counts()
    result = Tally(jobs_in=len(keys))
    result.completed = len([k for k in keys if counts[k] > 0])
    result.unknown_done = len([k for k in counts if k not in keys])
    result.dead = {k: reason for k, reason in dead.items() if k in keys}
    for key, reason in result.dead.items():
        wanted = expected_dead.get(key)
        if wanted is None or not any(w in reason.lower() for w in wanted.lower().split("|")):
            result.dead_unexpected[key] = reason
    for key in sorted(keys):
        if counts[key] == 0 and (key not in result.dead or key in result.dead_unexpected):
            result.lost.append(key)
    result.ran_twice = {k: counts[k] for k in sorted(keys) if counts[k] > 1}
    return result


def state_anomalies(
    places: dict[str, layout.Placement], completed: Iterable[str]
) -> dict[str, str]:
    """Jobs whose final place is wrong (see the module docstring), with what is wrong."""
    done = set(completed)
    out: dict[str, str] = {}
    for job_id, placement in places.items():
        where = "+".join(placement.places)
        if len(placement.places) > 1:
            out[job_id] = f"in {where}"
        elif placement.waiting:
            out[job_id] = f"still {where} after the drain"
        elif not placement.stored:
            out[job_id] = f"in {where} without a stored job"
        elif job_id in done and "dead" in placement.places:
            out[job_id] = "completed, and also in dead"
    return out


def recovery_times(
    first_done: Iterable[float],
    fault_end: float | None,
    rate: float | None,
    every_done: Iterable[float] | None = None,
) -> tuple[float | None, float | None]:
    """(recovery, drain) in seconds after `fault_end`; see the module docstring.

    Recovery counts first completions; drain ends at the last `done` line of all
    (`every_done`, when given: a job run again after the others finished counts too).
    """
    if fault_end is None:
        return None, None
    after = sorted(t for t in first_done if t >= fault_end)
    ends = [t for t in (every_done if every_done is not None else after) if t >= fault_end]
    drain_s = max(ends) - fault_end if ends else None
    if not after or not rate:
        return None, drain_s
    need = max(1, math.ceil(RECOVERED_SHARE * rate))
    back = after[-1]
    for i in range(len(after) - need + 1):
        if after[i + need - 1] - after[i] <= 1.0:
            back = min(back, after[i + need - 1])
            break
    return back - fault_end, drain_s


def set_times(
    result: ScenarioResult, ledger: Ledger, fault_end: float | None, rate: float | None
) -> None:
    """Fill in `recovery_s` and `drain_s` from the ledger (see `recovery_times`)."""
    recovery, drain_s = recovery_times(
        ledger.first_done().values(), fault_end, rate, [e.t for e in ledger.of("done")]
    )
    result.recovery_s = None if recovery is None else round(recovery, 3)
    result.drain_s = None if drain_s is None else round(drain_s, 3)
    if fault_end is not None:
        result.details["fault_end"] = fault_end


@dataclass
class ScenarioResult:
    """One row of the report, and everything behind it."""

    name: str
    title: str
    promise: str
    jobs_in: int = 0
    completed: int = 0
    dead: int = 0
    dead_reasons: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    ran_twice: int = 0
    ran_twice_allowed: int = 0
    crashes: int = 0
    deliberate_kills: int = 0
    deliberate_exits: int = 0
    recovery_s: float | None = None
    drain_s: float | None = None
    state_anomalies: int = 0
    passed: bool = False
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    log_tails: dict[str, str] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)
    """Columns shown as `-` (e.g. `crash` where no worker runs)."""

    def fail(self, condition: bool, message: str) -> None:
        """Record a broken promise when `condition` holds."""
        if condition:
            self.failures.append(message)

    def finish(self) -> ScenarioResult:
        """Settle the verdict."""
        self.passed = not self.failures
        return self


def reason_kind(reason: str) -> str:
    """A dead job's reason, shortened to its kind (for counting)."""
    head = reason.split("\n", 1)[0]
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "…", head)[:90]


def fill(
    result: ScenarioResult,
    counts: Tally,
    crashes: CrashReport | None,
    pool: WorkerPool | None,
    *,
    allowed_twice: set[str] | None,
    anomalies: dict[str, str] | None = None,
    producer: Producer | None = None,
    found: Findings | None = None,
) -> None:
    """Copy the figures into the result, with the failures every scenario shares.

    `allowed_twice=None` allows no job to complete twice; otherwise jobs outside the set may not.
    """
    result.jobs_in = counts.jobs_in
    result.completed = counts.completed
    result.dead = len(counts.dead)
    result.dead_reasons = dict(
        collections.Counter(reason_kind(r) for r in counts.dead.values()).most_common()
    )
    result.lost = len(counts.lost)
    result.ran_twice = len(counts.ran_twice)
    allowed = allowed_twice or set()
    result.ran_twice_allowed = len([k for k in counts.ran_twice if k in allowed])
    not_allowed = [k for k in counts.ran_twice if k not in allowed]
    result.fail(bool(counts.lost), f"{len(counts.lost)} jobs lost (e.g. {counts.lost[:3]})")
    if counts.dead_unexpected:
        kinds = collections.Counter(reason_kind(r) for r in counts.dead_unexpected.values())
        result.fail(True, f"{len(counts.dead_unexpected)} jobs in dead for a wrong reason: {kinds}")
    result.fail(
        bool(not_allowed),
        f"{len(not_allowed)} jobs completed more than once outside what the promise allows "
        f"(e.g. {not_allowed[:3]})",
    )
    result.details.update(
        lost_ids=counts.lost[:50],
        dead_unexpected=dict(list(counts.dead_unexpected.items())[:50]),
        ran_twice_ids=dict(list(counts.ran_twice.items())[:50]),
        ran_twice_not_allowed=not_allowed[:50],
    )
    if found is not None and found.inspector_error:
        result.fail(True, f"Inspector.jobs(queue, 'dead') fails: {found.inspector_error}")
    if anomalies is not None:
        result.state_anomalies = len(anomalies)
        result.fail(
            bool(anomalies),
            f"{len(anomalies)} jobs in a wrong final place: "
            f"{collections.Counter(anomalies.values()).most_common(4)}",
        )
        result.details["state_anomalies"] = dict(list(anomalies.items())[:50])
    if crashes is not None:
        result.crashes = crashes.unexpected
        result.deliberate_kills = crashes.deliberate_kills
        result.deliberate_exits = crashes.deliberate_exits
        result.details["workers"] = asdict(crashes)
        if crashes.crash_exceptions:
            common = collections.Counter(crashes.crash_exceptions).most_common(3)
            result.notes.append(f"worker crash tracebacks: {common}")
        if crashes.tracebacks:
            result.notes.append(
                f"{sum(crashes.tracebacks.values())} other tracebacks in worker logs, e.g. "
                f"{list(crashes.tracebacks.items())[:2]}"
            )
        if counts.ran_twice:
            twice = set(counts.ran_twice)
            acks = twice & set(crashes.failed_acks)
            in_crashed = twice & pool.ledger.started_in(crashes.crashed_pids) if pool else set()
            in_killed = twice & pool.ledger.started_in(pool.deliberate_pids()) if pool else set()
            result.notes.append(
                f"of the {len(twice)} jobs completed more than once: {len(acks)} had an "
                f"acknowledgement that failed (logged, not sent again), {len(in_crashed)} had "
                f"started in a worker process that crashed, {len(in_killed)} in one ended on "
                "purpose"
            )
        if crashes.failed_acks:
            result.notes.append(f"{len(crashes.failed_acks)} acknowledgements failed in workers")
        if crashes.error_lines:
            result.notes.append(f"ERROR lines in worker logs, by logger: {crashes.error_lines}")
        if pool is not None:
            for slot in crashes.crashed_slots[:1]:  # one is enough to see what happened
                result.log_tails[f"worker-{slot}"] = crash_excerpt(pool.logs[slot])
    if producer is not None:
        result.details["producer"] = {
            "sent": producer.sent,
            "accepted": len(producer.accepted),
            "refused": dict(list(producer.refused.items())[:20]),
            "resent": len(producer.resent),
            "landed_earlier": len(producer.landed_earlier),
            "transient_errors": dict(producer.errors.most_common()),
        }
        if producer.errors:
            result.notes.append(f"producer retried after: {dict(producer.errors.most_common(4))}")
        result.fail(
            bool(producer.refused),
            f"producer gave up on {len(producer.refused)} jobs: "
            f"{collections.Counter(producer.refused.values()).most_common(2)}",
        )


# -- the report -----------------------------------------------------------------------------------

COLUMNS = (
    ("scenario", 22),
    ("in", 6),
    ("done", 6),
    ("dead", 5),
    ("lost", 5),
    ("twice", 11),
    ("crash", 6),
    ("recov s", 8),
    ("drain s", 8),
    ("state", 6),
    ("verdict", 7),
)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def row(result: ScenarioResult) -> str:
    """One table row."""
    twice = str(result.ran_twice)
    if result.ran_twice:
        twice += f" ({result.ran_twice_allowed} ok)"
    crash = str(result.crashes)
    if result.deliberate_exits:
        crash += f"+{result.deliberate_exits}x"
    cells = [
        result.name,
        str(result.jobs_in),
        str(result.completed),
        str(result.dead),
        str(result.lost),
        twice,
        crash,
        _seconds(result.recovery_s),
        _seconds(result.drain_s),
        str(result.state_anomalies),
        "PASS" if result.passed else "FAIL",
    ]
    for i, (name, _) in enumerate(COLUMNS):
        if name in result.not_applicable:
            cells[i] = "-"
    return " ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def header() -> str:
    """The table's header and rule."""
    names = " ".join(
        name.ljust(width) if i == 0 else name.rjust(width)
        for i, (name, width) in enumerate(COLUMNS)
    )
    return names + "\n" + " ".join("-" * width for _, width in COLUMNS)


def report(results: Sequence[ScenarioResult], *, tails: bool = True) -> str:
    """The table, then why each failed scenario failed (with worker log tails)."""
    lines = [header(), *(row(r) for r in results), ""]
    for result in results:
        if result.passed and not result.notes:
            continue
        verdict = "PASS" if result.passed else "FAIL"
        lines.append(f"{result.name} [{verdict}] promise: {result.promise}")
        lines += [f"  - {failure}" for failure in result.failures]
        lines += [f"  · {note}" for note in result.notes]
        if tails and not result.passed:
            for name, tail in result.log_tails.items():
                lines.append(f"  {name}.log, up to its first crash:")
                lines += [f"    | {line}" for line in tail.splitlines()]
        lines.append("")
    return "\n".join(lines)


def write_json(path: Path, results: Sequence[ScenarioResult], meta: dict[str, Any]) -> None:
    """All figures as JSON."""
    data = {**meta, "scenarios": [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


# -- a scenario's set-up --------------------------------------------------------------------------


@dataclass
class Findings:
    """Redis at the end of a scenario: the dead jobs' reasons, and where every id is."""

    dead: dict[str, str]
    places: dict[str, layout.Placement]
    inspector_error: str | None = None
    """Why `Inspector` could not list the dead set (the reasons were read another way)."""


class Stage:
    """A scenario's Redis, ledger, worker pool and producer, stopped on exit whatever happens.

    `async with Stage(ctx, workers=3, lease_timeout=2) as stage:`: keyword settings become the
    workers' `QUEUE_*` variables (see `queue_env`), and the producer reads the same settings.
    """

    def __init__(
        self,
        ctx: Context,
        *,
        workers: int,
        aof: bool = False,
        loading_delay_us: int = 0,
        ballast: int = 0,
        **settings: Any,
    ) -> None:
        self.ctx = ctx
        self.redis = ChaosRedis(ctx, aof=aof, loading_delay_us=loading_delay_us, ballast=ballast)
        self.workers = workers
        self.settings_overrides = settings
        self.ledger = Ledger(ctx.path("ledger"))
        self.env: dict[str, str] = {}
        self._pool: WorkerPool | None = None
        self._producer: Producer | None = None

    @property
    def pool(self) -> WorkerPool:
        """The worker pool."""
        assert self._pool is not None
        return self._pool

    @property
    def producer(self) -> Producer:
        """The producer (its broker also serves the harness's reads)."""
        assert self._producer is not None
        return self._producer

    @property
    def settings(self) -> QueueSettings:
        """The settings the workers run with."""
        return self.producer.broker.settings

    async def __aenter__(self) -> Stage:
        try:
            await self.redis.start()
            self.env = queue_env(self.redis.url, **self.settings_overrides)
            self._pool = WorkerPool(self.ctx, self.env, self.workers, self.ledger)
            self._producer = Producer(settings_from(self.env))
            await self._producer.start()
            if self.workers:
                self._pool.start()
                await self._pool.wait_ready()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the workers, the producer and Redis (each only once)."""
        if self._pool is not None and self._pool.commands:
            await self._pool.stop()
        if self._producer is not None:
            await self._producer.close()
        await self.redis.close()

    async def drain(self, expected: set[str], dead_ok: set[str], seconds: float) -> bool:
        """See `drain`."""
        return await drain(self.producer.broker, self.ledger, expected, dead_ok, seconds)

    async def collect(self) -> Findings:
        """Take the workers' census, then read the dead set and every id's place."""
        if self._pool is not None and self._pool.commands:
            self._pool.census()
        broker = self.producer.broker
        dead: layout.DeadSet = await retry_transient(lambda: layout.dead_reasons(broker), 30)
        places = await retry_transient(
            lambda: layout.placements(broker.client, self.settings.key_prefix, broker.keys), 30
        )
        return Findings(dead.reasons, places, dead.inspector_error)
