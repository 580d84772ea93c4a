"""Stand-ins for the email and sync APIs: a local HTTP server that records what it receives.

It lets the example run end to end offline; tests use it the same way. Every POST is recorded
and answered `202`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake APIs received."""

    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeApis:
    """`async with FakeApis() as apis:` serves on a free port; `apis.url("/email/send")`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        app = web.Application()
        app.router.add_post("/{path:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        self.port = 0

    def url(self, path: str) -> str:
        """The URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        """The requests received at `path`, in order."""
        return [r for r in self.received if r.path == path]

    async def _record(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"null")
        self.received.append(Received(request.path, body, dict(request.headers)))
        return web.json_response({"accepted": True}, status=202)

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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
