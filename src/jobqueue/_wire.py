"""How a job is stored: jobqueue's compact record, and the Taskiq message a worker builds from it.

Every driver keeps a job as one record (in Redis, a field of the queue's `jobs` hash), written
once at enqueue and never changed; what changes during a job's life (deliveries, retries, errors)
lives elsewhere. The record holds only what differs from the defaults:

```text
<job type> US <enqueued at, ms> US <unique digest> US <options> US <labels> US <body>
```

`US` is the ASCII unit separator (0x1f), which no name may contain and JSON always escapes.
`options` is empty or `;`-separated `key=value` pairs (`r` max retry, `t` timeout in seconds, `R`
result retention in ms, `d` deadline in epoch ms, `a=1` when the body is `[args, kwargs]` rather
than the single payload); `labels` is empty or a JSON
object of Taskiq labels jobqueue does not own; `body` is the payload's JSON. A job with a 40-byte
payload and no options is about 70 bytes, against the 230 of the Taskiq message it stands for.

The Lua side reads only the job type and the unique digest (`_common.lua` `record_fields`) and
writes the enqueue time itself, so the producer sends the job type and the rest (the "tail").

Records written by jobqueue 0.1 were Taskiq's JSON message (in the job's hash, field `msg`);
`decode` reads those too, so a worker of this version runs jobs a previous producer stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from taskiq import TaskiqMessage
from taskiq.labels import LabelType

from jobqueue._labels import Label

__all__ = [
    "DELIVERY_LABEL",
    "MalformedRecordError",
    "WireJob",
    "decode",
    "encode_tail",
    "from_taskiq",
    "record",
    "taskiq_body",
    "to_taskiq",
]

US = b"\x1f"
DELIVERY_LABEL = "jobqueue_delivery"
"""Set on the Taskiq message of a delivery: which delivery of the job it is (its fence token)."""

_OWN_LABELS = frozenset(
    {
        Label.QUEUE,
        Label.MAX_RETRY,
        Label.TIMEOUT,
        Label.UNIQUE_TTL,
        Label.PROCESS_AT,
        Label.DELAY,
        DELIVERY_LABEL,
    }
)
_REASON_LIMIT = 200


class MalformedRecordError(ValueError):
    """A stored record cannot be read; the message says what is wrong, never what it holds."""


@dataclass(slots=True)
class WireJob:
    """A job as its record describes it (not frozen: one is built for every job fetched)."""

    job_type: str
    enqueued_at: float | None
    """Epoch seconds, on the store's clock."""
    unique_digest: str | None
    max_retry: int | None
    timeout: float | None
    labels: dict[str, Any]
    """Taskiq labels that jobqueue does not own (custom `pre_send` middlewares, schedules)."""
    args: list[Any]
    kwargs: dict[str, Any]
    legacy: bool = False
    """Read from jobqueue 0.1's layout (the Taskiq message in the job hash)."""
    result_ttl_ms: int = 0
    """How long its result is kept after it ends; 0: not kept."""
    deadline: float | None = None
    """Epoch seconds past which it is not run."""

    @property
    def payload(self) -> Any:
        """The payload of a jobqueue job (its one argument)."""
        if self.args:
            return self.args[0]
        return self.kwargs or None


def encode_tail(
    body: bytes,
    *,
    unique_digest: str | None = None,
    max_retry: int | None = None,
    timeout: float | None = None,
    result_ttl: float | None = None,
    deadline: float | None = None,
    labels: dict[str, Any] | None = None,
    args_and_kwargs: bool = False,
) -> bytes:
    """The record after the job type and the enqueue time (what the enqueue script completes)."""
    options = []
    if max_retry is not None:
        options.append(b"r=%d" % max_retry)
    if timeout is not None:
        options.append(b"t=" + repr(float(timeout)).encode())
    if result_ttl:
        options.append(b"R=%d" % round(result_ttl * 1000))
    if deadline is not None:
        options.append(b"d=%d" % round(deadline * 1000))
    if args_and_kwargs:
        options.append(b"a=1")
    label_json = _labels_json(labels) if labels else b""
    digest = unique_digest.encode() if unique_digest else b""
    return digest + US + b";".join(options) + US + label_json + US + body


def _labels_json(labels: dict[str, Any]) -> bytes:
    """Labels as JSON; a value JSON cannot hold (a huge int, an object) is kept as its text."""
    try:
        return orjson.dumps(labels, default=str)
    except TypeError:
        return orjson.dumps({key: _plain(value) for key, value in labels.items()}, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | str | float) or value is None:
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    return str(value)


def record(job_type: str, enqueued_ms: int, tail: bytes) -> bytes:
    """The whole record, as the enqueue script writes it (the memory driver uses this)."""
    return job_type.encode() + US + str(enqueued_ms).encode() + US + tail


def decode(raw: bytes, job_id: str | None = None) -> WireJob:
    """Read a stored record (or a previous version's Taskiq message, which must name `job_id`).

    Raises:
        MalformedRecordError: It cannot be read; the message says why, without its content.
    """
    if raw.startswith(b"{"):
        return _decode_taskiq_json(raw, job_id)
    parts = raw.split(US, 5)
    if len(parts) != 6:
        raise MalformedRecordError(f"malformed record: {len(parts)} of 6 fields")
    job_type_raw, enqueued, digest, options, labels, body = parts
    try:
        job_type = job_type_raw.decode()
        enqueued_at = int(enqueued) / 1000 if enqueued else None
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # a ValueError too: checked first
        raise MalformedRecordError(f"malformed record: payload is not JSON ({exc})"[:200]) from None
    except ValueError:
        raise MalformedRecordError("malformed record: bad job type or enqueue time") from None
    if not job_type:
        raise MalformedRecordError("malformed record: empty job type")
    if not (options or labels or digest):  # the common case: nothing but the defaults
        # Positional: a keyword call costs twice as much, on every job fetched.
        return WireJob(job_type, enqueued_at, None, None, None, {}, [value], {})
    return _with_options(job_type, enqueued_at, digest, options, labels, value)


def _with_options(
    job_type: str,
    enqueued_at: float | None,
    digest: bytes,
    options: bytes,
    labels: bytes,
    value: Any,
) -> WireJob:
    found = _options(options) if options else {}
    extra = _json(labels, "labels") if labels else {}
    if not isinstance(extra, dict):
        raise MalformedRecordError("malformed record: labels are not a JSON object")
    args: list[Any] = [value]
    kwargs: dict[str, Any] = {}
    if found.get(b"a"):
        if not (isinstance(value, list) and len(value) == 2):
            raise MalformedRecordError("malformed record: body is not [args, kwargs]")
        args, kwargs = value
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise MalformedRecordError("malformed record: body is not [args, kwargs]")
    deadline = found.get(b"d")
    return WireJob(
        job_type=job_type,
        enqueued_at=enqueued_at,
        unique_digest=digest.decode(errors="replace") or None,
        max_retry=found.get(b"r"),
        timeout=found.get(b"t"),
        labels=extra,
        args=args,
        kwargs=kwargs,
        result_ttl_ms=found.get(b"R", 0),
        deadline=None if deadline is None else deadline / 1000,
    )


_OPTION_PARSERS: dict[bytes, Any] = {b"r": int, b"t": float, b"R": int, b"d": int, b"a": int}


def _options(raw: bytes) -> dict[bytes, Any]:
    """The `key=value` options of a record; keys this version does not know are ignored."""
    found: dict[bytes, Any] = {}
    try:
        for item in raw.split(b";"):
            key, _, value = item.partition(b"=")
            parse = _OPTION_PARSERS.get(key)
            if parse is not None:
                found[key] = parse(value)
    except ValueError:
        raise MalformedRecordError("malformed record: bad options") from None
    return found


def _json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson's message gives a position, never the content.
        reason = f"malformed record: {what} is not JSON ({exc})"
        raise MalformedRecordError(reason[:_REASON_LIMIT]) from None


def _decode_taskiq_json(raw: bytes, job_id: str | None) -> WireJob:
    """A previous version's record: Taskiq's message JSON."""
    body = _json(raw, "message")
    if not isinstance(body, dict):
        raise MalformedRecordError("malformed message: JSON but not an object")
    name, args, kwargs = body.get("task_name"), body.get("args", []), body.get("kwargs", {})
    labels, types = body.get("labels") or {}, body.get("labels_types") or {}
    if not isinstance(name, str) or not name:
        raise MalformedRecordError("malformed message: task_name is missing or not a string")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise MalformedRecordError("malformed message: args is not a list or kwargs not an object")
    if not isinstance(labels, dict) or not isinstance(types, dict):
        raise MalformedRecordError("malformed message: labels are not an object")
    if job_id is not None and body.get("task_id") != job_id:
        # Written by hand or copied from another job: whose job it is cannot be known.
        raise MalformedRecordError("malformed message: its task_id is not the job's id")
    try:
        typed = {key: _parse_label(value, types.get(key)) for key, value in labels.items()}
        max_retry = typed.pop(Label.MAX_RETRY, None)
        timeout = typed.pop(Label.TIMEOUT, None)
        return WireJob(
            job_type=name,
            enqueued_at=None,
            unique_digest=None,
            max_retry=None if max_retry is None else int(max_retry),
            timeout=None if timeout is None else float(timeout),
            labels={k: v for k, v in typed.items() if k not in _OWN_LABELS},
            args=args,
            kwargs=kwargs,
            legacy=True,
        )
    except (TypeError, ValueError):
        raise MalformedRecordError("malformed message: a label has a bad value") from None


def _parse_label(value: Any, kind: Any) -> Any:
    if kind == LabelType.INT:
        return int(value)
    if kind == LabelType.FLOAT:
        return float(value)
    if kind == LabelType.BOOL:
        return str(value).lower() == "true"
    return value


def to_taskiq(
    job_id: str, queue: str, job: WireJob, token: str, timeout: float | None
) -> TaskiqMessage:
    """The Taskiq message that runs one delivery of a job.

    The task id is always the job id (whatever an old message said), and the labels carry the
    job's own options, the attempt's `timeout` and the delivery's token.
    """
    labels = dict(job.labels)
    labels[Label.QUEUE] = queue
    labels[DELIVERY_LABEL] = token
    if job.max_retry is not None:
        labels[Label.MAX_RETRY] = job.max_retry
    if timeout is not None:
        labels[Label.TIMEOUT] = timeout
    return _message(
        {
            "task_id": job_id,
            "task_name": job.job_type,
            "labels": labels,
            "labels_types": {},
            "args": job.args,
            "kwargs": job.kwargs,
        }
    )


_FIELDS = frozenset(TaskiqMessage.model_fields)


def _built(values: dict[str, Any]) -> TaskiqMessage:
    """A Taskiq message from values decoded here, as `model_construct` makes one.

    Nothing needs validating (the values come from `decode`), and `model_construct` spends
    about 5 us per job in Python filling in defaults; this sets the same four attributes
    directly, for about 1.5 us. `_message` checks once that the result is the model's own.
    """
    message = TaskiqMessage.__new__(TaskiqMessage)
    object.__setattr__(message, "__dict__", values)
    object.__setattr__(message, "__pydantic_fields_set__", set(_FIELDS))
    object.__setattr__(message, "__pydantic_extra__", None)
    object.__setattr__(message, "__pydantic_private__", None)
    return message


def _check_built() -> bool:
    values = {
        "task_id": "i",
        "task_name": "t",
        "labels": {"queue": "q"},
        "labels_types": {},
        "args": [1],
        "kwargs": {},
    }
    if set(values) != _FIELDS:  # a Taskiq message with other fields: build it the slow way
        return False
    try:
        built = _built(dict(values))
        return bool(built == TaskiqMessage.model_validate(values) and built.model_dump() == values)
    except Exception:  # another pydantic: its own validation then
        return False


_message = _built if _check_built() else TaskiqMessage.model_validate


@dataclass(frozen=True, slots=True)
class TaskiqOptions:
    """The jobqueue options a Taskiq message carries in its labels (the `kick()` path)."""

    queue: str | None
    max_retry: int | None
    timeout: float | None
    unique_ttl: float | None
    process_at: float | None
    delay: float | None
    labels: dict[str, Any]


def from_taskiq(message: TaskiqMessage) -> TaskiqOptions:
    """Split a Taskiq message's labels into jobqueue's options and the labels to keep.

    Raises:
        ValueError: An option label holds something that is not a number.
    """
    labels = message.labels
    max_retry = _number(labels.get(Label.MAX_RETRY))
    queue = labels.get(Label.QUEUE)
    return TaskiqOptions(
        queue=str(queue) if queue else None,
        max_retry=None if max_retry is None else int(max_retry),
        timeout=_number(labels.get(Label.TIMEOUT)),
        unique_ttl=_number(labels.get(Label.UNIQUE_TTL)),
        process_at=_number(labels.get(Label.PROCESS_AT)),
        delay=_number(labels.get(Label.DELAY)),
        labels={
            k: v
            for k, v in labels.items()
            if k not in _OWN_LABELS and not (k == Label.ACK_TYPE and v == "when_saved")
        },
    )


def taskiq_body(message: TaskiqMessage) -> tuple[Any, bool]:
    """What a record stores of a Taskiq message's arguments, and whether it is `[args, kwargs]`.

    A jobqueue job takes its payload as its one argument; anything else (Taskiq's own tasks) is
    kept whole.
    """
    if len(message.args) == 1 and not message.kwargs:
        return message.args[0], False
    return [list(message.args), dict(message.kwargs)], True


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)
