"""Orchestrates the runs: a private Redis, one driver (producer) process per system, and a fresh
worker process per phase, each from the system's own venv.

Phases, per system, in this order:

- enqueue: `enqueue_sequential` (one at a time), `enqueue_concurrent` (100 in flight: asyncio
  tasks, or threads for sync clients), `enqueue_batch` (a native batch API: jobqueue's
  `enqueue_many`, streaQ's `enqueue_many`); no worker runs, jobs/s.
- backlog (per body, noop and sleep): N jobs are enqueued, then ONE worker process starts; the
  rate is N / (spawn -> counter == N), and `_warm` is (N-1) / (first increment -> counter == N).
- latency: a warmed-up worker gets an open-loop offered load of 100/s then 1,000/s of noop jobs;
  each job records start-time minus its enqueue time; p50/p99 in ms.
- peak RSS: the largest per-run sum of VmHWM over the worker process and its children.
- memory: no worker; N jobs enqueued one at a time in two halves; Redis `used_memory` after the
  second half minus after the first, per job (the slope: one-off allocations cancel out).
- commands: N jobs enqueued one at a time, then ONE worker drains them while a MONITOR feed and
  `INFO all` snapshots count the queue server's commands; the job counter lives on a second
  private Redis, so nothing the harness does lands on the queue server but its own snapshots
  (subtracted). Per job: enqueue slope (second half of the enqueue) + worker slope (jobs N/4 to
  3N/4), as commands the clients sent and commands executed (inner script calls included).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from benchmarks import procs, profiling, redisstats, venvs
from benchmarks.systems import SYSTEMS, System
from benchmarks.systems._body import COUNTER, FIRST, LATENCY

REPO = venvs.REPO
QUEUE_DB = 0
METRICS_DB = 15
# The latency phase runs an offered rate only if the system drained its noop backlog at least this
# much faster (the producer then shares the 2 cores): past its capacity the queue only grows, and
# p50 would measure the length of the run, not the system.
HEADROOM = 1.2
# Seconds a worker gets to exit on SIGTERM once its phase is measured, before SIGKILL.
WORKER_GRACE = 0.3


@dataclass(frozen=True)
class Sizes:
    """How much work each phase does, and how long each may take."""

    enqueue_sequential: int
    enqueue_concurrent: int
    enqueue_batch: int
    backlog: int
    latency_seconds: float
    enqueue_timeout: float
    backlog_timeout: float
    batch_size: int = 1000
    concurrency: int = 100
    rates: tuple[int, ...] = (100, 1000)
    warmup: int = 50
    memory: int = 20_000
    """Jobs enqueued by the memory phase (the slope is taken over the second half)."""
    commands: int = 2_000
    """Jobs enqueued and drained by the commands phase."""
    idle_seconds: float = 2.0
    """How long the commands phase counts an idle worker's commands after the drain."""
    start_timeout: float = 60.0
    worker_concurrency: int = 10
    worker_logs: str = "quiet"
    """`quiet`: systems whose CLI logs every job run at WARNING; `default`: each CLI's default."""


QUICK = Sizes(  # all eight systems, every phase: about 2.5 min (95 s without memory, commands)
    enqueue_sequential=500,
    enqueue_concurrent=1000,
    enqueue_batch=3000,
    backlog=1000,
    latency_seconds=1.0,
    enqueue_timeout=60.0,
    backlog_timeout=90.0,
    memory=5_000,
    commands=1_000,
    idle_seconds=1.0,
)
FULL = Sizes(
    enqueue_sequential=5000,
    enqueue_concurrent=10_000,
    enqueue_batch=20_000,
    backlog=20_000,
    latency_seconds=10.0,
    enqueue_timeout=180.0,
    backlog_timeout=300.0,
)


class PhaseError(Exception):
    """One phase of one system failed; the run goes on."""


# Extra phases for one system: `hook(bench, system, driver) -> {metric: value}`, run after the
# common phases. jobqueue's delay lateness, crash recovery and idle shutdown are measured by another
# script (benchmarks/guarantees.py); register its entry point here to fold its figures in.
ExtraPhase = Callable[["Bench", System, "Driver"], dict[str, float]]
EXTRA_PHASES: dict[str, list[ExtraPhase]] = {"jobqueue": []}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Driver:
    """The producer process of one system (see `benchmarks.driver`)."""

    def __init__(self, python: str, system: System, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.proc = procs.spawn(
            [python, "-m", "benchmarks.driver", system.name],
            env=env,
            cwd=REPO,
            log=log_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.channel = procs.LineChannel(self.proc.stdout)
        self.hello = self._read(120.0)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.channel.read(timeout)
        except TimeoutError as exc:
            raise PhaseError(f"driver: {exc}") from None
        if line is None:
            raise PhaseError("driver exited:\n" + procs.log_tail(self.log_path))
        data: dict[str, Any] = json.loads(line)
        if not data.get("ok", True):
            raise PhaseError(data.get("error", "driver error"))
        return data

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        if not self.alive():
            raise PhaseError("driver is not running:\n" + procs.log_tail(self.log_path))
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def close(self) -> None:
        if self.alive():
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        procs.kill_group(self.proc, grace=1.0)


@dataclass
class SystemRun:
    metrics: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    settings: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Per-phase breakdowns that are not single figures (top commands, keys by pattern)."""


class Bench:
    """Runs every phase of one system against the private Redis at `url`."""

    def __init__(
        self,
        url: str,
        sizes: Sizes,
        log_dir: Path,
        profile: frozenset[str] = frozenset(),
        counter_url: str | None = None,
    ) -> None:
        self.profile = profile
        self.queue_url = f"{url}/{QUEUE_DB}"
        self.metrics_url = f"{url}/{METRICS_DB}"
        # The commands phase counts jobs on this second server, off the one it measures.
        self.counter_url = f"{counter_url}/{METRICS_DB}" if counter_url else None
        self.sizes = sizes
        self.log_dir = log_dir
        self.r = redis.Redis.from_url(self.metrics_url)
        self.queue = redis.Redis.from_url(self.queue_url)

    # -- plumbing ---------------------------------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "BENCH_"))}
        env.pop("VIRTUAL_ENV", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["BENCH_QUEUE_URL"] = self.queue_url
        env["BENCH_METRICS_URL"] = self.metrics_url
        env["BENCH_CONCURRENCY"] = str(self.sizes.worker_concurrency)
        env["BENCH_WORKER_LOGS"] = self.sizes.worker_logs
        env.update(extra or {})
        return env

    def reset(self) -> None:
        """Empty every database (no worker runs at this point)."""
        self.r.flushall()

    def reset_metrics(self) -> None:
        self.r.delete(COUNTER, FIRST, LATENCY)

    def count(self, counter: redis.Redis | None = None) -> int:
        return int((self.r if counter is None else counter).get(COUNTER) or 0)

    def wait_count(
        self,
        target: int,
        timeout: float,
        worker: subprocess.Popen[Any] | None = None,
        rss: procs.PeakRss | None = None,
        worker_log: Path | None = None,
        on_first: Callable[[], None] | None = None,
        counter: redis.Redis | None = None,
    ) -> float:
        """Poll the counter every 2 ms until it reaches `target`; the wall time it did."""
        deadline = time.monotonic() + timeout
        next_sample = 0.0
        while True:
            n = self.count(counter)
            if n >= target:
                return time.time()
            if n and on_first is not None:
                on_first()
                on_first = None
            now = time.monotonic()
            if rss is not None and now >= next_sample:
                rss.sample()
                next_sample = now + 0.25
            if worker is not None and worker.poll() is not None:
                tail = procs.log_tail(worker_log) if worker_log else ""
                raise PhaseError(f"worker exited with {worker.returncode} at {n}/{target}\n{tail}")
            if now > deadline:
                raise PhaseError(f"timeout after {timeout:.0f} s: {n}/{target} jobs done")
            time.sleep(0.002)

    def start_worker(
        self,
        python: str,
        system: System,
        hello: dict[str, Any],
        tag: str,
        extra_env: dict[str, str] | None = None,
    ) -> tuple[subprocess.Popen[Any], Path]:
        log_path = self.log_dir / f"{system.name}-{tag}.log"
        log_path.unlink(missing_ok=True)
        proc = procs.spawn(
            [python, *hello["worker_argv"]],
            env=self.env({**hello["worker_env"], **(extra_env or {})}),
            cwd=REPO,
            log=log_path,
        )
        return proc, log_path

    # -- phases -----------------------------------------------------------------------------

    def enqueue_phase(self, driver: Driver, run: SystemRun) -> None:
        s = self.sizes
        modes = [("sequential", s.enqueue_sequential), ("concurrent", s.enqueue_concurrent)]
        if driver.hello.get("batch"):
            modes.append(("batch", s.enqueue_batch))
        for mode, n in modes:
            key = f"enqueue_{mode}"
            try:
                self.reset()
                driver.call(s.enqueue_timeout, cmd="prepare")
                reply = driver.call(
                    s.enqueue_timeout,
                    cmd="enqueue",
                    mode=mode,
                    n=n,
                    body="noop",
                    concurrency=s.concurrency,
                    batch_size=s.batch_size,
                )
                run.metrics[key] = n / reply["seconds"]
                log(f"    {key}: {run.metrics[key]:,.0f} jobs/s")
            except PhaseError as exc:
                run.errors[key] = str(exc)
                log(f"    {key}: FAILED {exc}")

    def backlog_phase(
        self, python: str, system: System, driver: Driver, body: str, run: SystemRun
    ) -> None:
        s = self.sizes
        key = f"backlog_{body}"
        n = s.backlog
        try:
            self.reset()
            driver.call(s.enqueue_timeout, cmd="prepare")
            mode = "batch" if driver.hello.get("batch") else "concurrent"
            driver.call(
                s.enqueue_timeout,
                cmd="enqueue",
                mode=mode,
                n=n,
                body=body,
                concurrency=s.concurrency,
                batch_size=s.batch_size,
            )
            started = time.time()
            proc, log_path = self.start_worker(python, system, driver.hello, key)
            rss = procs.PeakRss(proc.pid)
            raw = self.log_dir / f"{system.name}-{key}.pyspy.txt"
            spies: list[subprocess.Popen[Any] | None] = []

            def profile() -> None:  # once the worker has started (its imports are not sampled)
                spies.append(profiling.start(proc.pid, raw))

            try:
                done = self.wait_count(
                    n,
                    s.backlog_timeout,
                    proc,
                    rss,
                    log_path,
                    on_first=profile if system.name in self.profile else None,
                )
                rss.sample()
                first = float(self.r.get(FIRST) or done)
            finally:
                for spy in spies:
                    profiling.stop(spy)
                procs.kill_group(proc, grace=WORKER_GRACE)
            if spies:
                log(f"    profile of the worker ({raw}):")
                log(textwrap.indent(profiling.summarize(raw, top=15), "      "))
            run.metrics[key] = n / (done - started)
            run.metrics[f"{key}_warm"] = (n - 1) / max(done - first, 1e-9)
            run.metrics[f"startup_{body}"] = first - started
            run.metrics[f"rss_{key}"] = rss.mib
            log(
                f"    {key}: {run.metrics[key]:,.0f} jobs/s incl. start-up, "
                f"{run.metrics[f'{key}_warm']:,.0f} excl. (first job after {first - started:.2f} s)"
                f"; peak RSS {rss.mib:.0f} MiB"
            )
        except PhaseError as exc:
            run.errors[key] = str(exc)
            log(f"    {key}: FAILED {exc}")

    def latency_phase(self, python: str, system: System, driver: Driver, run: SystemRun) -> None:
        s = self.sizes
        try:
            self.reset()
            driver.call(s.enqueue_timeout, cmd="prepare")
            proc, log_path = self.start_worker(python, system, driver.hello, "latency")
            rss = procs.PeakRss(proc.pid)
        except PhaseError as exc:
            for rate in s.rates:
                run.errors[f"latency_{rate}"] = str(exc)
            return
        try:
            try:
                driver.call(
                    s.enqueue_timeout, cmd="enqueue", mode="sequential", n=s.warmup, body="noop"
                )
                self.wait_count(s.warmup, s.start_timeout, proc, rss, log_path)
            except PhaseError as exc:
                for rate in s.rates:
                    run.errors[f"latency_{rate}"] = f"warm-up: {exc}"
                return
            for rate in s.rates:
                key = f"latency_{rate}"
                capacity = run.metrics.get("backlog_noop_warm")
                if capacity is not None and capacity < HEADROOM * rate:
                    run.skipped[key] = (
                        f"over capacity: drains {capacity:,.0f}/s < {HEADROOM} x {rate:,}/s"
                    )
                    log(f"    {key}/s: skipped, {run.skipped[key]}")
                    continue
                try:
                    self.reset_metrics()
                    reply = driver.call(
                        s.latency_seconds * 3 + 30,
                        cmd="load",
                        rate=rate,
                        seconds=s.latency_seconds,
                        body="noop",
                    )
                    self.wait_count(reply["sent"], s.latency_seconds * 2 + 30, proc, rss, log_path)
                    lat = sorted(float(x) for x in self.r.lrange(LATENCY, 0, -1))
                    run.metrics[f"{key}_p50"] = percentile(lat, 50) * 1000
                    run.metrics[f"{key}_p99"] = percentile(lat, 99) * 1000
                    run.metrics[f"{key}_offered"] = reply["sent"] / reply["seconds"]
                    log(
                        f"    {key}/s: p50 {run.metrics[f'{key}_p50']:.2f} ms, "
                        f"p99 {run.metrics[f'{key}_p99']:.2f} ms "
                        f"(offered {run.metrics[f'{key}_offered']:,.0f}/s)"
                    )
                except PhaseError as exc:
                    run.errors[key] = str(exc)
                    log(f"    {key}: FAILED {exc}")
                    break  # a backlog left behind would spoil the next rate
            rss.sample()
            run.metrics["rss_latency"] = rss.mib
        finally:
            procs.kill_group(proc, grace=WORKER_GRACE)

    def memory_phase(self, driver: Driver, run: SystemRun) -> None:
        """Redis memory per queued job, no worker: the slope between N/2 and N stored jobs."""
        s = self.sizes
        n = s.memory
        half = n // 2
        try:
            self.reset()
            driver.call(s.enqueue_timeout, cmd="prepare")
            points = [(0, redisstats.settled_memory(self.queue))]
            for upto in (half, n):
                # One at a time, on one connection; each call returns once Redis stored the job.
                driver.call(
                    s.enqueue_timeout * 2,
                    cmd="enqueue",
                    mode="sequential",
                    n=upto - points[-1][0],
                    body="noop",
                )
                points.append((upto, redisstats.settled_memory(self.queue)))
            (_, before), (_, mid), (_, after) = points
            keys = int(self.queue.dbsize())
            breakdown = redisstats.key_breakdown(self.queue, n)
        except (PhaseError, redis.RedisError) as exc:
            run.errors["memory"] = str(exc)
            log(f"    memory: FAILED {exc}")
            return
        m = run.metrics
        m["memory_per_job"] = (after["used_memory"] - mid["used_memory"]) / (n - half)
        m["memory_per_job_mean"] = (after["used_memory"] - before["used_memory"]) / n
        m["memory_dataset_per_job"] = (after["dataset"] - mid["dataset"]) / (n - half)
        m["memory_keys_per_job"] = keys / n
        run.details["memory"] = {
            "reported": "memory_per_job = (used_memory at N - at N/2) / (N/2)",
            "jobs": n,
            "used_memory": {str(k): v["used_memory"] for k, v in points},
            "used_memory_dataset": {str(k): v["dataset"] for k, v in points},
            "keys": keys,
            "memory_usage_per_job": sum(g["bytes"] for g in breakdown.values()) / n,
            "keys_by_pattern": breakdown,
        }
        top = ", ".join(
            f"{name} {g['bytes_per_job']:.0f}" for name, g in list(breakdown.items())[:3]
        )
        log(
            f"    memory: {m['memory_per_job']:,.0f} B/job (slope N/2..N; "
            f"{m['memory_per_job_mean']:,.0f} from empty), {m['memory_keys_per_job']:.2f} keys/job"
            f"; MEMORY USAGE B/job: {top}"
        )

    def commands_phase(self, python: str, system: System, driver: Driver, run: SystemRun) -> None:
        """Redis commands per job, enqueue to acknowledgement (see `redisstats.CommandWatch`)."""
        s = self.sizes
        n = s.commands
        half = n // 2
        if self.counter_url is None:
            run.errors["commands"] = "no counter server"
            return
        counter = redis.Redis.from_url(self.counter_url)
        proc: subprocess.Popen[Any] | None = None
        watch: redisstats.CommandWatch | None = None
        try:
            self.reset()
            counter.flushall()
            driver.call(s.enqueue_timeout, cmd="prepare")
            watch = redisstats.CommandWatch(self.queue_url)
            start = watch.snapshot(0)
            driver.call(s.enqueue_timeout, cmd="enqueue", mode="sequential", n=half, body="noop")
            mid = watch.snapshot(0)
            driver.call(
                s.enqueue_timeout, cmd="enqueue", mode="sequential", n=n - half, body="noop"
            )
            enqueued = watch.snapshot(0)
            proc, log_path = self.start_worker(
                python, system, driver.hello, "commands", {"BENCH_METRICS_URL": self.counter_url}
            )
            marks = []
            for target in (n // 4, 3 * n // 4, n):
                self.wait_count(target, s.backlog_timeout, proc, None, log_path, counter=counter)
                marks.append(watch.snapshot(lambda: self.count(counter)))
            quarter, three_quarters, done = marks
            time.sleep(0.5)  # past the drain's tail (the last acks) and into idle polling
            idle_from = watch.snapshot(lambda: self.count(counter))
            time.sleep(s.idle_seconds)
            idle_to = watch.snapshot(lambda: self.count(counter))
        except (PhaseError, TimeoutError, OSError, redis.RedisError) as exc:
            run.errors["commands"] = str(exc)
            log(f"    commands: FAILED {exc}")
            return
        finally:
            if proc is not None:
                procs.kill_group(proc, grace=WORKER_GRACE)
            if watch is not None:
                watch.close()
            counter.close()
        w = redisstats.CommandWatch.window
        enqueue = w(mid, enqueued, jobs=n - half)
        worker = w(quarter, three_quarters)
        whole = w(start, done, jobs=n)
        idle = w(idle_from, idle_to)
        idle_seconds = idle.seconds
        idle.jobs = idle_seconds  # per_job() of this window is per second
        m = run.metrics
        for part, win in (("enqueue", enqueue), ("worker", worker), ("whole", whole)):
            m[f"commands_{part}_sent"] = win.n_sent() / win.jobs
            m[f"commands_{part}_executed"] = win.n_executed() / win.jobs
        m["commands_sent"] = m["commands_enqueue_sent"] + m["commands_worker_sent"]
        m["commands_executed"] = m["commands_enqueue_executed"] + m["commands_worker_executed"]
        m["commands_reads"] = enqueue.reads / enqueue.jobs + worker.reads / worker.jobs
        m["commands_idle_executed_per_s"] = idle.n_executed() / idle_seconds
        m["commands_idle_sent_per_s"] = idle.n_sent() / idle_seconds
        run.details["commands"] = {
            "reported": "commands_sent / commands_executed = enqueue slope (jobs N/2..N, no "
            "worker) + worker slope (completed jobs N/4..3N/4), per job",
            "jobs": n,
            "enqueue_slope": enqueue.per_job(),
            "worker_slope": worker.per_job(),
            "whole_run": {
                **whole.per_job(),
                "note": "from before the first enqueue to the counter reaching N: one-offs "
                "included, the last in-flight jobs' acks may be missing",
            },
            "enqueue_all": w(start, enqueued, jobs=n).per_job(),
            "idle_per_second": {k: v for k, v in idle.per_job().items() if k != "jobs"},
            "monitor_lines": watch.monitor.lines,
        }
        log(
            f"    commands: {m['commands_sent']:.2f} sent/job, {m['commands_executed']:.2f} "
            f"executed/job (enqueue {m['commands_enqueue_sent']:.2f}/"
            f"{m['commands_enqueue_executed']:.2f}, worker {m['commands_worker_sent']:.2f}/"
            f"{m['commands_worker_executed']:.2f}); whole run {m['commands_whole_executed']:.2f}; "
            f"idle {m['commands_idle_executed_per_s']:.1f}/s"
        )
        top = worker.per_job(top=6)["top_executed"]
        log(f"      worker, executed per job: {top}")

    def run_system(self, python: str, system: System, phases: set[str]) -> SystemRun:
        run = SystemRun()
        started = time.monotonic()
        driver_log = self.log_dir / f"{system.name}-driver.log"
        driver_log.unlink(missing_ok=True)
        self.reset()
        try:
            driver = Driver(python, system, self.env(), driver_log)
        except PhaseError as exc:
            run.errors["driver"] = str(exc)
            log(f"    driver FAILED: {exc}")
            return run
        try:
            run.settings = driver.hello["settings"]
            if "enqueue" in phases:
                self.enqueue_phase(driver, run)
            if "backlog" in phases:
                for body in ("noop", "sleep"):
                    self.backlog_phase(python, system, driver, body, run)
            if "latency" in phases:
                self.latency_phase(python, system, driver, run)
            if "memory" in phases:
                self.memory_phase(driver, run)
            if "commands" in phases:
                self.commands_phase(python, system, driver, run)
            for hook in EXTRA_PHASES.get(system.name, []):
                try:
                    run.metrics.update(hook(self, system, driver))
                except PhaseError as exc:
                    run.errors[getattr(hook, "__name__", "extra")] = str(exc)
            run.metrics.update(_peak_rss(run.metrics))
        finally:
            driver.close()
            run.seconds = time.monotonic() - started
        return run


def _peak_rss(metrics: dict[str, float]) -> dict[str, float]:
    values = [v for k, v in metrics.items() if k.startswith("rss_")]
    return {"peak_rss": max(values)} if values else {}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def redis_version(executable: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else ()


def pick_redis_server() -> str:
    """`BENCH_REDIS_SERVER`, else the newest `redis-server` found (streaQ needs Redis >= 7)."""
    if os.environ.get("BENCH_REDIS_SERVER"):
        return os.environ["BENCH_REDIS_SERVER"]
    found: list[str] = []
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        candidate = shutil.which("redis-server", path=folder)
        if candidate and candidate not in found:
            found.append(candidate)
    if not found:
        from jobqueue.testing.redis_server import find_redis_server

        return find_redis_server()
    return max(found, key=redis_version)


def median_metrics(runs: list[SystemRun]) -> dict[str, float]:
    keys = sorted({k for run in runs for k in run.metrics})
    return {k: statistics.median([r.metrics[k] for r in runs if k in r.metrics]) for k in keys}


def run(
    *,
    systems: list[str],
    sizes: Sizes,
    mode: str,
    repeat: int,
    phases: set[str],
    venv_dir: Path,
    log_dir: Path,
    profile: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Run everything; returns the results document (see `report`)."""
    from jobqueue.testing import RedisServer

    wall = time.monotonic()
    log_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "meta": {
            "mode": mode,
            "repeat": repeat,
            "phases": sorted(phases),
            "sizes": asdict(sizes),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "venv_dir": str(venv_dir),
            "log_dir": str(log_dir),
        },
        "systems": {},
    }
    pythons: dict[str, str] = {}
    for name in systems:
        system = SYSTEMS[name]
        entry = results["systems"][name] = {"venv": system.venv or "(main)", "runs": []}
        try:
            if system.venv is None:
                env = venvs.main_venv()
            else:
                log(f"[{name}] venv {venv_dir / system.venv} ...")
                env = venvs.ensure(system.venv, venv_dir, log_dir / f"venv-{system.venv}.log")
            pythons[name] = env.python
            entry["versions"] = env.versions
            entry["venv_created_seconds"] = env.created_in
            if env.created_in is not None:
                log(f"[{name}] venv created in {env.created_in:.1f} s")
        except subprocess.CalledProcessError as exc:
            where = log_dir / f"venv-{system.venv}.log"
            entry["failed"] = f"install: {exc.cmd[2]} exited with {exc.returncode}; see {where}"
            log(f"[{name}] FAILED to install: {entry['failed']}")
        except (subprocess.SubprocessError, OSError) as exc:
            entry["failed"] = f"install: {exc}"
            log(f"[{name}] FAILED to install: {exc}")
    executable = pick_redis_server()
    results["meta"]["redis"] = ".".join(map(str, redis_version(executable))) or executable
    with ExitStack() as stack:
        server = stack.enter_context(RedisServer(executable))
        counter = stack.enter_context(RedisServer(executable)) if "commands" in phases else None
        bench = Bench(server.url, sizes, log_dir, profile, counter.url if counter else None)
        for rep in range(repeat):
            for name in systems:
                if name not in pythons:
                    continue
                log(f"[{name}] run {rep + 1}/{repeat}")
                outcome = bench.run_system(pythons[name], SYSTEMS[name], phases)
                entry = results["systems"][name]
                entry["runs"].append(
                    {
                        "metrics": outcome.metrics,
                        "errors": outcome.errors,
                        "seconds": outcome.seconds,
                        "skipped": outcome.skipped,
                        "details": outcome.details,
                    }
                )
                if outcome.settings:
                    entry["settings"] = outcome.settings
                log(f"[{name}] done in {outcome.seconds:.1f} s")
    for entry in results["systems"].values():
        runs = [SystemRun(r["metrics"], r["errors"]) for r in entry["runs"]]
        entry["median"] = median_metrics(runs) if runs else {}
        entry["errors"] = {k: v for r in runs for k, v in r.errors.items()}
        entry["skipped"] = {k: v for r in entry["runs"] for k, v in r.get("skipped", {}).items()}
        if runs and not entry["median"] and "failed" not in entry:
            entry["failed"] = "; ".join(f"{k}: {v}" for k, v in entry["errors"].items())[:2000]
    results["meta"]["seconds"] = time.monotonic() - wall
    return results
