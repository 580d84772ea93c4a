"""`QUEUE_URL` / `CACHE_URL` are checked when read: errors name the variable, never the password.

The `jobqueue` command reports a bad URL or an unreachable Redis in one line, exit status 2.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from redis import Redis
from redis.connection import parse_url

from jobqueue import ConfigurationError, QueueSettings
from jobqueue.cli import main
from jobqueue.settings import CacheSettings
from jobqueue.testing.redis_server import RedisServer

SECRET = "S3cr/et#Pw?Z"  # unencoded '/', '#' and '?': each cuts the URL's netloc short


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("QUEUE_", "CACHE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _pieces(secret: str, size: int = 4) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_no_part_of(secret: str, text: str) -> None:
    leaked = [piece for piece in _pieces(secret) if piece in text]
    assert not leaked, f"{leaked} of the password in {text!r}"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@redis.internal:6379/0",
        "redis://:S3cr/et@redis.internal:6379/0",
        "redis://:S3cr#et@redis.internal:6379/0",
        "redis://:12/3456@redis.internal:6379/0",  # would parse as localhost:12
        f"rediss://user:{SECRET}@redis.internal:6380/1",
        f"unix://:{SECRET}@/run/redis.sock",
    ],
)
@pytest.mark.parametrize(("cls", "variable"), [(QueueSettings, "QUEUE"), (CacheSettings, "CACHE")])
def test_unencoded_reserved_characters_are_refused_without_leaking(
    monkeypatch: pytest.MonkeyPatch, url: str, cls: type[QueueSettings], variable: str
) -> None:
    monkeypatch.setenv(f"{variable}_URL", url)
    with pytest.raises(ConfigurationError, match=f"{variable}_URL") as refused:
        cls.from_env()
    message = str(refused.value)
    assert "percent-encode" in message
    assert "%2F" in message
    password = url.split("://", 1)[1].rpartition("@")[0].partition(":")[2]
    assert_no_part_of(password, message)
    with pytest.raises(ValidationError) as direct:  # built directly: pydantic's error, no input
        cls(url=url)
    assert_no_part_of(password, str(direct.value))


@pytest.mark.parametrize("port", ["0", "65536", "99999", "6x79"])
def test_bad_port_in_the_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("QUEUE_URL", f"redis://:{quote(SECRET, safe='')}@h:{port}/0")
    with pytest.raises(ConfigurationError, match=r"QUEUE_URL: .*port.*1 to 65535"):
        QueueSettings.from_env()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("redis://h:6379/abc", "database"),
        ("redis://h:6379/-1", "database"),
        ("redis://h:6379/0?socket_timeout=abc", "query parameter"),
        ("unix://", "socket"),
    ],
)
def test_other_unreadable_urls_are_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    monkeypatch.setenv("QUEUE_URL", url)
    with pytest.raises(ConfigurationError, match=f"QUEUE_URL: .*{words}"):
        QueueSettings.from_env()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:S3cr%2Fet%23Pw%3FZ@redis.internal:6379/0",
        "redis://:p@ss:w@rd@redis.internal/2",  # redis-py splits at the last '@'
        "rediss://user:pw@h:6380/15",
        "redis://[::1]:6379/0",
        "redis://localhost",
        "redis://h:1/0?socket_timeout=5",
        "redis://h:65535/",
        "unix:///run/redis.sock?db=1",
    ],
)
def test_readable_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("QUEUE_URL", url)
    assert QueueSettings.from_env().redis_url() == url


@given(st.text(alphabet="KWXYZ789/#?@:%", min_size=8, max_size=30))
def test_any_password_is_accepted_or_refused_without_leaking(password: str) -> None:
    url = f"redis://:{password}@redis.internal:6379/0"
    try:
        settings = QueueSettings.from_env(url=url)
    except ConfigurationError as exc:
        message = str(exc)
    else:  # accepted: redis-py reads the host that was meant
        assert parse_url(settings.redis_url())["host"] == "redis.internal"
        return
    assert "QUEUE_URL" in message
    assert_no_part_of(password, message)


# -- the command --------------------------------------------------------------------------------


def test_cli_reports_a_bad_url_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUEUE_URL", f"redis://:{SECRET}@redis.internal:6379/0")
    assert main(["stats"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "QUEUE_URL" in err
    assert_no_part_of(SECRET, err)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize("command", [["stats"], ["job", "some-id"], ["pause", "low"]])
def test_cli_reports_an_unreachable_redis_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    secret = "Zq7Kp2VxW9"
    monkeypatch.setenv("QUEUE_URL", f"redis://:{secret}@127.0.0.1:{_closed_port()}/0")
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: cannot connect to Redis")
    assert err.count("\n") == 1, err
    assert "QUEUE_URL" in err
    assert "refused" in err.lower()
    assert "Traceback" not in err
    assert_no_part_of(secret, err)


def test_cli_reports_an_unreachable_redis_from_host_and_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUEUE_HOST", "127.0.0.1")
    monkeypatch.setenv("QUEUE_PORT", str(_closed_port()))
    monkeypatch.setenv("QUEUE_PASSWORD", "Zq7Kp2VxW9")
    assert main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to Redis at redis://:***@127.0.0.1:")
    assert "QUEUE_URL" in err
    assert err.count("\n") == 1
    assert_no_part_of("Zq7Kp2VxW9", err)


@pytest.mark.parametrize("password", ["Zq7Kp2VxW9", None])
def test_cli_reports_a_refused_password_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], password: str | None
) -> None:
    with RedisServer() as server:  # its own server: requirepass must not touch the session's
        Redis.from_url(server.url).config_set("requirepass", "the-right-one")
        auth = f":{password}@" if password else ""
        monkeypatch.setenv("QUEUE_URL", f"redis://{auth}127.0.0.1:{server.port}/0")
        assert main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to Redis")
    assert "authentication failed" in err
    assert err.count("\n") == 1
    if password:
        assert_no_part_of(password, err)


def test_redacted_url_hides_every_password() -> None:
    settings = QueueSettings(url=SecretStr("rediss://ada:Zq7Kp2VxW9@h:6380/2?password=Zq7Kp2&db=2"))
    assert settings.redacted_url() == "rediss://ada:***@h:6380/2?password=***&db=2"
    assert QueueSettings(password=SecretStr("Zq7Kp2VxW9")).redacted_url() == (
        "redis://:***@localhost:6379/1"
    )
    assert QueueSettings().redacted_url() == "redis://localhost:6379/1"
