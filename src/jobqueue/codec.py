"""JSON encoding of payloads: field-named errors at enqueue, and the canonical form for unique keys.

Everything jobqueue stores is JSON (orjson): a payload read back from Redis can never run code.
A payload is refused with `PayloadError`, naming the field (`payload.a.b[2]`), when it holds
anything that has no JSON form or would come back changed: a set or frozenset (use a list), NaN
or infinity, an integer outside 64 bits, a string with a lone surrogate, a key that is not a
string, an object of an unknown type, or nesting deeper than `MAX_DEPTH` levels (or a cycle).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel, TypeAdapter

from jobqueue._payloads import (
    MAX_DEPTH,
    check_round_trip,
    find_unserialisable,
    payload_error,
    scan_validated,
    surrogate,
    too_deep,
)
from jobqueue.errors import PayloadError

__all__ = ["MAX_DEPTH", "canonical_digest", "dump_validated", "to_jsonable"]

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson can write
_SCALARS = (str, int, float, bool, type(None))


def to_jsonable(payload: Any, job_type: str) -> Any:
    """Turn a payload into plain JSON values, or raise `PayloadError` naming the bad field.

    Accepts pydantic models, mappings with string keys, lists/tuples, scalars, and the values
    orjson writes natively (datetime, date, time, UUID, Decimal as string, Enum values).

    Args:
        payload: The payload as the producer gave it.
        job_type: The job type, for the error.

    Returns:
        The payload as dicts, lists, strings, numbers, booleans and `None`.

    Raises:
        PayloadError: Something in it has no JSON form, would change on the way, or is nested
            deeper than `MAX_DEPTH` levels.
    """
    try:
        return _plain(payload, 0)
    except _NotPlainError:  # something to convert or to refuse: the walk that knows the path
        return _walk(payload, "payload", job_type, 0)


def dump_validated(adapter: TypeAdapter[Any], value: Any, job_type: str) -> Any:
    """The JSON form of a payload validated by `adapter`, checked like `to_jsonable`.

    A field declared as `set[...]` (or `bytes`, `dict[int, ...]`, ...) is fine: the worker's
    validation rebuilds it from its JSON form. In an `Any` field the same rules as `to_jsonable`
    apply (a set would arrive as a list: it is refused). NaN or infinity anywhere, an object
    pydantic cannot serialise, and too deep a nesting are refused.

    Args:
        adapter: The payload type's adapter (`JobSpec.adapter` / `JobType.adapter`).
        value: The payload as `adapter.validate_python` returned it.
        job_type: The job type, for the error.

    Returns:
        The payload as plain JSON values.

    Raises:
        PayloadError: As `to_jsonable`, naming the field.
    """
    return _dump_checked(
        value,
        "payload",
        job_type,
        0,
        lambda: adapter.dump_python(value, mode="json"),
        adapter.validate_python,
    )


def _dump_model(model: BaseModel, path: str, job_type: str, depth: int) -> Any:
    return _dump_checked(
        model,
        path,
        job_type,
        depth,
        lambda: model.model_dump(mode="json"),
        type(model).model_validate,
    )


def _dump_checked(
    value: Any,
    path: str,
    job_type: str,
    depth: int,
    dump: Callable[[], Any],
    revalidate: Callable[[Any], Any],
) -> Any:
    """Dump a validated value with pydantic, refusing what the dump would drop or change."""
    found = scan_validated(value, path, job_type, depth)  # raises on NaN and depth
    try:
        dumped = dump()
    except (ValueError, TypeError, RecursionError):  # PydanticSerializationError is a ValueError
        bad_path, bad = find_unserialisable(value, path)
        raise _unknown_type(bad_path, bad, job_type) from None
    if found:  # rare: a set, a non-string key or an exotic type, fine only where declared
        check_round_trip(value, revalidate, dumped, path, found, job_type)
    try:
        return _plain(dumped, depth)
    except _NotPlainError:
        return _walk(dumped, path, job_type, depth)


class _NotPlainError(Exception):
    """`_plain` met something that `_walk` must convert, or refuse naming its path."""


def _plain(value: Any, depth: int) -> Any:
    """`_walk` for values of the exact JSON types, without building paths; else `_NotPlainError`."""
    kind = type(value)
    if kind is str:
        if value.isascii() or not surrogate(value):
            return value
    elif kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
    elif kind is float:
        if math.isfinite(value):
            return value
    elif kind is bool or value is None:
        return value
    elif depth < MAX_DEPTH:
        if kind is dict:
            out = {}
            for key, item in value.items():
                if type(key) is not str or not (key.isascii() or not surrogate(key)):
                    raise _NotPlainError
                out[key] = _plain(item, depth + 1)
            return out
        if kind is list or kind is tuple:
            return [_plain(item, depth + 1) for item in value]
    raise _NotPlainError


def _walk(value: Any, path: str, job_type: str, depth: int) -> Any:
    if isinstance(value, _SCALARS):
        return _scalar(value, path, job_type)
    if isinstance(value, BaseModel):
        return _dump_model(value, path, job_type, depth)
    if isinstance(value, Mapping | list | tuple | set | frozenset) and depth >= MAX_DEPTH:
        raise too_deep(path, job_type)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise payload_error(f"key {key!r} is not a string", path, job_type)
            if not key.isascii() and surrogate(key):
                raise payload_error(f"key {key!r} holds a lone surrogate", path, job_type)
            out[key] = _walk(item, f"{path}.{key}", job_type, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, f"{path}[{i}]", job_type, depth + 1) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        raise payload_error(f"a {type(value).__name__} is not JSON; use a list", path, job_type)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return _walk(value.value, path, job_type, depth)
    raise _unknown_type(path, value, job_type)


def _scalar(value: str | int | float | bool | None, path: str, job_type: str) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise payload_error(f"{value} (NaN or infinity) is not valid JSON", path, job_type)
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise payload_error("integer does not fit in 64 bits", path, job_type)
    elif isinstance(value, str) and not value.isascii() and surrogate(value):
        raise payload_error("string holds a lone surrogate (not UTF-8)", path, job_type)
    return value


def _unknown_type(path: str, value: Any, job_type: str) -> PayloadError:
    name = type(value).__name__
    return payload_error(f"value of type {name} is not JSON-serialisable", path, job_type)


def canonical_digest(job_type: str, payload: Any) -> str:
    """A stable hash of a job type and a JSON payload; key order does not matter."""
    body = orjson.dumps([job_type, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:32]
