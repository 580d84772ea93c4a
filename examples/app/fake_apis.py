"""Stand-ins for the email and sync APIs: a local HTTP server that records what it receives.

It lets the example run end to end offline; tests use it the same way. Every POST is recorded
and answered `202`. `python -m examples.app.fake_apis` serves on port 8025, where the app's
default `EMAIL_API_URL` and `SYNC_API_URL` point, and logs what it receives.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake APIs received."""

    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeApis:
    """`async with FakeApis() as apis:` serves on `port` (default: a free one); `apis.url(path)`."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        app = web.Application()
        app.router.add_post("/{path:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        self.port = port

    def url(self, path: str) -> str:
        """The URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        """The requests received at `path`, in order."""
        return [r for r in self.received if r.path == path]

    async def _record(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"null")
        self.received.append(Received(request.path, body, dict(request.headers)))
        log.info("POST %s %s", request.path, body)
        return web.json_response({"accepted": True}, status=202)

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()


async def serve(port: int = 8025) -> None:
    """Serve until interrupted."""
    async with FakeApis(port) as apis:
        log.info("fake APIs on %s", apis.url("/"))
        await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(serve())
