"""Chaos suite: real workers on a real Redis, with faults injected, against jobqueue's promises.

Run `python -m chaos` (or `nox -s chaos -- ARGS`); see `chaos/README.md`.
"""
