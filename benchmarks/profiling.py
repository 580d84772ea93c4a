"""Optional sampling profile of a worker during the backlog phase, with py-spy (`--profile`).

py-spy must be installed where the harness runs (`pip install py-spy`). It samples the worker
process tree at 250 Hz, pausing it briefly for each sample (without `--idle`: only running stacks
count), into a raw "collapsed stacks" file next to the logs. `summarize` reads one back: the
functions with the most samples on top of the stack (self) and anywhere on it (total), and the
self time per package.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import procs


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, out: Path) -> subprocess.Popen[Any] | None:
    exe = py_spy()
    if exe is None:
        return None
    argv = [exe, "record", "--pid", str(pid), "--subprocesses", "--rate", "250"]
    argv += ["--format", "raw", "--output", str(out)]
    return procs.spawn(argv, env=None, cwd=out.parent, log=out.with_suffix(".log"))


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        procs.kill_group(proc, grace=1)
    procs._LIVE.pop(proc.pid, None)


def _parse_frame(frame: str) -> tuple[str, str]:
    """("function (pkg/module.py)", package) from "function (pkg/module.py:123)".

    py-spy already shortens file names to be relative to `sys.path`.
    """
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    package = parts[0] if len(parts) > 1 else Path(path).stem or name
    return (f"{name} ({path})" if where else name), package


# Frames every stack of a worker goes through: showing their total share says nothing.
_SCAFFOLDING = (
    "runpy",
    "multiprocessing/",
    "taskiq/__main__",
    "taskiq/cli/",
    "run_forever",
    "_run_once",
)


def summarize(raw: Path, top: int = 20) -> str:
    """The hottest functions and packages of a raw py-spy profile."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    try:
        text = raw.read_text(errors="replace")
    except OSError:
        return f"(no profile at {raw})"
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_parse_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        samples += n
        self_counts[frames[-1][0]] += n
        packages[frames[-1][1]] += n
        for name in {f[0] for f in frames}:
            total_counts[name] += n
    if not samples:
        return "(empty profile)"
    pct = lambda n: f"{100 * n / samples:5.1f}"  # noqa: E731
    lines = [f"{samples} samples; self = on top of the stack, total = anywhere on it", ""]
    lines.append("self%  total%  function (by self)")
    for name, n in self_counts.most_common(top):
        lines.append(f"{pct(n)}  {pct(total_counts[name])}   {name}")
    lines += ["", "self%  total%  function (by total)"]
    shown = 0
    for name, n in total_counts.most_common():
        if any(s in name for s in _SCAFFOLDING) or n == samples:
            continue
        lines.append(f"{pct(self_counts[name])}  {pct(n)}   {name}")
        shown += 1
        if shown == top:
            break
    lines += [
        "",
        "self% by package: "
        + ", ".join(f"{p} {pct(n).strip()}" for p, n in packages.most_common(12)),
    ]
    return "\n".join(lines)
