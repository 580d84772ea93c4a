"""CSRF protection for the dashboard's forms: a signed double-submit token.

Each browser gets a random nonce in a cookie (`HttpOnly`, `SameSite=Strict`, scoped to the
dashboard's path) and every form carries `<nonce>.<HMAC-SHA256(secret, nonce)>`. A POST is
accepted only when the token it submits carries the cookie's nonce and a MAC that verifies.

Why this design:

- It is stateless: no session store, and any number of processes agree as long as they are
  given the same `secret` (a random one per process otherwise).
- Another site can make the browser send the cookie, but it can read neither the cookie nor a
  page holding the token, so it cannot submit the token.
- Unlike a plain double-submit cookie, a nonce planted by a sibling subdomain (which can set
  cookies for ours) is useless without the server's secret to sign it.
- `SameSite=Strict` on the cookie is a second line: the browser does not even send it with a
  request that another site starts.

The standard library's `hmac` and `secrets` do all of it; `itsdangerous` would add a dependency
for one MAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE", "FIELD", "Csrf"]

COOKIE = "jobqueue_csrf"
FIELD = "csrf_token"
_NONCE_BYTES = 24


class Csrf:
    """Makes and checks the tokens, with `secret` (random for this process when not given)."""

    def __init__(self, secret: str | bytes | None = None) -> None:
        if secret is None:
            secret = secrets.token_bytes(32)
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def nonce(self, request: Request) -> tuple[str, bool]:
        """The browser's nonce from its cookie, or a new one; and whether it is new."""
        found = request.cookies.get(COOKIE, "")
        if 16 <= len(found) <= 64 and found.replace("-", "").replace("_", "").isalnum():
            return found, False
        return secrets.token_urlsafe(_NONCE_BYTES), True

    def token(self, nonce: str) -> str:
        """The token forms carry for this nonce."""
        return f"{nonce}.{self._mac(nonce)}"

    def valid(self, request: Request, submitted: str | None) -> bool:
        """Whether a submitted token matches the request's cookie and verifies."""
        cookie = request.cookies.get(COOKIE)
        if not cookie or not submitted or "." not in submitted:
            return False
        nonce, _, mac = submitted.rpartition(".")
        same = hmac.compare_digest(nonce.encode(), cookie.encode())
        return hmac.compare_digest(mac.encode(), self._mac(nonce).encode()) and same

    @staticmethod
    def set_cookie(request: Request, response: Response, nonce: str) -> None:
        """Give the browser its nonce (for the dashboard's path only)."""
        response.set_cookie(
            COOKIE,
            nonce,
            path=_cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def _cookie_path(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root + "/" if root else "/"
