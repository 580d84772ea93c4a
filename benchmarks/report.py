"""The results table, jobqueue's ratios against the best peer per column, and the JSON file."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = "jobqueue"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str
    higher_is_better: bool

    def fmt(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if self.unit in ("jobs/s", "B"):
            return f"{value:,.0f}"
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


COLUMNS = [
    Column("enqueue_sequential", "enq 1x1", "jobs/s", True),
    Column("enqueue_concurrent", "enq c100", "jobs/s", True),
    Column("enqueue_batch", "enq batch", "jobs/s", True),
    Column("backlog_noop", "noop", "jobs/s", True),
    Column("backlog_noop_warm", "noop warm", "jobs/s", True),
    Column("backlog_sleep", "sleep", "jobs/s", True),
    Column("backlog_sleep_warm", "sleep warm", "jobs/s", True),
    Column("latency_100_p50", "100/s p50", "ms", False),
    Column("latency_100_p99", "100/s p99", "ms", False),
    Column("latency_1000_p50", "1k/s p50", "ms", False),
    Column("latency_1000_p99", "1k/s p99", "ms", False),
    Column("peak_rss", "RSS MiB", "MiB", False),
    Column("memory_per_job", "mem B", "B", False),
    Column("commands_sent", "cmds sent", "commands", False),
    Column("commands_executed", "cmds run", "commands", False),
]

LEGEND = """\
enq 1x1 / c100 / batch: enqueue rate one at a time / 100 in flight / native batch API (jobs/s)
noop, sleep: backlog of N jobs drained by ONE worker process, timed from spawning the worker
  (jobs/s); "warm" times from the first completed job instead (excludes worker start-up)
100/s, 1k/s p50/p99: enqueue-to-start latency at that steady offered rate (ms); "over cap":
  not run, the system drained its noop backlog at less than 1.2 x that rate (it cannot keep up)
RSS MiB: peak RSS (VmHWM) of the worker process tree, summed over its processes
mem B: Redis used_memory per queued job, no worker: slope from N/2 to N jobs enqueued one by one
cmds sent / run: Redis commands per job, enqueue to acknowledgement (enqueue slope + one worker's
  drain slope): sent by the clients / executed by the server, Lua scripts' inner calls included
vs best peer: >1 means jobqueue is better by that factor (rates: jq/best; the others: best/jq)"""


def ratios(results: dict[str, Any], reference: str = REFERENCE) -> dict[str, dict[str, Any]]:
    """Per column: the best peer, its value, jobqueue's, and jobqueue's advantage factor."""
    systems = results["systems"]
    ours = systems.get(reference, {}).get("median", {})
    out: dict[str, dict[str, Any]] = {}
    for col in COLUMNS:
        peers = {
            name: entry["median"][col.key]
            for name, entry in systems.items()
            if name != reference and col.key in entry.get("median", {})
        }
        if col.key not in ours or not peers:
            continue
        pick = max if col.higher_is_better else min
        best = pick(peers, key=lambda name: peers[name])
        mine, theirs = ours[col.key], peers[best]
        if mine <= 0 or theirs <= 0:
            continue
        advantage = mine / theirs if col.higher_is_better else theirs / mine
        out[col.key] = {
            "best_peer": best,
            "best_peer_value": theirs,
            "jobqueue": mine,
            "jobqueue_over_best": mine / theirs,
            "advantage": advantage,
            "unit": col.unit,
        }
    return out


def render(results: dict[str, Any]) -> str:
    systems = results["systems"]
    name_w = max([len("system"), *map(len, systems)]) + 1
    widths = [max(len(c.title), 9) for c in COLUMNS]
    head = "system".ljust(name_w) + " ".join(
        c.title.rjust(w) for c, w in zip(COLUMNS, widths, strict=True)
    )
    group = "".ljust(name_w) + " ".join(
        g.center(sum(widths[a:b]) + (b - a - 1), "-")
        for g, a, b in (
            ("enqueue jobs/s", 0, 3),
            ("backlog jobs/s, 1 worker", 3, 7),
            ("latency ms", 7, 11),
            ("worker", 11, 12),
            ("redis per job", 12, 15),
        )
    )
    lines = [group, head, "-" * len(head)]
    for name, entry in systems.items():
        med = entry.get("median", {})
        if entry.get("failed") and not med:
            lines.append(name.ljust(name_w) + "FAILED: " + entry["failed"].splitlines()[0][:100])
            continue
        cells = []
        for col, w in zip(COLUMNS, widths, strict=True):
            value = med.get(col.key)
            if value is None and _errored(entry, col.key):
                cells.append("FAIL".rjust(w))
            elif value is None and col.key.rsplit("_", 1)[0] in entry.get("skipped", {}):
                cells.append("over cap".rjust(w))
            else:
                cells.append(col.fmt(value).rjust(w))
        lines.append(name.ljust(name_w) + " ".join(cells))
    rat = results.get("ratios") or ratios(results)
    if rat:
        cells = []
        for col, w in zip(COLUMNS, widths, strict=True):
            r = rat.get(col.key)
            cells.append((f"x{r['advantage']:.2f}" if r else "-").rjust(w))
        lines.append("-" * len(head))
        lines.append("vs best peer".ljust(name_w) + " ".join(cells))
        cells = [
            (rat[col.key]["best_peer"] if col.key in rat else "-")[:w].rjust(w)
            for col, w in zip(COLUMNS, widths, strict=True)
        ]
        lines.append("best peer".ljust(name_w) + " ".join(cells))
    meta = results.get("meta", {})
    lines += [
        "",
        LEGEND,
        "",
        f"mode {meta.get('mode')}, repeat {meta.get('repeat')} (median), "
        f"{_sizes(meta)}, redis {meta.get('redis')}, "
        f"python {meta.get('python')}, {meta.get('machine')}, "
        f"took {meta.get('seconds', 0):.0f} s",
    ]
    errors = [
        f"  {name}: {key}: {msg.splitlines()[0][:160]}"
        for name, entry in systems.items()
        for key, msg in entry.get("errors", {}).items()
    ]
    if errors:
        lines += ["", "errors:", *errors]
    return "\n".join(lines)


def _sizes(meta: dict[str, Any]) -> str:
    sizes = meta.get("sizes", {})
    phases = meta.get("phases") or ["backlog"]
    shown = [p for p in ("backlog", "memory", "commands") if p in phases and p in sizes]
    return ", ".join(f"{p} N={sizes[p]}" for p in shown) or f"backlog N={sizes.get('backlog')}"


def _errored(entry: dict[str, Any], key: str) -> bool:
    errors = entry.get("errors", {})
    return "driver" in errors or any(key.startswith(k) for k in errors)


def write_json(results: dict[str, Any], path: Path) -> None:
    results = {**results, "ratios": ratios(results)}
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
