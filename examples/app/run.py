"""Run the example end to end: Redis, the fake APIs, a `taskiq worker` process and the FastAPI app.

    python examples/app/run.py

Uses `QUEUE_URL` (and `CACHE_URL`) if set; otherwise it starts a throw-away Redis. The database is
SQLite in a temporary directory. It calls the API over HTTP, waits until the worker has done each
job, prints what the fake APIs received, checks the dashboard the app mounts at `/dashboard/`, and
stops everything. With `EXAMPLE_LINGER=120` it stays up that many seconds more, to look at the
dashboard in a browser (the URL is printed).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: make `examples` importable

from examples.app.fake_apis import FakeApis  # noqa: E402
from examples.app.fastapi_app import create_app  # noqa: E402
from examples.app.jobs.webhook import seen_key  # noqa: E402
from jobqueue.cache import open_cache  # noqa: E402
from jobqueue.testing import RedisServer  # noqa: E402

WORKER = (
    *("-m", "taskiq", "worker", "examples.app.worker:make_broker", "--workers", "1"),
    *("--receiver", "jobqueue.receiver:JobReceiver"),
)


async def until(what: str, check: Callable[[], bool | Awaitable[bool]], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not await _value(check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)
    print(f"[run] done: {what}")


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result


async def call(api: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = await api.request(method, path, **kwargs)
    print(f"[run] {method} {path} -> {response.status_code} {response.text}")
    return response


async def demo(api: httpx.AsyncClient, apis: FakeApis) -> None:
    await call(api, "POST", "/users", json={"name": "Ada Lovelace", "email": "ada@example.com"})
    report = await call(api, "POST", "/reports", json={"report_type": "users", "delay_seconds": 1})
    path = f"/reports/{report.json()['report_id']}"
    await call(api, "GET", path)  # 404: the job is due in a second
    await call(api, "POST", "/webhooks/stripe", json={"event_id": "evt_1", "event": "invoice.paid"})
    change = {"entity_type": "user", "entity_id": "1", "action": "created"}
    await call(api, "POST", "/sync", json=change)
    await call(api, "POST", "/sync", json=change)  # 409: the same change is already queued

    async def report_ready() -> bool:
        return (await api.get(path)).status_code == 200

    async with open_cache() as cache:
        await until("welcome email sent", lambda: bool(apis.at("/email/send")))
        await until("user synced", lambda: bool(apis.at("/sync/changes")))
        await until("webhook processed", lambda: cache.exists(seen_key("stripe", "evt_1")))
        await until("report generated", report_ready)
    await call(api, "GET", path)
    for received in apis.received:
        print(f"[fake api] POST {received.path} {received.body}")
    await look_at_dashboard(api)


async def look_at_dashboard(api: httpx.AsyncClient) -> None:
    url = api.base_url.join("/dashboard/")
    response = await api.get("/dashboard/")
    print(f"[run] dashboard at {url} -> {response.status_code}")
    if response.status_code != 200 or 'data-queue="default"' not in response.text:
        raise SystemExit(f"the dashboard did not answer: {response.status_code}")
    linger = float(os.environ.get("EXAMPLE_LINGER", "0") or 0)
    if linger > 0:
        print(f"[run] open {url} in a browser; stopping in {linger:.0f} s")
        await asyncio.sleep(linger)


async def main(database: str) -> None:
    async with FakeApis() as apis:
        os.environ.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            EMAIL_API_URL=apis.url("/email/send"),
            SYNC_API_URL=apis.url("/sync/changes"),
        )
        # A session of its own: at the end, SIGTERM reaches the worker and the process it forks.
        worker = await asyncio.create_subprocess_exec(
            sys.executable, *WORKER, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )  # fmt: skip
        server = uvicorn.Server(uvicorn.Config(create_app(), port=0, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        try:
            await until("API started", lambda: server.started)
            port = server.servers[0].sockets[0].getsockname()[1]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
                await demo(api, apis)
        finally:
            server.should_exit = True
            await serving
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(worker.wait(), 15)
            except TimeoutError:
                os.killpg(worker.pid, signal.SIGKILL)
                raise


if __name__ == "__main__":
    redis = None if os.environ.get("QUEUE_URL") else RedisServer().start()
    if redis is not None:  # the queue in database 1, the cache in 0, as by default
        os.environ.update(QUEUE_URL=f"{redis.url}/1", CACHE_URL=f"{redis.url}/0")
    try:
        with tempfile.TemporaryDirectory(prefix="jobqueue-example-") as tmp:
            asyncio.run(main(str(Path(tmp) / "example.db")))
    finally:
        if redis is not None:
            redis.stop()
    print("[run] all stopped")
