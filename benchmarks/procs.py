"""Child processes of the harness: started in their own process group, always killed on exit.

Also reads the peak resident memory (`VmHWM` in /proc/<pid>/status) of a process tree.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

_LIVE: dict[int, subprocess.Popen[Any]] = {}


def _kill_all() -> None:
    for proc in list(_LIVE.values()):
        kill_group(proc, grace=0.5)


atexit.register(_kill_all)


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that `finally` blocks and atexit run."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def spawn(argv: list[str], *, env: dict[str, str] | None, cwd: Path, log: Path, **kw: Any) -> Any:
    """Start a process in a new session (its own process group), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("ab")
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=kw.pop("stdout", out),
            stderr=out,
            start_new_session=True,
            **kw,
        )
    finally:
        out.close()
    _LIVE[proc.pid] = proc
    return proc


def kill_group(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it after `grace` seconds."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid
    tree = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    # Whatever is left of the group or of the tree (a child that made a session of its own).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    _LIVE.pop(proc.pid, None)


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def vm_hwm_kb(pid: int) -> int:
    """Peak resident set size of one process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakRss:
    """Peak RSS of a process tree: the per-process VmHWM, summed over every process seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}

    def sample(self) -> None:
        for pid in descendants(self.pid):
            kb = vm_hwm_kb(pid)
            if kb > self.peaks.get(pid, 0):
                self.peaks[pid] = kb

    @property
    def mib(self) -> float:
        return sum(self.peaks.values()) / 1024


class LineChannel:
    """Read lines of a child's stdout in a thread, so reads can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.tail: deque[str] = deque(maxlen=20)
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, timeout: float) -> str | None:
        """The next line; None at EOF; raises TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no answer within {timeout:.0f} s") from None


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
