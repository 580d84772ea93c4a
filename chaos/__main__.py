"""`python -m chaos [--quick] [--only a,b] [--json PATH]`; `nox -s chaos -- ARGS`.

Runs each scenario on a private Redis with real worker processes, prints one table row per
scenario and why the failed ones failed, and exits with status 1 when a scenario broke its
promise (2 when the harness itself failed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import jobqueue
from chaos import harness
from chaos.harness import Context, ScenarioResult
from chaos.scenarios import (
    client_kill,
    client_pause,
    event_loop_stall,
    hostile_names,
    poison,
    redis_kill,
    redis_shutdown,
    sigkill_storm,
    unique_races,
)

SCENARIOS: list[ModuleType] = [
    sigkill_storm,
    redis_kill,
    redis_shutdown,
    client_pause,
    client_kill,
    event_loop_stall,
    poison,
    hostile_names,
    unique_races,
]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Inject faults into real jobqueue workers on a private Redis and check the "
        "promises of docs/guarantees.md.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (1-2 min in all)")
    parser.add_argument("--only", default="", help="comma-separated scenario names to run")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the logs even if all pass")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random choices")
    parser.add_argument(
        "--redis-server",
        default=None,
        help="redis-server binary (default: $CHAOS_REDIS_SERVER, else the newest on PATH)",
    )
    return parser.parse_args(argv)


async def run_one(module: ModuleType, ctx: Context, limit: float) -> ScenarioResult:
    """One scenario, with a time limit; a harness error becomes a failed row."""
    started = time.monotonic()
    try:
        result: ScenarioResult = await asyncio.wait_for(module.run(ctx), limit)
    except Exception as exc:
        result = ScenarioResult(module.NAME, module.TITLE, module.PROMISE)
        result.failures.append(f"harness error: {type(exc).__name__}: {exc}"[:2000])
        result.details["traceback"] = traceback.format_exc()
        result.details["harness_error"] = True
        result.finish()
    result.duration_s = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; the exit status."""
    args = parse(argv)
    if args.list:
        for module in SCENARIOS:
            print(f"{module.NAME:<22} {module.TITLE}\n{'':<22} promise: {module.PROMISE}")
        return 0
    chosen = SCENARIOS
    if args.only:
        names = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = names - {m.NAME for m in SCENARIOS}
        if unknown:
            print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        chosen = [m for m in SCENARIOS if m.NAME in names]
    for name in [k for k in os.environ if k.startswith("QUEUE_")]:
        del os.environ[name]  # the harness and its workers get their settings from the scenario
    harness.install_signal_handlers()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    random.seed(seed)
    server = args.redis_server or harness.pick_redis_server()
    mode = "quick" if args.quick else "full"
    root = Path(tempfile.mkdtemp(prefix="jobqueue-chaos-"))
    version = ".".join(map(str, harness.redis_version(server))) or "?"
    print(
        f"jobqueue chaos, {mode} mode: Redis {version}, Python {platform.python_version()}, "
        f"seed {seed}; logs in {root}",
        flush=True,
    )
    results: list[ScenarioResult] = []
    started = time.monotonic()
    for module in chosen:
        workdir = root / module.NAME
        workdir.mkdir()
        ctx = Context(quick=args.quick, redis_server=server, workdir=workdir, seed=seed)
        result = asyncio.run(run_one(module, ctx, limit=180.0 if args.quick else 900.0))
        results.append(result)
        verdict = "PASS" if result.passed else "FAIL"
        print(f"  {module.NAME}: {verdict} in {result.duration_s:.1f} s", flush=True)
    elapsed = time.monotonic() - started
    print()
    print(harness.report(results))
    failed = [r.name for r in results if not r.passed]
    print(
        f"{len(results) - len(failed)} of {len(results)} scenarios kept their promise "
        f"({elapsed:.0f} s)." + (f" Failed: {', '.join(failed)}." if failed else "")
    )
    if args.json:
        meta: dict[str, Any] = {
            "mode": mode,
            "seed": seed,
            "redis_version": version,
            "python": platform.python_version(),
            "jobqueue": getattr(jobqueue, "__version__", None),
            "elapsed_s": round(elapsed, 1),
            "logs": str(root),
        }
        harness.write_json(args.json, results, meta)
    if failed or args.keep:
        print(f"Logs: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    if any(r.details.get("harness_error") for r in results):
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
