"""The stored record: what the producer writes is what the worker reads; what it cannot read is
refused with a reason that never quotes the record."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue._wire import MalformedRecordError, decode, encode_tail, record, to_taskiq

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
job_types = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="{}"),
    min_size=1,
    max_size=40,
)
labels = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in ("queue", "timeout", "max_retry")),
    st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=10) | st.booleans(),
    max_size=3,
)


@given(
    job_type=job_types,
    payload=json_values,
    max_retry=st.none() | st.integers(min_value=0, max_value=100),
    timeout=st.none() | st.floats(min_value=0.001, max_value=1e6),
    digest=st.none() | st.text("0123456789abcdef", min_size=32, max_size=32),
    extra=labels,
    enqueued=st.integers(min_value=0, max_value=2**45),
)
def test_a_record_reads_back_as_written(
    job_type: str,
    payload: Any,
    max_retry: int | None,
    timeout: float | None,
    digest: str | None,
    extra: dict[str, Any],
    enqueued: int,
) -> None:
    tail = encode_tail(
        orjson.dumps(payload),
        unique_digest=digest,
        max_retry=max_retry,
        timeout=timeout,
        labels=extra,
    )
    job = decode(record(job_type, enqueued, tail))
    assert job.job_type == job_type
    assert job.payload == payload
    assert job.args == [payload]
    assert job.kwargs == {}
    assert (job.max_retry, job.timeout, job.unique_digest) == (max_retry, timeout, digest)
    assert job.labels == extra
    assert job.enqueued_at == enqueued / 1000


@given(args=st.lists(json_values, max_size=3), kwargs=st.dictionaries(st.text(), json_values))
def test_args_and_kwargs_read_back(args: list[Any], kwargs: dict[str, Any]) -> None:
    tail = encode_tail(orjson.dumps([args, kwargs]), args_and_kwargs=True)
    job = decode(record("t", 1, tail))
    assert (job.args, job.kwargs) == (args, kwargs)


@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_with_a_reason(raw: bytes) -> None:
    reason = ""
    try:
        decode(raw, "the-id")
    except MalformedRecordError as exc:
        reason = str(exc)
    assert reason == "" or (reason.startswith("malformed") and len(reason) <= 200)


def test_a_label_json_cannot_hold_is_kept_as_text() -> None:
    job = decode(record("t", 1, encode_tail(b"1", labels={"big": 2**70, "obj": object})))
    assert job.labels["big"] == str(2**70)
    assert job.labels["obj"] == str(object)


SECRET = "do-not-log-me"


@pytest.mark.parametrize(
    "raw",
    [
        b"t\x1f1\x1f\x1f\x1f\x1f{" + SECRET.encode(),
        b"t\x1f1\x1f\x1f\x1f[" + SECRET.encode() + b"\x1f{}",
        b"t\x1f1\x1f\x1fr=" + SECRET.encode() + b"\x1f\x1f{}",
        b"t\x1f" + SECRET.encode() + b"\x1f\x1f\x1f\x1f{}",
        b"{" + SECRET.encode(),
        b'{"task_id": "other", "task_name": "t", "args": ["' + SECRET.encode() + b'"]}',
        b'["' + SECRET.encode() + b'"]',
        SECRET.encode(),
    ],
)
def test_a_reason_never_quotes_the_record(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError) as refused:
        decode(raw, "the-id")
    assert SECRET not in str(refused.value)


def test_a_message_of_the_previous_layout_is_read() -> None:
    message = orjson.dumps(
        {
            "task_id": "abc",
            "task_name": "email:send",
            "labels": {"queue": "critical", "max_retry": "3", "timeout": "2.5", "trace": "x"},
            "labels_types": {"max_retry": 2, "timeout": 3},
            "args": [{"to": "ada"}],
            "kwargs": {},
        }
    )
    job = decode(message, "abc")
    assert (job.job_type, job.payload, job.max_retry, job.timeout) == (
        "email:send",
        {"to": "ada"},
        3,
        2.5,
    )
    assert job.labels == {"trace": "x"}
    with pytest.raises(MalformedRecordError, match="task_id is not the job's id"):
        decode(message, "another-job")


def test_the_taskiq_message_of_a_delivery() -> None:
    job = decode(record("t", 1, encode_tail(b'{"a":1}', max_retry=2)))
    message = to_taskiq("id1", "low", job, "7", timeout=30.0)
    assert (message.task_id, message.task_name, message.args) == ("id1", "t", [{"a": 1}])
    assert message.labels == {
        "queue": "low",
        "jobqueue_delivery": "7",
        "max_retry": 2,
        "timeout": 30.0,
    }
