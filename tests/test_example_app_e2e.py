"""The example app end to end: the FastAPI app, a real Redis and a real `taskiq worker` process.

The API runs in this process (httpx's ASGI transport); the worker is a subprocess in a session of
its own, stopped by signalling that process group only. Both read the same environment: the
session's Redis with a key prefix of this test's own, a SQLite file, and the fake APIs' URLs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from examples.app.containers import Container
from examples.app.fake_apis import FakeApis
from examples.app.fastapi_app import create_app

ROOT = Path(__file__).resolve().parents[1]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def output(log: Path) -> str:
    """What the worker printed so far."""
    return log.read_text(errors="replace")


@pytest.fixture
async def apis() -> AsyncIterator[FakeApis]:
    async with FakeApis() as apis:
        yield apis


@pytest.fixture
async def worker(
    jobqueue_redis_url: str, apis: FakeApis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Path]:
    """A `taskiq worker` process; yields the file its output goes to."""
    tag = uuid.uuid4().hex[:12]
    env = {
        "QUEUE_URL": jobqueue_redis_url,
        "QUEUE_KEY_PREFIX": f"e2e-{tag}",
        "CACHE_URL": jobqueue_redis_url,
        "CACHE_KEY_PREFIX": f"e2e-cache-{tag}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "EMAIL_API_URL": apis.url("/email/send"),
        "SYNC_API_URL": apis.url("/sync/changes"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the in-process API reads the same settings
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "taskiq", "worker", "examples.app.worker:make_broker",
            "--workers", "1", "--log-level", "INFO",
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    try:
        yield log
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # our own process group, nothing else
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def test_signup_sends_the_welcome_email_and_a_report_becomes_readable(
    worker: Path, apis: FakeApis
) -> None:
    container = Container()
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://app") as api,
        ):
            created = await api.post("/users", json={"name": "Ada", "email": "ada@example.com"})
            assert created.status_code == 201, created.text
            report = await api.post("/reports", json={"delay_seconds": 0.5})
            path = f"/reports/{report.json()['report_id']}"
            assert (await api.get(path)).status_code == 404

            async def email_sent() -> bool:
                return bool(apis.at("/email/send"))

            async def report_ready() -> bool:
                return (await api.get(path)).status_code == 200

            try:
                await eventually(email_sent, "the welcome email")
                await eventually(report_ready, "the report")
            except AssertionError:
                print(output(worker))  # shown by pytest on failure
                raise
            assert (await api.get(path)).json()["total_users"] == 1
            overview = await api.get("/dashboard/")  # the mounted dashboard, on the same Redis
            assert overview.status_code == 200
            assert 'data-queue="default"' in overview.text
        # Its authorize hook lets in this machine only.
        elsewhere = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=elsewhere, base_url="http://app") as remote:
            assert (await remote.get("/dashboard/")).status_code == 403
    finally:
        container.unwire()
    (sent,) = apis.at("/email/send")
    assert sent.body["to"] == "ada@example.com"
    assert sent.body["name"] == "Ada"
    assert sent.body["subject"] == "Welcome!"
    assert sent.headers["Idempotency-Key"] == f"email:sent:{created.json()['user']['id']}:Welcome!"
    assert "Job completed successfully email:send" in output(worker)
