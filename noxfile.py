"""Development sessions: tests, lint, typecheck, docs, examples, bench, chaos."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    paths = ("src", "tests", "examples", "benchmarks", "chaos", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "src", "tests/typing")
    session.run("mypy", "--strict", "chaos")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "examples/quickstart/run.py")
    session.run("python", "examples/docs/run_all.py")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Fault injection against real workers: `nox -s chaos -- --quick`."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "chaos", *session.posargs)
