"""`build_registry`: every job type of the app with its handler and its defaults, in one place.

The job modules import the container for their `Provide[...]` markers, so the container cannot
build the registry itself; the composition roots (worker, API) call this with their container.
"""

from __future__ import annotations

from dependency_injector import providers

from examples.app.containers import Container
from examples.app.jobs.email import send_email
from examples.app.jobs.report import GenerateReportJob
from examples.app.jobs.sync import sync_data
from examples.app.jobs.types import GENERATE_REPORT, PROCESS_WEBHOOK, SEND_EMAIL, SYNC_DATA
from examples.app.jobs.webhook import process_webhook
from jobqueue import JobRegistry, exponential_backoff, fixed_schedule


def build_registry(container: Container) -> JobRegistry:
    """The registry of `container`: its class-based jobs are built by that container's providers.

    Both sides need it: workers run the handlers; the API applies each job type's defaults (the
    report's `low` queue) and checks payloads before anything is stored.

    The class-based job's provider is built on the container *instance*: a `Factory` over the
    class attributes (`Container.users`) would build a second object graph, with resources of
    its own that nothing shuts down, and ignore `container.users.override(...)`.
    """
    registry = JobRegistry()
    # `registry.job(...)(handler)` is `@registry.job(...)` as a call: the handlers stay plain
    # functions in their modules, and their `Provide[...]` markers resolve once wired.
    registry.job(SEND_EMAIL, max_retry=4, timeout=30, retry_delay=fixed_schedule(30, 60, 300, 600))(
        send_email
    )
    report_job = providers.Factory(
        GenerateReportJob, users=container.users, cache=container.core.cache
    )
    registry.register(GENERATE_REPORT, report_job, queue="low", max_retry=2, timeout=120)
    registry.job(SYNC_DATA, max_retry=5, timeout=30, retry_delay=exponential_backoff())(sync_data)
    registry.job(PROCESS_WEBHOOK)(process_webhook)  # queue, retries and timeout: per request
    return registry
