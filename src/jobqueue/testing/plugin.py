"""The pytest plugin jobqueue installs: a private Redis for the test session.

For the whole session it also removes inherited `QUEUE_*`, `CACHE_*` and `HTTP_*` environment
variables, and stops `QueueSettings`, `CacheSettings` and `HttpSettings` reading a `.env` file, so
a developer's shell cannot point tests at another server (`REDIS_URL` stays the way to choose
one). Set the ini option `jobqueue_isolate_env = false` to keep them.

Fixtures:
    jobqueue_redis_url: URL of a Redis server for the session: `REDIS_URL` if set, else a
        private `redis-server` (from PATH or the embedded one) on a free port, stopped at the end.
    jobqueue_settings: `QueueSettings` on that server with a key prefix of its own per test, so
        tests never see each other's jobs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from jobqueue.settings import CacheSettings, HttpSettings, QueueSettings
from jobqueue.testing.redis_server import env_or_private

__all__ = ["jobqueue_redis_url", "jobqueue_settings"]

_PREFIXES = ("QUEUE_", "CACHE_", "HTTP_")
_SETTINGS: tuple[type[BaseSettings], ...] = (QueueSettings, CacheSettings, HttpSettings)
_saved: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the `jobqueue_isolate_env` ini option."""
    parser.addini(
        "jobqueue_isolate_env",
        "remove inherited QUEUE_*, CACHE_*, HTTP_* variables and ignore .env for the session",
        type="bool",
        default=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before test modules are imported: set inherited settings aside (see the module doc)."""
    if not config.getini("jobqueue_isolate_env") or _saved:
        return
    _saved["environ"] = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(_PREFIXES)}
    _saved["env_file"] = [cls.model_config.get("env_file") for cls in _SETTINGS]
    for cls in _SETTINGS:
        cls.model_config["env_file"] = None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back what `pytest_configure` set aside."""
    if not _saved:
        return
    os.environ.update(_saved.pop("environ"))
    for cls, env_file in zip(_SETTINGS, _saved.pop("env_file"), strict=True):
        cls.model_config["env_file"] = env_file


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
