"""The app's object graph: jobqueue's core (queue, cache, HTTP client) plus the database.

One `Container` serves the API process and every worker process; each builds its own instance,
and tests override single providers (`container.users.override(fake)`).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from examples.app.db import open_engine
from examples.app.repository import SqlUserRepository
from examples.app.settings import AppSettings
from jobqueue.di import QueueContainer


class Container(containers.DeclarativeContainer):
    """Settings, the jobqueue core, the engine (a resource) and the user repository."""

    settings = providers.Singleton(AppSettings)
    core = providers.Container(QueueContainer)
    """`core.queue`, `core.cache`, `core.http_client`, configured by `QUEUE_*`, `CACHE_*`..."""
    engine = providers.Resource(open_engine, url=settings.provided.database_url)
    users = providers.Singleton(SqlUserRepository, engine=engine)
