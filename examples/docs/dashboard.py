"""The dashboard: mounted in a FastAPI app behind its login, and beside an aiohttp app.

    python examples/docs/dashboard.py

Runs against a throw-away Redis. Part 1 mounts the dashboard at `/jobs` in a FastAPI app whose
`authorize` hook lets in only its signed-in operators, and calls it over HTTP (httpx's ASGI
transport). Part 2 serves it with uvicorn in the same process and event loop as an aiohttp app,
on a port of its own, and fetches a page from it (what docs/dashboard.md quotes).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import uvicorn
from aiohttp import web
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.requests import Request

from jobqueue import JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer
from jobqueue.web import dashboard


# --8<-- [start:mount]
def is_operator(request: Request) -> bool:
    """The app's own login decides: here, a session cookie naming an operator."""
    return request.cookies.get("session") == "operator-ada"  # your session check here


def create_app(settings: QueueSettings) -> FastAPI:
    jobs_dashboard = dashboard(settings, authorize=is_operator)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await jobs_dashboard.aclose()  # a mounted app's own lifespan does not run

    app = FastAPI(lifespan=lifespan)
    app.mount("/jobs", jobs_dashboard)
    return app


# --8<-- [end:mount]


# --8<-- [start:aiohttp]
async def serve_dashboard(app: web.Application) -> AsyncIterator[None]:
    """The aiohttp cleanup context: the dashboard served by uvicorn in the same event loop."""
    jobs_dashboard = dashboard(app[SETTINGS], read_only=True)
    config = uvicorn.Config(
        jobs_dashboard, host="127.0.0.1", port=DASHBOARD_PORT, log_level="warning"
    )
    server = uvicorn.Server(config)
    app[DASHBOARD] = server
    task = asyncio.create_task(server.serve())
    yield
    server.should_exit = True
    await task


SETTINGS = web.AppKey("settings", QueueSettings)
DASHBOARD = web.AppKey("dashboard", uvicorn.Server)
DASHBOARD_PORT = 8081


def create_aiohttp_app(settings: QueueSettings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(serve_dashboard)
    return app


# --8<-- [end:aiohttp]


async def part_one(settings: QueueSettings, job_id: str) -> None:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    lifespan = app.router.lifespan_context(app)
    async with lifespan, httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        stranger = await client.get("/jobs/")
        print(f"GET /jobs/ without the operator's session -> {stranger.status_code}")
        client.cookies.set("session", "operator-ada")
        page = await client.get("/jobs/")
        print(f"GET /jobs/ as an operator -> {page.status_code}")
        links = sorted(set(re.findall(r' href="(/jobs/[a-z]*)"', page.text)))
        print("links stay under the mount path:", ", ".join(links))
        found = await client.get("/jobs/search", params={"id": job_id})
        print(f"search by id -> {found.status_code} {found.headers['location']}")
        refused = await client.post(f"/jobs/job/default/{job_id}/act", data={"action": "delete"})
        print(f"POST without the CSRF token -> {refused.status_code}")


async def part_two(settings: QueueSettings) -> None:
    global DASHBOARD_PORT
    DASHBOARD_PORT = 0  # any free port, for this run
    app = create_aiohttp_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup context's start: the dashboard is served
    try:
        server = app[DASHBOARD]
        for _ in range(500):  # uvicorn starts in the background: wait for its socket
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{port}/")
        print(f"dashboard beside the aiohttp app -> {page.status_code}, read-only")
    finally:
        await runner.cleanup()


async def main(url: str) -> None:
    settings = QueueSettings(url=SecretStr(url))
    async with JobQueue(RedisJobBroker(settings)) as queue:
        job = await queue.enqueue_with_delay("report:build", {"kind": "daily"}, 3600)
    await part_one(settings, job.id)
    await part_two(settings)


if __name__ == "__main__":
    with RedisServer() as redis:
        asyncio.run(main(redis.url))
