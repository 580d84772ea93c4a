"""Type-checked (not run) by `mypy --strict`: the dashboard's public API as an app uses it.

Lines marked `# type: ignore[...]` MUST be errors; mypy's `warn_unused_ignores` (part of
`--strict`) fails the check if one of them stops being an error.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request

from jobqueue import QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector, ServerInfo
from jobqueue.web import Authorize, Dashboard, dashboard


def staff(request: Request) -> bool:
    return request.headers.get("x-staff") == "1"


async def staff_async(request: Request) -> bool:
    return staff(request)


async def mount(settings: QueueSettings, broker: RedisJobBroker) -> None:
    app = FastAPI()
    app.mount("/jobs", dashboard(settings, authorize=staff))
    app.mount("/jobs-async", dashboard("redis://localhost/1", authorize=staff_async))
    app.mount("/ro", dashboard(broker, read_only=True, secret="shared"))
    alone: Starlette = dashboard(Inspector(broker), basic_auth=("admin", "pw"), refresh=5)
    hook: Authorize = staff_async
    board: Dashboard = dashboard(None, authorize=hook, title="ops")
    await board.aclose()
    server: ServerInfo = await Inspector(broker).server_info()
    used: int = server.used_memory + server.jobqueue_keys + server.stored_jobs
    assert alone is not None
    assert used >= 0
    dashboard(settings, authorize=lambda request: "yes")  # type: ignore[arg-type,return-value]
    dashboard(settings, readonly=True)  # type: ignore[call-arg]
