"""Queue names, job types and job ids: one set of rules, enforced wherever a name comes in."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue import (
    ConfigurationError,
    EnqueueOptions,
    InvalidOptionsError,
    JobRegistry,
    JobType,
    QueueSettings,
)
from jobqueue._names import check_job_id, check_job_type, check_queue_name
from jobqueue.jobs import JobSpec
from jobqueue.settings import parse_weights

QUEUE_CHARS = string.ascii_letters + string.digits + "_.:-"
ID_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "{}")


def is_queue_name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64 and all(c in QUEUE_CHARS for c in value)


def is_job_type(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 200
        and all(c.isprintable() and not c.isspace() and c not in "{}\x1f" for c in value)
    )


def is_job_id(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 200 and all(c in ID_CHARS for c in value)


anything = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=QUEUE_CHARS + "\n \t{}", max_size=70),
    st.text(alphabet=ID_CHARS + "\n \x00\x1f{}é", max_size=210),
    st.sampled_from(["", "\n", "}", "{x}", "a\n", "a" * 65, "a" * 201, "\x1f", "é", "a b"]),
    st.binary(max_size=10),
    st.integers(),
    st.none(),
)


@given(st.text(alphabet=QUEUE_CHARS, min_size=1, max_size=64))
def test_valid_queue_names_round_trip(name: str) -> None:
    assert check_queue_name(name) == name
    assert parse_weights({name: 2}) == {name: 2}


@given(st.text(st.characters(codec="utf-8").filter(is_job_type), min_size=1, max_size=200))
def test_valid_job_types_round_trip(name: str) -> None:
    assert check_job_type(name) == name


@given(st.text(alphabet=ID_CHARS, min_size=1, max_size=200))
def test_valid_job_ids_round_trip(value: str) -> None:
    assert check_job_id(value) == value
    assert EnqueueOptions(job_id=value).job_id == value


@given(anything)
def test_queue_names_outside_the_rules_are_refused(value: Any) -> None:
    _accepted_iff(check_queue_name, value, is_queue_name(value))


@given(anything)
def test_job_types_outside_the_rules_are_refused(value: Any) -> None:
    _accepted_iff(check_job_type, value, is_job_type(value))


@given(anything)
def test_job_ids_outside_the_rules_are_refused(value: Any) -> None:
    _accepted_iff(check_job_id, value, is_job_id(value))


def _accepted_iff(check: Any, value: Any, valid: bool) -> None:
    if valid:
        assert check(value) == value
    else:
        with pytest.raises(InvalidOptionsError):  # and no other exception type
            check(value)


def test_refusals_name_the_rule_and_cut_long_values() -> None:
    with pytest.raises(InvalidOptionsError, match=r"queue name .* 1 to 64 characters") as info:
        check_queue_name("q" * 10_000)
    assert "(10000 characters)" in str(info.value)
    assert len(str(info.value)) < 200
    with pytest.raises(InvalidOptionsError, match=r"job id .*1 to 200 printable ASCII"):
        check_job_id("x" * 1_000_000)
    with pytest.raises(InvalidOptionsError, match=r"job type .*without whitespace, braces"):
        check_job_type("a b")


@pytest.mark.parametrize(
    "queues",
    ['{"default\\n": 1}', '{"default": 1, "' + "q" * 65 + '": 1}', {"default": 1, "a b": 2}],
    ids=["trailing-newline", "65-characters", "space"],
)
def test_settings_refuse_bad_queue_names(queues: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"QUEUE_QUEUES: .*invalid queue name"):
        QueueSettings.from_env(queues=queues)


@pytest.mark.parametrize("job_id", ["}", "{", "", "a b", "a\n", "é", "x" * 201, "x" * 1_000_000])
def test_enqueue_options_refuse_bad_job_ids(job_id: str) -> None:
    with pytest.raises(InvalidOptionsError, match="invalid job id"):
        EnqueueOptions(job_id=job_id)


def test_enqueue_options_accept_the_longest_job_id() -> None:
    assert EnqueueOptions(job_id="x" * 200).job_id == "x" * 200


def test_enqueue_options_refuse_a_bad_queue_name() -> None:
    with pytest.raises(InvalidOptionsError, match="invalid queue name"):
        EnqueueOptions(queue="default\n")


@pytest.mark.parametrize("name", ["", "a b", "email:send\n", "{x}", "}", "a\x1fb", "t" * 201])
def test_registry_and_job_type_refuse_bad_job_types(name: str) -> None:
    registry = JobRegistry()
    with pytest.raises(InvalidOptionsError, match="invalid job type"):
        registry.add(JobSpec(job_type=name, func=None))
    with pytest.raises(InvalidOptionsError, match="invalid job type"):
        JobType(name, dict)

    with pytest.raises(InvalidOptionsError, match="invalid job type"):

        @registry.job(name)
        async def handler(payload: Any) -> None: ...

    assert len(registry) == 0


def test_job_type_refuses_a_bad_default_queue() -> None:
    with pytest.raises(InvalidOptionsError, match="invalid queue name"):
        JobType("email:send", dict, queue="crit ical")
    with pytest.raises(InvalidOptionsError, match="invalid queue name"):
        JobRegistry().add(JobSpec(job_type="email:send", func=None, queue="a\n"))


def test_documented_job_types_are_accepted() -> None:
    for name in ("email:send", "report:generate", "webhook.deliver", "ünïcode/types_1", "a"):
        assert check_job_type(name) == name
        assert re.fullmatch(r"\S+", name)


@pytest.mark.parametrize(
    ("task_id", "task_name"),
    [("{x}", "email:send"), ("", "email:send"), ("x" * 201, "email:send"), ("ok", "a b")],
)
async def test_taskiq_kick_path_refuses_bad_names(task_id: str, task_name: str) -> None:
    from taskiq import TaskiqMessage

    from jobqueue.memory import MemoryJobBroker

    broker = MemoryJobBroker(QueueSettings(driver="memory"))
    message = TaskiqMessage(
        task_id=task_id, task_name=task_name, labels={}, labels_types={}, args=[{}], kwargs={}
    )
    with pytest.raises(InvalidOptionsError):
        await broker.kick(broker.formatter.dumps(message))
