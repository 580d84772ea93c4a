"""The app's object graph: jobqueue's core (queue, cache, HTTP client), the database, a job.

One `Container` serves the API process and every worker process; each builds its own instance,
and tests override single providers (`container.users.override(fake)`). Job modules import this
one for their `Provide[...]` markers, so it imports none of them (only the report job's class).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from examples.app.db import open_engine
from examples.app.jobs.report import GenerateReportJob
from examples.app.repository import SqlUserRepository
from examples.app.settings import AppSettings
from jobqueue.di import QueueContainer


class Container(containers.DeclarativeContainer):
    """Settings, the jobqueue core, the engine (a resource), the repository, the report job."""

    settings = providers.Singleton(AppSettings)
    core = providers.Container(QueueContainer)
    """`core.queue`, `core.cache`, `core.http_client`, configured by `QUEUE_*`, `CACHE_*`..."""
    engine = providers.Resource(open_engine, url=settings.provided.database_url)
    users = providers.Singleton(SqlUserRepository, engine=engine)
    report_job = providers.Factory(GenerateReportJob, users=users, cache=core.cache)
    """Registered as `Container.report_job`; a worker runs it through its own container's copy,
    so `container.users.override(fake)` reaches the report job too."""
