"""JSON encoding of payloads: field-named errors at enqueue, and the canonical form for unique keys.

Everything jobqueue stores is JSON (orjson): a payload read back from Redis can never run code.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from jobqueue.errors import PayloadError

__all__ = ["canonical_digest", "to_jsonable"]

_SCALARS = (str, int, float, bool, type(None))


def to_jsonable(payload: Any, job_type: str) -> Any:
    """Turn a payload into plain JSON values, or raise `PayloadError` naming the bad field.

    Accepts pydantic models, mappings with string keys, lists/tuples, scalars, and the values
    orjson writes natively (datetime, date, time, UUID, Decimal as string, Enum values).
    """
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return _walk(payload, "payload", job_type)


def _walk(value: Any, path: str, job_type: str) -> Any:
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):  # no JSON form
            raise PayloadError(
                f"{path}: {value} (NaN or infinity) is not valid JSON",
                job_type=job_type,
                field=path,
            )
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(
                    f"{path}: key {key!r} is not a string", job_type=job_type, field=path
                )
            out[key] = _walk(item, f"{path}.{key}", job_type)
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, f"{path}[{i}]", job_type) for i, item in enumerate(value)]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return _walk(value.value, path, job_type)
    raise PayloadError(
        f"{path}: value of type {type(value).__name__} is not JSON-serialisable",
        job_type=job_type,
        field=path,
    )


def canonical_digest(job_type: str, payload: Any) -> str:
    """A stable hash of a job type and a JSON payload; key order does not matter."""
    body = orjson.dumps([job_type, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:32]
