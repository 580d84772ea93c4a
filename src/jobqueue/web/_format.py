"""How values look on the dashboard's pages: times, durations, sizes, JSON, the daily chart.

Every function returns plain text (or numbers for the chart); the templates escape it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from jobqueue.redis.inspector import DayCount, as_json

__all__ = [
    "Bar",
    "Chart",
    "ago",
    "chart",
    "compact_json",
    "duration",
    "human_bytes",
    "pretty_json",
    "when",
]


def when(value: datetime | None) -> str:
    """A time in UTC, to the second; an empty string for none."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or from now) a time is: `5 s ago`, `in 3 min`."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    text = duration(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def duration(seconds: float | None) -> str:
    """Seconds as the largest unit that fits: `850 ms`, `12 s`, `4 min`, `3 h`, `2 d`."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def human_bytes(size: int | None) -> str:
    """A byte count in binary units: `512 B`, `3.2 MiB`."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - unreachable


def pretty_json(value: Any) -> str:
    """A value as indented JSON text (times and enums as the inspector's JSON has them)."""
    try:
        return orjson.dumps(as_json(value), option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return repr(value)


def compact_json(value: Any) -> str:
    """A value as JSON text on one line."""
    try:
        return orjson.dumps(as_json(value)).decode()
    except TypeError:
        return repr(value)


@dataclass(frozen=True, slots=True)
class Bar:
    """One day of the chart: where its two bars are, in the SVG's own units."""

    label: str
    x: float
    processed: int
    failed: int
    processed_y: float
    processed_height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart of processed and failed jobs per day, drawn as inline SVG by a template."""

    width: int
    height: int
    bar_width: float
    top: int
    bars: tuple[Bar, ...]


def chart(days: Sequence[DayCount], *, width: int = 720, height: int = 160) -> Chart:
    """The chart of a history (several queues' histories summed day by day before)."""
    plot = height - 20  # room for the labels below the bars
    top = max([1, *(max(d.processed, d.failed) for d in days)])
    slot = width / max(1, len(days))
    bar = slot * 0.38
    bars = []
    for i, day in enumerate(days):
        p = plot * day.processed / top
        f = plot * day.failed / top
        x = i * slot + slot * 0.1
        bars.append(
            Bar(
                label=day.day.strftime("%m-%d"),
                x=round(x, 1),
                processed=day.processed,
                failed=day.failed,
                processed_y=round(plot - p, 1),
                processed_height=round(p, 1),
                failed_y=round(plot - f, 1),
                failed_height=round(f, 1),
            )
        )
    return Chart(width=width, height=height, bar_width=round(bar, 1), top=top, bars=tuple(bars))


def sum_days(histories: Sequence[Sequence[DayCount]]) -> list[DayCount]:
    """Several queues' histories (same days, same order) summed day by day."""
    if not histories:
        return []
    out = []
    for same_day in zip(*histories, strict=True):
        out.append(
            DayCount(
                day=same_day[0].day,
                processed=sum(d.processed for d in same_day),
                failed=sum(d.failed for d in same_day),
                dead=sum(d.dead for d in same_day),
            )
        )
    return out
