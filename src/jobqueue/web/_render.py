"""Rendering pages: the Jinja2 environment (autoescape on), links under the mount path, flashes.

Links are built from the dashboard's own routes and the request's `root_path`, the path it is
mounted at (`request.url_for` would look the names up in the router of the app that mounts
it). Every page gets the CSRF token for its forms, and sets the nonce cookie the first time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Router

from jobqueue.web._csrf import Csrf
from jobqueue.web._format import ago, compact_json, duration, human_bytes, pretty_json, when

__all__ = ["FLASH", "Pages", "Settings", "redirect"]

FLASH = "jobqueue_flash"


@dataclass(frozen=True, slots=True)
class Settings:
    """What every page needs to know about the dashboard."""

    title: str
    read_only: bool
    refresh: float


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jobqueue.web", "templates"),
        autoescape=True,  # payloads, errors and job types are text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        ago=ago,
        duration=duration,
        bytes=human_bytes,
        pretty_json=pretty_json,
        compact_json=compact_json,
    )
    return env


class Pages:
    """Renders templates for one dashboard."""

    def __init__(self, settings: Settings, csrf: Csrf) -> None:
        self.settings = settings
        self.csrf = csrf
        self.env = _environment()
        self.router: Router | None = None  # set once the app's routes exist

    def url(self, request: Request) -> Callable[..., str]:
        """`url(name, **params, query={...})`: the path of one of the dashboard's routes."""
        root = str(request.scope.get("root_path", "")).rstrip("/")

        def build(name: str, query: dict[str, Any] | None = None, **params: Any) -> str:
            assert self.router is not None
            path = root + str(
                self.router.url_path_for(name, **{k: str(v) for k, v in params.items()})
            )
            kept = {k: v for k, v in (query or {}).items() if v not in (None, "")}
            return f"{path}?{urlencode(kept)}" if kept else path

        return build

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page (or a fragment) with the dashboard's common context."""
        nonce, new = self.csrf.nonce(request)
        flash = unquote(request.cookies.get(FLASH, ""))[:500]
        page = self.env.get_template(template).render(
            request=request,
            url=self.url(request),
            csrf_token=self.csrf.token(nonce),
            dashboard=self.settings,
            flash=flash,
            **context,
        )
        response = HTMLResponse(page, status, headers={"cache-control": "no-store"})
        if new:
            self.csrf.set_cookie(request, response, nonce)
        if flash:
            response.delete_cookie(FLASH, path=_path(request))
        return response


def redirect(request: Request, to: str, message: str) -> Response:
    """After an action: back to a page (303, so the browser GETs it), with a one-time message."""
    response = RedirectResponse(to, 303)
    response.set_cookie(
        FLASH,
        quote(message[:500]),
        max_age=60,
        path=_path(request),
        httponly=True,
        samesite="strict",
    )
    return response


def _path(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root + "/" if root else "/"
