"""Checks of validated payloads (models, dataclasses, `Any` fields) that pydantic's dump would hide.

`codec.dump_validated` and `codec.to_jsonable` use them: pydantic turns NaN into `null` and a set
in an `Any` field into a list, and its serialisation errors name no field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, RootModel, ValidationError
from pydantic_core import to_jsonable_python

from jobqueue.errors import PayloadError

__all__ = [
    "MAX_DEPTH",
    "check_round_trip",
    "find_unserialisable",
    "payload_error",
    "scan_validated",
    "surrogate",
    "too_deep",
]

MAX_DEPTH = 64
"""Most levels of nested containers (objects, arrays, models) a payload may have."""

_MISSING = object()
_PLAIN = (str, int, float, bool, type(None), datetime, date, time, UUID, Decimal, Enum)
_PLAIN_TYPES = frozenset({datetime, date, time, UUID, Decimal})
Step = tuple[str, Any] | None
"""How to reach a child from its parent: `("attr", name)`, `("key", key)`, `("index", i)`."""


def payload_error(reason: str, path: str, job_type: str) -> PayloadError:
    """A `PayloadError` for the field at `path` (`payload.a.b[2]`)."""
    return PayloadError(f"{path}: {reason}", job_type=job_type, field=path)


def too_deep(path: str, job_type: str) -> PayloadError:
    """The error for nesting past `MAX_DEPTH` levels (a cycle ends up here too)."""
    return payload_error(
        f"nested deeper than {MAX_DEPTH} levels (or it contains itself)", path, job_type
    )


def surrogate(text: str) -> bool:
    """Whether a string holds a lone surrogate, which has no UTF-8 (hence no JSON) form."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def scan_validated(value: Any, path: str, job_type: str, depth: int) -> dict[str, str]:
    """Check a validated value; return what only a round trip can clear, by path.

    NaN, infinity and too deep a nesting raise at once. A set, a mapping with keys that are not
    strings, and a leaf of a type without a JSON form of its own (bytes, complex, a path...) are
    fine in a field declared with that type, which validates its JSON form back, and not in an
    `Any` field, which would get a list or a string: those paths are returned, with the reason
    they would be refused, for `check_round_trip`.
    """
    if _clear(value, depth):  # the common case, without building a path for every field
        return {}
    found: dict[str, str] = {}
    _scan(value, path, job_type, depth, found)
    return found


def _clear(value: Any, depth: int) -> bool:
    """Whether `_scan` would find nothing: exact JSON types and models of them, not too deep."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _clear(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:  # plain loops: faster than all() on the enqueue path
        for item in value:  # noqa: SIM110
            if not _clear(item, depth + 1):
                return False
        return True
    if isinstance(value, BaseModel):
        if value.__pydantic_extra__:
            return False  # rare: the full scan handles it
        for item in value.__dict__.values():  # noqa: SIM110
            if not _clear(item, depth + 1):
                return False
        return True
    return kind in _PLAIN_TYPES


def _scan(value: Any, path: str, job_type: str, depth: int, found: dict[str, str]) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise payload_error(f"{value} (NaN or infinity) is not valid JSON", path, job_type)
        return
    children = _children(value)
    if children is None:
        if not isinstance(value, _PLAIN):
            found[path] = f"value of type {type(value).__name__} is not JSON-serialisable"
        return
    if depth >= MAX_DEPTH:
        raise too_deep(path, job_type)
    if isinstance(value, set | frozenset):
        found[path] = f"a {type(value).__name__} is not JSON; use a list"
    elif isinstance(value, Mapping):
        key = next((k for k in value if not isinstance(k, str)), _MISSING)
        if key is not _MISSING:
            found[path] = f"key {key!r} is not a string"
    for suffix, _, child in children:
        _scan(child, path + suffix, job_type, depth + 1, found)


def check_round_trip(
    value: Any,
    revalidate: Callable[[Any], Any],
    dumped: Any,
    path: str,
    found: dict[str, str],
    job_type: str,
) -> None:
    """Refuse what `scan_validated` found unless the payload type rebuilds it from its JSON form.

    Args:
        value: The validated payload.
        revalidate: The payload type's validation, as the worker runs it.
        dumped: The payload's JSON form.
        path: The payload's path (`payload`).
        found: What `scan_validated` returned.
        job_type: The job type, for the error.

    Raises:
        PayloadError: The worker would get another value (or type) at one of those paths.
    """
    try:
        again = revalidate(dumped)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise payload_error(
            f"its JSON form no longer matches the payload type ({reason})", path, job_type
        ) from None
    _compare(value, again, path, found, job_type)


def _compare(value: Any, again: Any, path: str, found: dict[str, str], job_type: str) -> None:
    reason = found.get(path)
    if reason is not None and not _same_kind(value, again):
        raise payload_error(reason, path, job_type)
    if not any(p.startswith(path) for p in found) or isinstance(value, set | frozenset):
        return
    for suffix, step, child in _children(value) or ():
        _compare(child, _follow(again, step), path + suffix, found, job_type)


def _same_kind(value: Any, again: Any) -> bool:
    """Whether the worker would see `value` again: a set as a set, the same keys, the same type."""
    if isinstance(value, set | frozenset):
        return isinstance(again, set | frozenset)
    if isinstance(value, Mapping):
        return isinstance(again, Mapping) and set(again) == set(value)
    return type(again) is type(value)


def find_unserialisable(value: Any, path: str, depth: int = 0) -> tuple[str, Any]:
    """The path and value of the first leaf that pydantic cannot serialise (else the root)."""
    found = _first_unserialisable(value, path, depth)
    return found if found is not None else (path, value)


def _first_unserialisable(value: Any, path: str, depth: int) -> tuple[str, Any] | None:
    children = _children(value)
    if children is None:
        if isinstance(value, _PLAIN):
            return None
        try:
            to_jsonable_python(value)
        except (ValueError, TypeError):
            return path, value
        return None
    if depth >= MAX_DEPTH:
        return None
    for suffix, _, child in children:
        found = _first_unserialisable(child, path + suffix, depth + 1)
        if found is not None:
            return found
    return None


def _children(value: Any) -> list[tuple[str, Step, Any]] | None:
    """The children of a container as `(path suffix, step, child)`; `None` for a leaf."""
    if isinstance(value, RootModel):
        return [("", ("attr", "root"), value.root)]
    if isinstance(value, BaseModel):
        return [(f".{k}", ("attr", k), v) for k, v in _model_items(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
        return [(f".{n}", ("attr", n), getattr(value, n)) for n in names]
    if isinstance(value, Mapping):
        return [(f".{k}", ("key", k), v) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [(f"[{i}]", ("index", i), v) for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [(f"[{i}]", None, v) for i, v in enumerate(value)]
    return None


def _model_items(model: BaseModel) -> Iterator[tuple[str, Any]]:
    """The fields a dump writes (an excluded field is not), then the extra ones."""
    fields = type(model).model_fields
    for name, item in model.__dict__.items():
        info = fields.get(name)
        if info is None or not info.exclude:
            yield name, item
    yield from (model.__pydantic_extra__ or {}).items()


def _follow(parent: Any, step: Step) -> Any:
    """The child of `parent` reached by `step`, or `_MISSING`."""
    if step is None or parent is _MISSING:
        return _MISSING
    kind, key = step
    try:
        if kind == "attr":
            return getattr(parent, key)
        return parent[key]
    except (AttributeError, KeyError, IndexError, TypeError):
        return _MISSING
