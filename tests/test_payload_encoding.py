"""Payload encoding: what is not JSON (or would change on the way) is a `PayloadError` naming it."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, JobType, PayloadError, QueueSettings
from jobqueue.codec import MAX_DEPTH, dump_validated, to_jsonable
from jobqueue.memory import MemoryJobBroker
from jobqueue.testing import RecordingQueue

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1
ANY_DICT: TypeAdapter[Any] = TypeAdapter(dict[str, Any])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=INT64_MIN, max_value=UINT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)
bad_leaves = st.sampled_from(
    [
        {1, 2},
        frozenset({"a"}),
        float("nan"),
        float("inf"),
        -float("inf"),
        object(),
        b"bytes",
        2**64,
        INT64_MIN - 1,
        "lone \ud800 surrogate",
        complex(1, 2),
        {1: "int key"},
        {"\udfff": "surrogate key"},
    ]
)


def nested(depth: int) -> Any:
    value: Any = 0
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def with_a_bad_value(draw: st.DrawFn) -> Any:
    """A JSON value with one bad leaf somewhere inside, or nested too deep."""
    if draw(st.booleans()):
        return nested(draw(st.integers(MAX_DEPTH + 1, 600)))
    bad = draw(bad_leaves)
    for _ in range(draw(st.integers(0, 4))):
        siblings = draw(st.lists(json_values, max_size=3))
        if draw(st.booleans()):
            siblings.insert(draw(st.integers(0, len(siblings))), bad)
            bad = siblings
        else:
            bad = {**{f"k{i}": v for i, v in enumerate(siblings)}, "bad": bad}
    return bad


@given(json_values)
def test_json_values_round_trip_unchanged(value: Any) -> None:
    assert orjson.loads(orjson.dumps(to_jsonable(value, "t"))) == value
    assert orjson.loads(orjson.dumps(dump_validated(ANY_DICT, {"v": value}, "t"))) == {"v": value}


@given(with_a_bad_value())
def test_values_that_are_not_json_raise_payload_error_only(value: Any) -> None:
    with pytest.raises(PayloadError):  # any other exception type fails the test
        to_jsonable(value, "t")
    with pytest.raises(PayloadError):
        dump_validated(ANY_DICT, ANY_DICT.validate_python({"v": value}), "t")


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"a": {"b": [1, 2, {3}]}}, "payload.a.b[2]", "use a list"),
        ({"a": frozenset()}, "payload.a", "use a list"),
        ({"a": [float("nan")]}, "payload.a[0]", "NaN"),
        ({"a": {"b": float("-inf")}}, "payload.a.b", "infinity"),
        ({"a": 2**64}, "payload.a", "64 bits"),
        ({"a": "x\ud800"}, "payload.a", "surrogate"),
        ({"a": [object()]}, "payload.a[0]", "object"),
    ],
)
def test_errors_name_the_field(payload: Any, field: str, words: str) -> None:
    for encode in (
        lambda: to_jsonable(payload, "t"),
        lambda: dump_validated(ANY_DICT, ANY_DICT.validate_python(payload), "t"),
    ):
        with pytest.raises(PayloadError, match=words) as info:
            encode()
        assert info.value.field == field
        assert info.value.job_type == "t"
        assert field in str(info.value)


def test_depth_limit_is_exact_and_cycles_are_refused() -> None:
    assert to_jsonable(nested(MAX_DEPTH), "t") == nested(MAX_DEPTH)
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        to_jsonable(nested(MAX_DEPTH + 1), "t")
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        to_jsonable(nested(5000), "t")  # no RecursionError
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        to_jsonable({"a": cycle}, "t")
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        dump_validated(ANY_DICT, {"a": nested(300)}, "t")


class Inner(BaseModel):
    extra: Any = None


class Model(BaseModel):
    ratio: float = 1.0
    tags: set[str] = set()
    frozen: frozenset[int] = frozenset()
    anything: Any = None
    inner: Inner = Inner()


class Declared(BaseModel):
    """Fields whose JSON form the worker's validation turns back into the declared type."""

    raw: bytes
    by_id: dict[int, str]
    hidden: Any = Field(default=None, exclude=True)  # not written: not checked
    path: Path


@dataclasses.dataclass
class Point:
    x: float
    meta: Any = None


@pytest.mark.parametrize(
    ("model", "field", "words"),
    [
        (Model(ratio=math.nan), "payload.ratio", "NaN"),
        (Model(anything={"s": {1}}), "payload.anything.s", "use a list"),
        (Model(anything=[math.inf]), "payload.anything[0]", "infinity"),
        (Model(inner=Inner(extra={2})), "payload.inner.extra", "use a list"),
        (Model(anything=object()), "payload.anything", "object"),
        (Model(anything=2**70), "payload.anything", "64 bits"),
        (Model(anything=b"raw"), "payload.anything", "bytes"),
        (Model(anything={1: "a"}), "payload.anything", "not a string"),
    ],
)
def test_typed_models_are_checked_too(model: Model, field: str, words: str) -> None:
    adapter = TypeAdapter(Model)
    for encode in (
        lambda: dump_validated(adapter, model, "t"),
        lambda: to_jsonable(model, "t"),  # an untyped job given a model
        lambda: to_jsonable({"m": model}, "t"),
    ):
        with pytest.raises(PayloadError, match=words) as info:
            encode()
        assert info.value.field is not None
        assert info.value.field.endswith(field.removeprefix("payload"))


def test_declared_sets_and_json_types_still_work() -> None:
    model = Model(tags={"b", "a"}, frozen=frozenset({3}), anything={"when": datetime(2030, 1, 1)})
    dumped = dump_validated(TypeAdapter(Model), model, "t")
    assert sorted(dumped["tags"]) == ["a", "b"]
    assert dumped["frozen"] == [3]
    assert dumped["anything"] == {"when": "2030-01-01T00:00:00"}
    again = Model.model_validate(orjson.loads(orjson.dumps(dumped)))
    assert (again.tags, again.frozen) == (model.tags, model.frozen)
    assert to_jsonable(model, "t") == dumped
    declared = TypeAdapter(Declared)
    value = Declared(raw=b"\x00a", by_id={1: "a"}, hidden={2}, path=Path("reports/x.csv"))
    assert dump_validated(declared, value, "t") == {
        "raw": "\x00a",
        "by_id": {"1": "a"},
        "path": "reports/x.csv",
    }
    points = TypeAdapter(Point)
    assert dump_validated(points, Point(1.5, {"a": [1]}), "t") == {"x": 1.5, "meta": {"a": [1]}}
    with pytest.raises(PayloadError, match="use a list") as info:
        dump_validated(points, Point(1.5, {"a": {1}}), "t")
    assert info.value.field == "payload.meta.a"


BAG = JobType("bag:put", dict[str, Any])


async def test_recording_queue_refuses_what_changes_in_a_typed_payload() -> None:
    queue = RecordingQueue()
    for payload, field in (
        ({"tags": {"a"}}, "payload.tags"),
        ({"ratio": math.nan}, "payload.ratio"),
        ({"thing": object()}, "payload.thing"),
        ({"deep": nested(100)}, None),
    ):
        with pytest.raises(PayloadError) as info:
            await queue.enqueue(BAG, payload)
        if field is not None:
            assert info.value.field == field
    queue.assert_nothing_enqueued()
    await queue.enqueue(BAG, {"when": datetime(2030, 1, 1, tzinfo=UTC)})
    queue.assert_enqueued(BAG, when="2030-01-01T00:00:00Z")


async def test_queue_refuses_bad_untyped_payloads() -> None:
    async with JobQueue(MemoryJobBroker(QueueSettings(driver="memory"))) as queue:
        for payload in ({"a": {1}}, {"a": 2**64}, {"a": "\ud800"}, nested(MAX_DEPTH + 1)):
            with pytest.raises(PayloadError):
                await queue.enqueue("any:job", payload)
        await queue.enqueue_with_options("any:job", {"ok": [1, 2.5, None]}, EnqueueOptions())


@pytest.mark.parametrize(
    "payload", [{"tags": {"a"}}, {"ratio": math.nan}, {"thing": object()}], ids=str
)
async def test_queue_refuses_what_changes_in_a_typed_payload(payload: Any) -> None:
    registry = JobRegistry()

    @registry.job(BAG)
    async def put(payload: dict[str, Any]) -> None: ...

    async with JobQueue(MemoryJobBroker(QueueSettings(driver="memory"), registry=registry)) as q:
        with pytest.raises(PayloadError):
            await q.enqueue(BAG, payload)
