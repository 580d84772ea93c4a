"""Every `jobqueue` subcommand through `main(argv)` on a real Redis, and once as a process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from taskiq import ScheduledTask

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, PermanentError, QueueSettings
from jobqueue.cli import main
from jobqueue.cli._serve import STOP
from jobqueue.redis import RedisJobBroker, RedisScheduleSource
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import run_worker


def jobs() -> JobRegistry:
    registry = JobRegistry()

    @registry.job("row", max_retry=0)
    async def row(payload: dict[str, int]) -> None:
        raise PermanentError(f"row {payload['n']} is broken")

    @registry.job("slow")
    async def slow(payload: dict[str, int]) -> None:
        await asyncio.sleep(30)

    return registry


@pytest.fixture
def env(
    settings: QueueSettings, jobqueue_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> QueueSettings:
    monkeypatch.setenv("QUEUE_URL", jobqueue_redis_url)
    monkeypatch.setenv("QUEUE_KEY_PREFIX", settings.key_prefix)
    return settings


@pytest.fixture
async def inspector(env: QueueSettings) -> AsyncIterator[Inspector]:
    async with JobQueue(RedisJobBroker(env, registry=jobs())) as queue:
        assert isinstance(queue.broker, RedisJobBroker)
        await queue.enqueue_many(
            ("row", {"n": n}, EnqueueOptions(job_id=f"r{n}")) for n in range(4)
        )
        inspector = Inspector(queue.broker)
        async with run_worker(RedisJobBroker(env, registry=jobs())):
            for _ in range(500):
                if (await inspector.queue_info(["default"], memory=False))[0].dead == 4:
                    break
                await asyncio.sleep(0.01)
        await queue.enqueue_with_delay("row", {"n": 9}, 3600)
        yield inspector


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    status, out, err = cli(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


async def test_reads(inspector: Inspector, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await asyncio.to_thread(cli, capsys, "stats")
    assert status == 0
    assert out.splitlines()[2].split()[:6] == ["default", "0", "1", "0", "0", "4"]
    stats = await asyncio.to_thread(cli_json, capsys, "stats")
    assert [s["queue"] for s in stats] == ["critical", "default", "low"]

    queues = await asyncio.to_thread(cli_json, capsys, "queues")
    default = next(q for q in queues if q["queue"] == "default")
    assert (default["dead"], default["scheduled"], default["error_groups"]) == (4, 1, 1)
    assert default["memory_bytes"] > 0
    status, out, _ = await asyncio.to_thread(cli, capsys, "queues", "--no-memory")
    assert out.split()[:4] == ["queue", "paused", "pending", "active"]

    history = await asyncio.to_thread(cli_json, capsys, "history", "default", "--days", "2")
    assert history[0]["queue"] == "default"
    assert [d["dead"] for d in history[0]["days"]] == [0, 4]
    status, out, _ = await asyncio.to_thread(cli, capsys, "history")
    assert "processed" in out.splitlines()[0]

    page = await asyncio.to_thread(
        cli_json, capsys, "jobs", "default", "dead", "--limit", "3", "--error", "ROW 2"
    )
    assert [j["id"] for j in page["jobs"]] == ["r2"]
    assert page["total"] == 4
    status, out, _ = await asyncio.to_thread(cli, capsys, "jobs", "default", "dead", "--limit", "2")
    assert "2 shown of 4 dead in default; next page: --offset 2" in out

    detail = await asyncio.to_thread(cli_json, capsys, "job", "r1")
    assert detail["job"]["state"] == "dead"
    assert detail["job"]["payload"] == {"n": 1}
    assert detail["error_group"]
    status, out, _ = await asyncio.to_thread(cli, capsys, "job", "r1", "--queue", "default")
    assert "traceback:" in out
    assert "error group:" in out
    status, _, err = await asyncio.to_thread(cli, capsys, "job", "missing")
    assert (status, err) == (1, "no job 'missing'\n")

    groups = await asyncio.to_thread(cli_json, capsys, "errors")
    assert [(g["count"], g["message"]) for g in groups] == [(4, "row <n> is broken")]
    status, out, _ = await asyncio.to_thread(cli, capsys, "errors", "--queue", "default")
    assert groups[0]["id"] in out


async def test_workers_and_schedules(
    env: QueueSettings, inspector: Inspector, capsys: pytest.CaptureFixture[str]
) -> None:
    source = RedisScheduleSource(inspector.broker)
    await source.add_schedule(
        ScheduledTask(
            schedule_id="nightly",
            task_name="row",
            labels={},
            args=[{}],
            kwargs={},
            cron="0 3 * * *",
        )
    )
    schedules = await asyncio.to_thread(cli_json, capsys, "schedules")
    assert [(s["id"], s["cron"]) for s in schedules] == [("nightly", "0 3 * * *")]
    assert schedules[0]["next_run"].endswith("03:00:00+00:00")
    _, out, _ = await asyncio.to_thread(cli, capsys, "schedules")
    assert "cron 0 3 * * *" in out

    async with JobQueue(RedisJobBroker(env, registry=jobs())) as queue:
        slow = await queue.enqueue("slow", {})
        async with run_worker(RedisJobBroker(env, registry=jobs())):
            for _ in range(300):
                found = await inspector.workers()
                if found and found[0].running:
                    break
                await asyncio.sleep(0.01)
            workers = await asyncio.to_thread(cli_json, capsys, "workers")
            assert [j["id"] for j in workers[0]["running"]] == [slow.id]
            assert workers[0]["pid"] == os.getpid()
            _, out, _ = await asyncio.to_thread(cli, capsys, "workers", "--queue", "low")
            assert slow.id in out


async def test_actions(inspector: Inspector, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await asyncio.to_thread(cli, capsys, "run", "r0", "--queue", "default")
    assert (status, out) == (0, "run: r0\n")
    status, out, _ = await asyncio.to_thread(cli, capsys, "kill", "r0")
    assert (status, out) == (0, "kill: r0\n")
    status, _, err = await asyncio.to_thread(cli, capsys, "delete", "nope", "--queue", "default")
    assert (status, err) == (1, "no such job waiting: 'nope'\n")

    sys.stdin = io.StringIO("n\n")
    try:
        status, _, err = await asyncio.to_thread(
            cli, capsys, "run", "--state", "dead", "--queue", "default"
        )
    finally:
        sys.stdin = sys.__stdin__
    assert status == 1
    assert "run the dead jobs of queue default?" in err
    assert err.endswith("aborted\n")

    result = await asyncio.to_thread(
        cli_json, capsys, "kill", "--state", "scheduled", "--queue", "default", "--yes"
    )
    assert result[0]["done"] == 1
    groups = {g.message: g for g in await inspector.error_groups("default")}
    assert set(groups) == {"row <n> is broken", "killed by an operator"}
    group = groups["row <n> is broken"].id
    status, out, _ = await asyncio.to_thread(cli, capsys, "run", "--group", group, "--yes")
    assert out == "run: 4 jobs in default (4 examined)\n"
    status, out, _ = await asyncio.to_thread(
        cli, capsys, "delete", "r1", "r2", "--type", "row", "--yes"
    )
    assert out == "delete: 2 jobs in default (2 examined)\n"
    status, out, _ = await asyncio.to_thread(
        cli, capsys, "delete", "--state", "pending", "--queue", "default", "-y"
    )
    assert out.startswith("delete: 2 jobs in default")

    status, out, _ = await asyncio.to_thread(cli, capsys, "pause", "low")
    assert (status, out) == (0, "paused: low\n")
    assert (await inspector.queue_info(["low"], memory=False))[0].paused
    status, out, _ = await asyncio.to_thread(cli, capsys, "resume", "low")
    assert (status, out) == (0, "resumed: low\n")
    assert not (await inspector.queue_info(["low"], memory=False))[0].paused

    status, out, _ = await asyncio.to_thread(cli, capsys, "regroup", "default")
    assert (status, out) == (0, "regroup: 0 jobs filed\n")


async def test_delete_queue(inspector: Inspector, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = await asyncio.to_thread(cli, capsys, "delete-queue", "default", "--yes")
    assert status == 2
    assert err == (
        "error: queue 'default' holds 5 jobs; delete them with it with force=True "
        "(jobqueue delete-queue --force)\n"
    )
    status, out, _ = await asyncio.to_thread(
        cli, capsys, "delete-queue", "default", "--force", "--yes"
    )
    assert (status, out) == (0, "deleted queue default (5 jobs)\n")


def test_bad_input_is_one_line(env: QueueSettings, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, text in [
        (["jobs", "default", "bogus"], "error: Invalid value for 'STATE'"),
        (["jobs", "nowhere", "dead"], "error: unknown queue 'nowhere'"),
        (["run", "--queue", "default"], "error: give job ids, or --state, or --group"),
        (["run", "--state", "pending", "--queue", "default", "--yes"], "error: run takes jobs"),
        (["frobnicate"], "error: No such command 'frobnicate'"),
    ]:
        status, out, err = cli(capsys, *argv)
        assert status == 2, argv
        assert err.startswith(text), err
        assert err.count("\n") == 1
        assert "Traceback" not in err
    status, out, _ = cli(capsys, "--version")
    assert (status, out) == (0, "jobqueue 0.1.0\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_command(inspector: Inspector, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    done: list[int] = []
    thread = threading.Thread(
        target=lambda: done.append(main(["metrics", "--port", str(port), "--addr", "127.0.0.1"]))
    )
    thread.start()
    try:
        text = ""
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
        assert 'jobqueue_queue_jobs{queue="default",state="dead"} 4.0' in text
        assert "jobqueue_up 1.0" in text
    finally:
        STOP.set()
        thread.join(10)
    assert done == [0]


def test_a_real_process_with_json(
    env: QueueSettings, jobqueue_redis_url: str, settings: QueueSettings
) -> None:
    environment = {
        "QUEUE_URL": jobqueue_redis_url,
        "QUEUE_KEY_PREFIX": settings.key_prefix,
        "PATH": os.environ.get("PATH", ""),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "jobqueue", "queues", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    document = json.loads(done.stdout)
    assert [q["queue"] for q in document] == ["critical", "default", "low"]
    assert set(document[0]) >= {"pending", "latency", "memory_bytes", "processed_total"}
    assert time.monotonic() - started < 60


async def test_bulk_actions_show_progress_on_large_sets(
    env: QueueSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with JobQueue(RedisJobBroker(env)) as queue:
        await queue.enqueue_many(("any", {"n": n}) for n in range(1200))
        status, out, err = await asyncio.to_thread(
            cli, capsys, "delete", "--state", "pending", "--queue", "default", "--yes"
        )
    assert (status, out) == (0, "delete: 1200 jobs in default (1200 examined)\n")
    assert "delete default" in err  # the progress bar's label


async def test_cancel_a_waiting_job_from_the_command_line(
    inspector: Inspector, capsys: pytest.CaptureFixture[str]
) -> None:
    later = (await inspector.jobs("default", "scheduled"))[0]
    status, out, _ = await asyncio.to_thread(cli, capsys, "cancel", later.id, "--json")
    assert status == 0
    assert json.loads(out) == {"cancelled": {later.id: "cancelled"}}
    record = await inspector.job(later.id)
    assert record is not None
    assert (record.state, record.error) == ("cancelled", "cancelled")
    status, out, _ = await asyncio.to_thread(cli, capsys, "cancel", later.id, "missing-id")
    assert status == 1  # nothing left to cancel
    assert f"{later.id}  finished" in out
    assert "missing-id  not_found" in out
