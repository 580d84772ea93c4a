"""Queue settings from the environment: parsing, errors that name the variable, no leaked secrets.

No Redis needed; these tests only read `QUEUE_*` variables (each test starts from none set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobqueue import ConfigurationError, QueueSettings

SECRET = "s3cr3t-Pa55word"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited `QUEUE_*` variable and no `.env` file may leak into a test."""
    for name in list(os.environ):
        if name.startswith("QUEUE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = QueueSettings.from_env()
    assert settings.queues == {"critical": 6, "default": 3, "low": 1}
    assert settings.default_queue == "default"
    assert settings.lease_timeout == 30.0
    assert settings.recovery_interval == 5.0
    assert settings.redis_url() == "redis://localhost:6379/1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("critical=6,default=3,low=1", {"critical": 6, "default": 3, "low": 1}),
        (" critical = 6 , default=3 ,low=1,", {"critical": 6, "default": 3, "low": 1}),
        ('{"default": 2, "reports.daily": 5}', {"default": 2, "reports.daily": 5}),
        ("default", {"default": 1}),
    ],
)
def test_queues_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: dict[str, int]
) -> None:
    monkeypatch.setenv("QUEUE_QUEUES", raw)
    settings = QueueSettings.from_env()
    assert settings.queues == expected
    assert settings.queue_names[0] == max(expected, key=lambda n: expected[n])


def test_other_fields_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_QUEUES", "urgent=4,bulk=1")
    monkeypatch.setenv("QUEUE_DEFAULT_QUEUE", "bulk")
    monkeypatch.setenv("QUEUE_STRICT_PRIORITY", "true")
    monkeypatch.setenv("QUEUE_LEASE_TIMEOUT", "3.5")
    monkeypatch.setenv("QUEUE_KEY_PREFIX", "myapp")
    settings = QueueSettings.from_env()
    assert settings.default_queue == "bulk"
    assert settings.strict_priority is True
    assert settings.lease_timeout == 3.5
    assert settings.key_prefix == "myapp"


@pytest.mark.parametrize(
    "raw",
    ["critical=0,default=1", "default=x", "bad name=1,default=1", ""],
)
def test_bad_queues_name_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("QUEUE_QUEUES", raw)
    with pytest.raises(ConfigurationError, match="QUEUE_QUEUES"):
        QueueSettings.from_env()


def test_default_queue_must_be_a_configured_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_QUEUES", "urgent=4,bulk=1")
    with pytest.raises(ConfigurationError, match="QUEUE_DEFAULT_QUEUE 'default'"):
        QueueSettings.from_env()


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@redis.internal:6380/2",
        f"rediss://user:{SECRET}@redis.example.com:6379/0",
        "unix:///var/run/redis/redis.sock?db=3",
    ],
)
def test_redis_urls_are_accepted_and_never_shown(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("QUEUE_URL", url)
    settings = QueueSettings.from_env()
    assert settings.redis_url() == url
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in str(settings.model_dump())


@pytest.mark.parametrize(
    "url",
    [f"http://:{SECRET}@redis.internal:6379/0", f"{SECRET}.example.com:6379", "tcp://x:6379"],
)
def test_other_url_schemes_are_refused_without_showing_the_url(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("QUEUE_URL", url)
    with pytest.raises(ConfigurationError, match="QUEUE_URL") as refused:
        QueueSettings.from_env()
    message = str(refused.value)
    assert "redis://" in message  # says what is expected
    assert SECRET not in message
    assert url not in message
    assert refused.value.__cause__ is None  # the pydantic error (which shows input) is not chained


@pytest.mark.parametrize("port", ["notaport", "0", "70000", "6379.5"])
def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("QUEUE_PORT", port)
    with pytest.raises(ConfigurationError, match="QUEUE_PORT"):
        QueueSettings.from_env()


def test_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_PASSWORD", SECRET)
    monkeypatch.setenv("QUEUE_HOST", "redis.internal")
    settings = QueueSettings.from_env()
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    # It is used, URL-quoted, for the connection only.
    assert settings.redis_url() == f"redis://:{SECRET}@redis.internal:6379/1"

    # An unrelated error must not show it either.
    monkeypatch.setenv("QUEUE_PORT", "notaport")
    with pytest.raises(ConfigurationError, match="QUEUE_PORT") as refused:
        QueueSettings.from_env()
    assert SECRET not in str(refused.value)


def test_password_with_url_characters_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_PASSWORD", "p@ss:w/rd")
    assert QueueSettings.from_env().redis_url() == "redis://:p%40ss%3Aw%2Frd@localhost:6379/1"


def test_several_errors_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_PORT", "notaport")
    monkeypatch.setenv("QUEUE_LEASE_TIMEOUT", "-1")
    with pytest.raises(ConfigurationError) as refused:
        QueueSettings.from_env()
    assert "QUEUE_PORT" in str(refused.value)
    assert "QUEUE_LEASE_TIMEOUT" in str(refused.value)
