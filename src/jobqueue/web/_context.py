"""What the dashboard's routes share: its inspector, its renderer, its CSRF checks, its mode."""

from __future__ import annotations

from dataclasses import dataclass

from jobqueue.options import JobState
from jobqueue.web._backend import Backend
from jobqueue.web._csrf import Csrf
from jobqueue.web._render import Pages

__all__ = ["JOB_ACTIONS", "LISTED", "PAGE_SIZE", "STATE_ACTIONS", "Context"]

PAGE_SIZE = 25
LISTED = ("pending", "active", "scheduled", "retry", "dead", "completed")
"""The states a queue page has a tab for, in the order of a job's life."""

STATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "pending": ("delete", "kill"),
    "active": (),
    "scheduled": ("run", "delete", "kill"),
    "retry": ("run", "delete", "kill"),
    "dead": ("run", "delete"),
    "completed": ("delete",),
}
"""The actions a state's jobs take (those of `Inspector.act`); active jobs only take cancel."""

JOB_ACTIONS: dict[str, tuple[str, ...]] = {
    **{state: (*actions, "cancel") for state, actions in STATE_ACTIONS.items()},
    "dead": STATE_ACTIONS["dead"],
    "completed": STATE_ACTIONS["completed"],
    JobState.CANCELLED.value: STATE_ACTIONS["dead"],
}
"""The buttons of a job's page, by its state: cancel too while it waits or runs."""


@dataclass(frozen=True, slots=True)
class Context:
    """One dashboard's parts."""

    backend: Backend
    pages: Pages
    csrf: Csrf
    read_only: bool
