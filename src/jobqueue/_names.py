"""The one place that checks queue names, job types and job ids against their documented rules.

Every check returns the name unchanged when it is valid and raises `InvalidOptionsError` otherwise,
with a message naming the rule and the limit. `InvalidOptionsError` is a `ValueError`, so the
checks can run inside pydantic validators (settings), which report them as validation errors.

Rules:
    queue name: 1 to 64 characters out of `A-Z a-z 0-9 _ . : -` (nothing else: no newline).
    job type: 1 to 200 printable characters, without whitespace, `{`, `}` or control characters.
    job id: 1 to 200 printable ASCII characters, without whitespace, `{` or `}`.

Braces are refused because Redis cluster hash tags use them; the limits keep Redis keys short.
"""

from __future__ import annotations

import re
from typing import Any

from jobqueue.errors import InvalidOptionsError

__all__ = [
    "JOB_ID_MAX",
    "JOB_TYPE_MAX",
    "QUEUE_NAME_MAX",
    "check_job_id",
    "check_job_type",
    "check_queue_name",
]

QUEUE_NAME_MAX = 64
JOB_TYPE_MAX = 200
JOB_ID_MAX = 200

_QUEUE_NAME = re.compile(rf"[A-Za-z0-9_.:-]{{1,{QUEUE_NAME_MAX}}}")
_JOB_ID = re.compile(rf"[!-z|~]{{1,{JOB_ID_MAX}}}")  # ASCII 0x21-0x7E except { and }
_SHOWN = 40


def check_queue_name(name: Any) -> str:
    """Return `name` if it is a valid queue name.

    Args:
        name: The queue name to check.

    Returns:
        The name, unchanged.

    Raises:
        InvalidOptionsError: It is not a string of 1 to 64 letters, digits, `_`, `.`, `:` or `-`.
    """
    if isinstance(name, str) and _QUEUE_NAME.fullmatch(name):
        return name
    raise InvalidOptionsError(
        f"invalid queue name {_show(name)}: it must be 1 to {QUEUE_NAME_MAX} characters, "
        "each a letter, a digit or one of _ . : -"
    )


def check_job_type(name: Any) -> str:
    """Return `name` if it is a valid job type.

    Args:
        name: The job type to check, such as `email:send`.

    Returns:
        The name, unchanged.

    Raises:
        InvalidOptionsError: It is not a string of 1 to 200 printable characters, or it holds
            whitespace, a brace or a control character.
    """
    if (
        isinstance(name, str)
        and 0 < len(name) <= JOB_TYPE_MAX
        and name.isprintable()
        and not any(char.isspace() or char in "{}" for char in name)
    ):
        return name
    raise InvalidOptionsError(
        f"invalid job type {_show(name)}: it must be 1 to {JOB_TYPE_MAX} printable characters, "
        "without whitespace, braces or control characters"
    )


def check_job_id(value: Any) -> str:
    """Return `value` if it is a valid job id.

    Args:
        value: The job id to check.

    Returns:
        The id, unchanged.

    Raises:
        InvalidOptionsError: It is not a string of 1 to 200 printable ASCII characters, or it
            holds whitespace or a brace.
    """
    if isinstance(value, str) and _JOB_ID.fullmatch(value):
        return value
    raise InvalidOptionsError(
        f"invalid job id {_show(value)}: it must be 1 to {JOB_ID_MAX} printable ASCII "
        "characters, without whitespace or braces"
    )


def _show(value: Any) -> str:
    """A short repr of a refused value: long ones are cut, and their length given."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
