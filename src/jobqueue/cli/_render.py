"""Plain text tables and values for the terminal (aligned columns that grep and awk can read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

__all__ = ["ago", "size", "table", "when"]


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under a header: columns of numbers align right, the others left."""
    numeric = [
        bool(rows) and all(isinstance(row[i], int) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(header))
    ]
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        parts = [
            value.rjust(width) if numeric[i] else value.ljust(width)
            for i, (value, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(parts).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    return str(value)


def when(value: datetime | None) -> str:
    """A time as UTC, to the second."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float) -> str:
    """A duration: `0.4s`, `12s`, `3m05s`, `2h10m`, `3d4h`."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600}h"


def size(count: int | None) -> str:
    """Bytes as `512B`, `1.2KiB`, `3.4MiB`, `1.1GiB`."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}GiB"
