"""The one place that talks to dependency-injector's wiring internals.

jobs.py needs three answers that dependency-injector has no public API for: is this annotation
metadata a `Provide[...]` marker, has `@inject` been applied already, and does a function declare
any marker at all. They are private functions of `dependency_injector.wiring`; keeping every use
here means an upgrade that moves them breaks one small module, not the job declarations.

The wiring module costs about 3 MiB per process, so nothing here imports it unless the user's own
code already has (no marker can exist before that).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["has_marker", "inject_if_needed"]

_WIRING = "dependency_injector.wiring"
F = TypeVar("F", bound=Callable[..., Any])


def has_marker(annotation: Any) -> bool:
    """Whether an `Annotated[...]` hint carries a dependency-injector marker."""
    if _WIRING not in sys.modules:
        return False
    from dependency_injector import wiring

    metadata = getattr(annotation, "__metadata__", ())
    return any(wiring._is_marker(item) for item in metadata)


def inject_if_needed(func: F) -> F:
    """`@inject` applied to `func` when it declares markers and does not have it yet."""
    if _WIRING not in sys.modules:
        return func
    from dependency_injector import wiring

    if wiring._is_patched(func):
        return func
    injections, _ = wiring._fetch_reference_injections(func)
    return wiring.inject(func) if injections else func
