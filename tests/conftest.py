"""Shared fixtures: settings with short timings so behaviour tests finish in seconds."""

from __future__ import annotations

import pytest
from taskiq.receiver import Receiver

from jobqueue import QueueSettings
from jobqueue.receiver import JobReceiver


@pytest.fixture
def settings(jobqueue_settings: QueueSettings) -> QueueSettings:
    """Fast timings: 1 s leases, recovery scans every 0.2 s, 2 s shutdown grace."""
    return jobqueue_settings.model_copy(
        update={
            "lease_timeout": 1.0,
            "recovery_interval": 0.2,
            "shutdown_timeout": 2.0,
            "poll_interval": 0.02,
        }
    )


@pytest.fixture(params=[JobReceiver, Receiver], ids=["JobReceiver", "taskiq-Receiver"])
def receiver_class(request: pytest.FixtureRequest) -> type[Receiver]:
    """Both receivers a worker can run with: jobqueue's own, and Taskiq's stock one."""
    return request.param  # type: ignore[no-any-return]
