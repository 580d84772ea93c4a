"""The pytest plugin keeps a developer's `QUEUE_*`, `CACHE_*`, `HTTP_*` and `.env` out of tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INNER = """
import os

from jobqueue import QueueSettings
from jobqueue.settings import CacheSettings, HttpSettings

AT_IMPORT = {k for k in os.environ if k.startswith(("QUEUE_", "CACHE_", "HTTP_"))}


def test_nothing_inherited_reaches_the_tests():
    assert AT_IMPORT == set()
    assert [k for k in os.environ if k.startswith(("QUEUE_", "CACHE_", "HTTP_"))] == []
    assert QueueSettings.from_env().url is None  # neither the variable nor the .env file
    assert CacheSettings.from_env().url is None
    assert HttpSettings.from_env().timeout == 10.0
    assert os.environ["REDIS_URL"] == "redis://127.0.0.1:1/0"  # the documented override stays
    assert os.environ["UNRELATED"] == "kept"
"""

INHERITED = {
    "QUEUE_URL": "redis://elsewhere.invalid:6379/1",
    "QUEUE_KEY_PREFIX": "production",
    "CACHE_URL": "redis://elsewhere.invalid:6379/0",
    "HTTP_TIMEOUT": "1",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "UNRELATED": "kept",
}


def _run_inner(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / ".env").write_text("QUEUE_URL=redis://dotenv.invalid:6379/1\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QUEUE_", "CACHE_", "HTTP_", "PYTEST_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "test_inner.py"],
        cwd=tmp_path,
        env={**env, **INHERITED},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_plugin_clears_inherited_settings_for_the_session(tmp_path: Path) -> None:
    done = _run_inner(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_isolation_can_be_turned_off(tmp_path: Path) -> None:
    done = _run_inner(tmp_path, "-o", "jobqueue_isolate_env=false")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AT_IMPORT" in done.stdout or "assert" in done.stdout
