"""The dashboard's actions: every one a POST, refused in read-only mode and without the CSRF token.

Checks come first, before anything is read or changed: read-only mode (403), then the CSRF token
(403). The form body is parsed here (URL-encoded, at most 1 MiB), which spares a dependency on
`python-multipart` for forms that hold a few ids. After an action the browser is sent back (303)
to the page it came from, with a one-time message saying what was done.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobqueue.errors import JobQueueError
from jobqueue.redis.inspector import ActionResult, Inspector
from jobqueue.web._context import JOB_ACTIONS, LISTED, STATE_ACTIONS, Context
from jobqueue.web._csrf import FIELD
from jobqueue.web._render import redirect

__all__ = ["Actions"]

_MOST_BODY = 1 << 20
_MOST_IDS = 1000


class Actions:
    """The routes' endpoints (bound methods), on one dashboard's context."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def _form(self, request: Request) -> dict[str, list[str]]:
        """The form, once the request may act at all (else 403, nothing read or changed)."""
        if self.context.read_only:
            raise HTTPException(403, "the dashboard is read-only")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MOST_BODY:
                raise HTTPException(413, "form too large")
        form = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        if not self.context.csrf.valid(request, _one(form, FIELD) or None):
            raise HTTPException(403, "missing or invalid CSRF token: reload the page and retry")
        return form

    async def pause(self, request: Request) -> Response:
        """Pause a queue: workers stop fetching from it."""
        return await self._pause(request, pause=True)

    async def resume(self, request: Request) -> Response:
        """Resume a queue: workers fetch from it again."""
        return await self._pause(request, pause=False)

    async def _pause(self, request: Request, *, pause: bool) -> Response:
        form = await self._form(request)
        queue = request.path_params["queue"]
        inspector = await self.context.backend.inspector()
        await (inspector.pause(queue) if pause else inspector.resume(queue))
        url = self.context.pages.url(request)
        back = _one(form, "back")
        to = url("queue_state", queue=queue, state=back) if back in LISTED else url("overview")
        return redirect(request, to, f"queue {queue} {'paused' if pause else 'resumed'}")

    async def queue_act(self, request: Request) -> Response:
        """Run, delete or kill the selected jobs of a queue page, or every job of its state."""
        form = await self._form(request)
        queue, state = request.path_params["queue"], request.path_params["state"]
        action, _, scope = _one(form, "op").partition(":")
        if state not in LISTED or action not in STATE_ACTIONS[state]:
            raise HTTPException(400, f"{state} jobs do not take {action!r}")
        job_type, error = _one(form, "type") or None, _one(form, "error") or None
        inspector = await self.context.backend.inspector()
        if scope == "all":
            result = await inspector.act(action, queue, state=state, job_type=job_type, error=error)
            what = f"every {state} job" + (" matching the filters" if job_type or error else "")
        else:
            ids = [i for i in form.get("id", []) if i][:_MOST_IDS]
            if not ids:
                raise HTTPException(400, "select jobs first")
            result = await inspector.act(action, queue, ids=ids)
            what = f"{len(ids)} selected jobs"
        to = self.context.pages.url(request)(
            "queue_state", queue=queue, state=state, query={"type": job_type, "error": error}
        )
        return redirect(request, to, f"{action} {what}: {_done(result)}")

    async def job_act(self, request: Request) -> Response:
        """Run, delete, kill or cancel one job."""
        form = await self._form(request)
        queue, job_id = request.path_params["queue"], request.path_params["job_id"]
        action = _one(form, "action")
        if action not in {a for actions in JOB_ACTIONS.values() for a in actions}:
            raise HTTPException(400, f"unknown action {action!r}")
        inspector = await self.context.backend.inspector()
        message = await _on_job(inspector, action, queue, job_id)
        url = self.context.pages.url(request)
        to = url("job", queue=queue, job_id=job_id)
        if action == "delete" and message.endswith("deleted"):
            to = url("queue_state", queue=queue, state=_one(form, "state") or "pending")
        return redirect(request, to, message)

    async def group_act(self, request: Request) -> Response:
        """Run or delete every job of an error group."""
        form = await self._form(request)
        queue, group = request.path_params["queue"], request.path_params["group"]
        action = _one(form, "action")
        if action not in ("run", "delete"):
            raise HTTPException(400, f"error groups take run or delete, not {action!r}")
        inspector = await self.context.backend.inspector()
        result = await inspector.act(action, queue, group=group)
        to = self.context.pages.url(request)("errors")
        return redirect(request, to, f"{action} error group {group}: {_done(result)}")


async def _on_job(inspector: Inspector, action: str, queue: str, job_id: str) -> str:
    if action == "cancel":
        return f"job {job_id}: cancel: {(await inspector.cancel(job_id, queue)).value}"
    try:
        if action == "run":
            done = await inspector.run_now(job_id, queue)
        elif action == "delete":
            done = await inspector.delete(job_id, queue)
        else:
            done = await inspector.kill(job_id, queue)
    except JobQueueError as exc:
        return f"job {job_id}: {exc}"
    past = {"run": "queued to run now", "delete": "deleted", "kill": "moved to dead"}[action]
    return f"job {job_id} {past}" if done else f"job {job_id}: nothing to {action} (state changed?)"


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _done(result: ActionResult) -> str:
    text = f"{result.done} of {result.examined} jobs changed"
    return text + (f", {result.running} left alone (running)" if result.running else "")
