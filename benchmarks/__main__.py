"""`python -m benchmarks [--quick] [--systems a,b] [--repeat 3] [--json PATH]`; `nox -s bench`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks import report, runner, venvs
from benchmarks.systems import SYSTEMS

PHASES = ("enqueue", "backlog", "latency", "memory", "commands")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Compare jobqueue with other Redis job queues: enqueue rate, backlog "
        "throughput of one worker process, latency under steady load, worker memory, Redis "
        "memory per queued job and Redis commands per job.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (well under 2 min)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated subset of: {', '.join(SYSTEMS)}",
    )
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated subset of {PHASES}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per system; medians reported")
    parser.add_argument("--backlog", type=int, help="override N of the backlog phase")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(os.environ.get("BENCH_RESULTS", "bench-results.json")),
        help="where to write all figures (default: bench-results.json)",
    )
    parser.add_argument(
        "--venv-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_VENV_DIR", venvs.DEFAULT_VENV_DIR)),
        help="cache of the peers' virtualenvs (default: .bench-venvs)",
    )
    parser.add_argument(
        "--log-dir", type=Path, help="worker and driver logs (default: <venv-dir>/logs)"
    )
    parser.add_argument(
        "--profile",
        default="",
        help="systems whose backlog workers py-spy samples (needs py-spy), e.g. jobqueue",
    )
    parser.add_argument(
        "--worker-logs",
        choices=("quiet", "default"),
        default="quiet",
        help="quiet (default): workers whose CLI logs every job run at WARNING, so no system is "
        "measured by its log output; default: each CLI's own log level",
    )
    parser.add_argument("--report", type=Path, help="only print the table of a results file")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {list(SYSTEMS)}")
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if args.phases - set(PHASES):
        parser.error(f"unknown phases {sorted(args.phases - set(PHASES))}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.report:
        print(report.render(json.loads(args.report.read_text())))
        return 0
    sizes = runner.QUICK if args.quick else runner.FULL
    from dataclasses import replace

    sizes = replace(sizes, worker_logs=args.worker_logs)
    if args.backlog:
        sizes = replace(sizes, backlog=args.backlog)
    runner.procs.install_signal_handlers()
    results = runner.run(
        systems=args.systems,
        sizes=sizes,
        mode="quick" if args.quick else "full",
        repeat=args.repeat,
        phases=args.phases,
        venv_dir=args.venv_dir.resolve(),
        log_dir=(args.log_dir or args.venv_dir / "logs").resolve(),
        profile=frozenset(s.strip() for s in args.profile.split(",") if s.strip()),
    )
    report.write_json(results, args.json)
    print(report.render({**results, "ratios": report.ratios(results)}))
    print(f"\nfigures written to {args.json}", file=sys.stderr)
    failed = [name for name, e in results["systems"].items() if e.get("failed")]
    return 1 if "jobqueue" in failed else 0


if __name__ == "__main__":
    sys.exit(main())
