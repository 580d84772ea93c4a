"""The defaults the documentation gives for `QUEUE_*` variables are the ones the code has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jobqueue.settings import QueueSettings, parse_weights

DOCS = Path(__file__).resolve().parent.parent / "docs"
_ROW = re.compile(r"^\| `QUEUE_([A-Z_]+)` \| (`[^`]*`|unset)")


def _documented() -> dict[str, str]:
    rows = {}
    for line in (DOCS / "configuration.md").read_text().splitlines():
        found = _ROW.match(line)
        if found:
            rows[found[1].lower()] = found[2].strip("`")
    return rows


def _parse(field: str, text: str) -> Any:
    default = QueueSettings.model_fields[field].get_default(call_default_factory=True)
    if text == "unset":
        return [] if isinstance(default, list) else None
    if isinstance(default, bool):
        return text == "true"
    if isinstance(default, dict):
        return parse_weights(text)
    if isinstance(default, int | float):
        return type(default)(text)
    return text


def test_every_variable_is_documented() -> None:
    assert set(_documented()) == set(QueueSettings.model_fields)


@pytest.mark.parametrize(("field", "text"), sorted(_documented().items()))
def test_documented_default_is_the_real_one(field: str, text: str) -> None:
    default = QueueSettings.model_fields[field].get_default(call_default_factory=True)
    assert _parse(field, text) == default


def test_worker_page_gives_the_real_poll_interval() -> None:
    text = (DOCS / "worker.md").read_text()
    quoted = re.findall(r"`QUEUE_POLL_INTERVAL` \((\d+) ms\)", text)
    assert quoted, "docs/worker.md no longer quotes the poll interval"
    expected = QueueSettings.model_fields["poll_interval"].default * 1000
    assert [float(ms) for ms in quoted] == [expected] * len(quoted)
