"""The curated public API: `jobqueue.__all__` is sorted, complete and importable."""

from __future__ import annotations

import inspect

import jobqueue


def test_all_is_sorted_and_importable() -> None:
    assert jobqueue.__all__ == sorted(jobqueue.__all__)
    for name in jobqueue.__all__:
        assert getattr(jobqueue, name) is not None


def test_every_public_name_of_the_package_is_exported() -> None:
    public = {
        name
        for name, value in vars(jobqueue).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(jobqueue.__all__)


def test_errors_share_one_root() -> None:
    errors = [getattr(jobqueue, n) for n in jobqueue.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, jobqueue.JobQueueError) for e in errors)
