"""When a periodic schedule fires next, the way `taskiq scheduler` decides it.

Cron expressions are matched with pycron, as Taskiq's scheduler matches them, so the answer
agrees with it for every syntax it accepts; the search skips whole days and hours that cannot
match, so even a yearly schedule costs a few thousand checks. Interval schedules fire on ticks
aligned to multiples of the interval since the epoch (the tick lock of `RedisScheduleSource`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycron  # type: ignore[import-untyped]

__all__ = ["next_cron", "next_interval"]

_HORIZON = timedelta(days=4 * 366 + 1)  # 29 February comes back within four years
_Back = Callable[[datetime], datetime]


def next_cron(expr: str, offset: str | timedelta | None, now: datetime) -> datetime | None:
    """The first minute after `now` that `expr` matches (in its offset or time zone), in UTC.

    Returns `None` when the expression cannot be read or matches nothing within four years.
    """
    try:
        fields = expr.split()
        if len(fields) != 5:
            return None
        day_only = " ".join(["*", "*", *fields[2:]])
        hour_only = " ".join(["*", *fields[1:]])
        local, back = _clock(offset, now)
        t = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = t + _HORIZON
        while t < end:
            if not pycron.is_now(day_only, t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
            elif not pycron.is_now(hour_only, t):
                t = (t + timedelta(hours=1)).replace(minute=0)
            elif pycron.is_now(expr, t):
                return back(t)
            else:
                t += timedelta(minutes=1)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return None


def _clock(offset: str | timedelta | None, now: datetime) -> tuple[datetime, _Back]:
    """`now` on the schedule's clock, and how to turn a time on that clock back into UTC."""
    now = now.astimezone(UTC)
    if isinstance(offset, timedelta):
        return (now + offset).replace(tzinfo=None), lambda t: (t - offset).replace(tzinfo=UTC)
    if offset:
        zone = ZoneInfo(offset)
        return now.astimezone(zone).replace(tzinfo=None), lambda t: t.replace(
            tzinfo=zone
        ).astimezone(UTC)
    return now.replace(tzinfo=None), lambda t: t.replace(tzinfo=UTC)


def next_interval(period: float, now: datetime, last: datetime | None) -> datetime:
    """When an interval schedule fires next: a period after its last run, on a later tick."""
    period = max(period, 1.0)
    if last is not None:
        last_s = last.timestamp()
        due = max(last_s + period, (math.floor(last_s / period) + 1) * period)
        if due > now.timestamp():
            return datetime.fromtimestamp(due, UTC)
    return datetime.fromtimestamp((math.floor(now.timestamp() / period) + 1) * period, UTC)
