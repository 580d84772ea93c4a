"""`registry`: every job type of the app with its handler, in one place; the worker's registry.

Producers do not need it: the `JobType`s of `types.py` carry each job type's payload type, queue,
retries and timeout. Only `retry_delay`, which workers alone apply, is given here.

Imports go one way: the job modules import the container (for their `Provide[...]` markers), the
container imports the report job's class, and this module imports both.
"""

from __future__ import annotations

from examples.app.containers import Container
from examples.app.jobs.email import send_email
from examples.app.jobs.sync import sync_data
from examples.app.jobs.types import GENERATE_REPORT, PROCESS_WEBHOOK, SEND_EMAIL, SYNC_DATA
from examples.app.jobs.webhook import process_webhook
from jobqueue import JobRegistry, exponential_backoff, fixed_schedule

registry = JobRegistry()

# `registry.job(...)(handler)` is `@registry.job(...)` as a call, so that the job modules need
# not import this one. The handlers' markers resolve once a container is wired to their modules.
registry.job(SEND_EMAIL, retry_delay=fixed_schedule(30, 60, 300, 600))(send_email)
registry.job(SYNC_DATA, retry_delay=exponential_backoff())(sync_data)
registry.job(PROCESS_WEBHOOK)(process_webhook)

# The class-based job: a provider declared on the container *class*; `attach_container` maps it
# onto the attached container's own `report_job` in each worker process.
registry.register(GENERATE_REPORT, Container.report_job)
