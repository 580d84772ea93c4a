"""Shared fixtures: settings with short timings so behaviour tests finish in seconds."""

from __future__ import annotations

import pytest

from jobqueue import QueueSettings


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
