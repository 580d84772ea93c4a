"""The dashboard's gate, in front of every route: authentication, authorization, headers.

In order: HTTP basic auth when the app was given a user and password (`jobqueue web`): 401 with
a `WWW-Authenticate` challenge without them; then the `authorize(request)` hook of an app that
mounts the dashboard behind its own login: 403 when it returns false, for reads and actions
alike (the dashboard shows payloads and errors, which may be as sensitive as any action).
Every response, refusals included, gets the security headers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADERS", "Authorize", "Guard"]

Authorize = Callable[[Request], bool | Awaitable[bool]]
"""Whether a request may see the dashboard (and act, unless it is read-only); sync or async."""

HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
"""No inline script or style is allowed: the dashboard's own files are all it runs."""


class Guard:
    """ASGI middleware: basic auth, the `authorize` hook, and security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authorize: Authorize | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.app = app
        self.authorize = authorize
        self.basic_auth = basic_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        request = Request(scope)
        if self.basic_auth is not None and not _basic_ok(request, self.basic_auth):
            challenge = {"WWW-Authenticate": 'Basic realm="jobqueue", charset="UTF-8"'}
            refusal = PlainTextResponse("authentication required", 401, headers=challenge)
            await refusal(scope, receive, with_headers)
            return
        if self.authorize is not None and not await _allowed(self.authorize, request):
            await PlainTextResponse("forbidden", 403)(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


async def _allowed(authorize: Authorize, request: Request) -> bool:
    verdict = authorize(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    return verdict is True


def _basic_ok(request: Request, expected: tuple[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.encode(), expected[0].encode())
    return hmac.compare_digest(password.encode(), expected[1].encode()) and same_user
