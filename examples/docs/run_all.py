"""Run every example of the documentation as its own process; fail if any of them fails.

    python examples/docs/run_all.py            # all of them
    python examples/docs/run_all.py retries    # only those whose name contains "retries"

Each example runs with a timeout, from the repository root, with QUEUE_* and REDIS_URL removed
from its environment so that it only sees the settings it sets itself. Files whose name starts
with an underscore are helpers, not examples.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TIMEOUT = 90.0


def examples(filters: list[str]) -> list[Path]:
    found = sorted(
        path
        for path in HERE.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )
    return [p for p in found if not filters or any(f in p.stem for f in filters)]


def clean_env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("QUEUE_") and name != "REDIS_URL"
    }


def run(path: Path) -> tuple[bool, float, str]:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(path)],
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        return False, time.monotonic() - start, f"timed out after {TIMEOUT} s\n{output or ''}"
    return done.returncode == 0, time.monotonic() - start, done.stdout + done.stderr


def main(argv: list[str]) -> int:
    paths = examples(argv)
    if not paths:
        print("no example matches", argv)
        return 1
    failed = []
    for path in paths:
        ok, seconds, output = run(path)
        print(f"{'ok  ' if ok else 'FAIL'} {path.relative_to(ROOT)} ({seconds:.1f} s)", flush=True)
        if not ok:
            failed.append(path.name)
            print(output, flush=True)
    print(f"{len(paths) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
