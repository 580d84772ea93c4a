"""`decide()`: every row of the decision table in `jobqueue._attempt`'s docstring."""

from __future__ import annotations

from typing import Any

import pytest
from taskiq import TaskiqMessage

from jobqueue import PayloadError, PermanentError, QueueSettings, fixed_schedule
from jobqueue._attempt import Delivery, OutcomeKind, decide
from jobqueue._wire import WireJob
from jobqueue.jobs import JobSpec

SETTINGS = QueueSettings(driver="memory", default_max_retry=2)


def delivery(
    *,
    started: bool = True,
    error: BaseException | None = None,
    retried: int = 0,
    max_retry: int | None = None,
    **fields: Any,
) -> Delivery:
    job = WireJob(
        job_type="t",
        enqueued_at=None,
        unique_digest=None,
        max_retry=max_retry,
        timeout=None,
        labels={},
        args=[{}],
        kwargs={},
    )
    d = Delivery(id="j", queue="default", token="1", raw=b"", retried=retried, job=job, **fields)
    if started:
        d.message = TaskiqMessage(
            task_id="j", task_name="t", labels={"timeout": 3}, labels_types={}, args=[], kwargs={}
        )
        d.started_at = 1.0
    d.error = error
    return d


def spec(retry_delay: Any = None, **defaults: Any) -> JobSpec:
    return JobSpec(job_type="t", func=None, retry_delay=retry_delay, **defaults)


def test_malformed() -> None:
    outcome = decide(
        delivery(started=False, problem="malformed record: bad options"), None, SETTINGS
    )
    assert (outcome.kind, outcome.error) == (OutcomeKind.DEAD, "malformed record: bad options")


def test_unknown_job_type() -> None:
    d = delivery(started=False, problem="unknown job type 't': no worker handler is registered")
    assert decide(d, None, SETTINGS).kind is OutcomeKind.DEAD


def test_lost_lease_changes_nothing() -> None:
    outcome = decide(delivery(lost=True, error=ValueError("late")), spec(), SETTINGS)
    assert outcome.kind is OutcomeKind.LOST
    assert not outcome.counts_as_failure


def test_acknowledged_before_running() -> None:
    outcome = decide(delivery(started=False), spec(), SETTINGS)
    assert outcome.kind is OutcomeKind.DEAD
    assert outcome.error.startswith("not run")


def test_success() -> None:
    assert decide(delivery(), spec(), SETTINGS).kind is OutcomeKind.COMPLETE


def test_stopped_by_shutdown_goes_back_without_counting() -> None:
    d = delivery(error=Exception("cancelled"), stopped_for_shutdown=True)
    outcome = decide(d, spec(), SETTINGS)
    assert (outcome.kind, outcome.counts_as_failure) == (OutcomeKind.REQUEUE, False)


def test_permanent_error() -> None:
    outcome = decide(delivery(error=PermanentError("no such user")), spec(max_retry=9), SETTINGS)
    assert (outcome.kind, outcome.error) == (
        OutcomeKind.DEAD,
        "permanent: PermanentError: no such user",
    )
    assert outcome.traceback.endswith("PermanentError: no such user\n")


def test_invalid_payload() -> None:
    error = PayloadError("invalid payload for 't': payload.x: Field required", job_type="t")
    outcome = decide(delivery(error=error), spec(max_retry=9), SETTINGS)
    assert (outcome.kind, outcome.error) == (OutcomeKind.DEAD, str(error))


def test_failure_with_retries_left_retries_after_the_job_types_delay() -> None:
    outcome = decide(
        delivery(error=ValueError("boom"), retried=1),
        spec(max_retry=3, retry_delay=fixed_schedule(10, 20, 30)),
        SETTINGS,
    )
    assert (outcome.kind, outcome.delay, outcome.error) == (
        OutcomeKind.RETRY,
        20,
        "ValueError: boom",
    )


def test_timeout_with_retries_left() -> None:
    outcome = decide(delivery(error=TimeoutError()), spec(retry_delay=fixed_schedule(5)), SETTINGS)
    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.error == "TimeoutError: the attempt ran longer than its timeout of 3 s"


@pytest.mark.parametrize(
    ("job_max", "spec_max", "retried", "kind"),
    [
        (None, None, 1, OutcomeKind.RETRY),  # the setting: 2
        (None, None, 2, OutcomeKind.DEAD),
        (None, 0, 0, OutcomeKind.DEAD),  # the job type's default
        (1, 0, 0, OutcomeKind.RETRY),  # the enqueue option wins
        (1, 5, 1, OutcomeKind.DEAD),
    ],
)
def test_retries_exhausted(
    job_max: int | None, spec_max: int | None, retried: int, kind: OutcomeKind
) -> None:
    d = delivery(error=ValueError("boom"), retried=retried, max_retry=job_max)
    outcome = decide(d, spec(max_retry=spec_max), SETTINGS)
    assert outcome.kind is kind
    if kind is OutcomeKind.DEAD:
        attempts = retried + 1
        word = "attempt" if attempts == 1 else "attempts"
        assert outcome.error == f"retries exhausted after {attempts} {word}: ValueError: boom"


def test_timeout_exhausted() -> None:
    outcome = decide(delivery(error=TimeoutError(), retried=2), spec(), SETTINGS)
    assert outcome.kind is OutcomeKind.DEAD
    assert outcome.error.endswith("TimeoutError: the attempt ran longer than its timeout of 3 s")


def test_a_broken_delay_function_still_retries() -> None:
    def broken(attempt: int, exc: BaseException, job: Any) -> float:
        raise RuntimeError("bug")

    outcome = decide(delivery(error=ValueError("x")), spec(retry_delay=broken), SETTINGS)
    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.delay > 0
