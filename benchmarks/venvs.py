"""Per-system virtualenvs, created with pip on first use and reused afterwards.

Each system runs from its own venv under the cache dir (default `<repo>/.bench-venvs/<name>`), so
no system carries another's dependencies. jobqueue's venv holds an editable install of this repo
with no extras (what a deployment installs: the `dev` extra's fastapi alone would add ~20 MiB to
each worker process, since taskiq_dependencies imports it when present); being editable, it runs
the current `src/`, and it is rebuilt when `pyproject.toml` changes. A venv is ready once it holds
a marker naming exactly the requirements it was built from; a missing or stale marker rebuilds it
from scratch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VENV_DIR = REPO / ".bench-venvs"
MARKER = ".bench-ready.json"

# Versions checked to install and run on CPython 3.11 (all the latest releases when pinned).
# `redis` + `hiredis` are what every job body uses to count itself (redis-py, hiredis parser).
COMMON = ["redis==8.1.0", "hiredis==3.5.0"]
REQUIREMENTS: dict[str, list[str]] = {
    "jobqueue": ["-e", str(REPO)],
    "taskiq": ["taskiq==0.13.0", "taskiq-redis==1.2.4", *COMMON],
    "arq": ["arq==0.28.0", "redis==5.3.1", "hiredis==3.5.0"],  # arq needs redis<6
    "saq": ["saq==0.26.4", "typing-extensions==4.16.0", *COMMON],  # saq 0.26.4 omits it
    "dramatiq": ["dramatiq[redis]==2.2.1", *COMMON],
    "streaq": ["streaq==7.2.0", *COMMON],
    "celery": ["celery[redis]==5.7.0", *COMMON],
}


@dataclass(frozen=True)
class Venv:
    """A ready interpreter and the versions installed in it."""

    python: str
    versions: dict[str, str]
    created_in: float | None  # seconds spent creating it now; None when reused


def _digest(requirements: list[str]) -> str:
    extra = ""
    if str(REPO) in requirements:  # an editable install: its dependencies live in pyproject.toml
        extra = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    text = json.dumps([sys.version_info[:2], sorted(requirements), extra])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _freeze(python: str) -> dict[str, str]:
    out = subprocess.run(
        [python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {row["name"].lower(): row["version"] for row in json.loads(out)}


def main_venv() -> Venv:
    """The harness's own interpreter, where jobqueue is installed."""
    import importlib.metadata as md

    versions = {}
    for name in ("jobqueue", "taskiq", "taskiq-redis", "redis", "hiredis", "orjson"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[name] = md.version(name)
    return Venv(python=sys.executable, versions=versions, created_in=None)


def ensure(name: str, root: Path, log: Path, timeout: float = 900.0) -> Venv:
    """Return the venv `name` under `root`, creating it with pip if missing or stale."""
    requirements = REQUIREMENTS[name]
    path = root / name
    marker = path / MARKER
    digest = _digest(requirements)
    if marker.exists():
        try:
            data = json.loads(marker.read_text())
            if data.get("digest") == digest and _python(path).exists():
                return Venv(str(_python(path)), data["versions"], None)
        except (OSError, ValueError, KeyError):
            pass
    started = time.monotonic()
    shutil.rmtree(path, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "-m", "venv", str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=True,
        )
        python = str(_python(path))
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                *requirements,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=True,
        )
    versions = _freeze(python)
    marker.write_text(
        json.dumps({"digest": digest, "requirements": requirements, "versions": versions})
    )
    return Venv(python, versions, time.monotonic() - started)
