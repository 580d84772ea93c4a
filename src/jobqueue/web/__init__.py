"""The dashboard: every queue, job, worker, error group and schedule in a browser.

    from jobqueue.web import dashboard
    app.mount("/jobs", dashboard(settings))      # in a FastAPI or Starlette app

or run it alone: `jobqueue web --port 8080`. It reads and acts through
`jobqueue.redis.inspector.Inspector`; every asset ships in the package. Needs the `web` extra
(`pip install 'jobqueue[web]'`: Starlette and Jinja2). See docs/dashboard.md.
"""

from __future__ import annotations

from jobqueue.web._app import Dashboard, dashboard
from jobqueue.web._guard import Authorize

__all__ = ["Authorize", "Dashboard", "dashboard"]
