"""The pytest plugin jobqueue installs: a private Redis for the test session.

Fixtures:
    jobqueue_redis_url: URL of a Redis server for the session: `REDIS_URL` if set, else a
        private `redis-server` (from PATH or the embedded one) on a free port, stopped at the end.
    jobqueue_settings: `QueueSettings` on that server with a key prefix of its own per test, so
        tests never see each other's jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from jobqueue.settings import QueueSettings
from jobqueue.testing.redis_server import env_or_private

__all__ = ["jobqueue_redis_url", "jobqueue_settings"]


@pytest.fixture(scope="session")
def jobqueue_redis_url() -> Iterator[str]:
    """A Redis URL for the whole session; a private server unless `REDIS_URL` is set."""
    url, server = env_or_private()
    try:
        yield url
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def jobqueue_settings(jobqueue_redis_url: str) -> QueueSettings:
    """Queue settings on the session's Redis, with a key prefix unique to this test."""
    return QueueSettings(
        url=SecretStr(jobqueue_redis_url), key_prefix=f"test-{uuid.uuid4().hex[:12]}"
    )
