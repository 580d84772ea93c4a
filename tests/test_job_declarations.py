"""Declaring jobs: mistakes fail at registration, not when the job first runs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from jobqueue import InvalidOptionsError, JobRegistry, JobType


class Ping(BaseModel):
    n: int


def test_a_dependency_without_a_marker_is_refused() -> None:
    registry = JobRegistry()

    async def handler(payload: Ping, repo: object) -> None: ...

    with pytest.raises(InvalidOptionsError, match="'repo' is not the payload and has no default"):
        registry.job("ping")(handler)


def test_an_unresolvable_payload_type_is_refused() -> None:
    registry = JobRegistry()

    async def handler(payload: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(InvalidOptionsError, match="cannot resolve the type hints"):
        registry.job("ping")(handler)


def test_sync_handlers_are_refused() -> None:
    def handler(payload: Ping) -> None: ...

    with pytest.raises(InvalidOptionsError, match="async def"):
        JobRegistry().job("ping")(handler)  # type: ignore[type-var]


def test_registry_defaults_must_agree_with_the_job_type() -> None:
    ping = JobType("ping", Ping, max_retry=4, queue="low")

    async def handler(payload: Ping) -> None: ...

    with pytest.raises(InvalidOptionsError, match="max_retry=2 contradicts"):
        JobRegistry().job(ping, max_retry=2)(handler)
    registry = JobRegistry()
    registry.job(ping, max_retry=4, timeout=5)(handler)  # agreeing or new values are fine
    spec = registry.get("ping")
    assert spec is not None
    assert (spec.queue, spec.max_retry, spec.timeout) == ("low", 4, 5.0)


def test_payload_type_any_accepts_any_json() -> None:
    registry = JobRegistry()

    async def handler(payload: Any) -> None: ...

    registry.job("anything")(handler)
    spec = registry.get("anything")
    assert spec is not None
    assert spec.adapter is None
