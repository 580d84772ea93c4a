"""The dashboard in a real browser (Chromium through Playwright) against the suite's Redis and a
real worker process: sizes that change while jobs run, an error group retried, a job killed and
one cancelled, a queue paused, a job found by id, and payloads shown as text.

Playwright cannot download its own browser here: the tests drive Debian's Chromium
(`apt-get install chromium`) and skip without it. Each page is saved as a screenshot, into
`docs/images/` when `JOBQUEUE_SCREENSHOTS=1` (that is how the documentation's are made), else
into the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from taskiq import ScheduledTask
from tests.dashboard_support import Backstage, Served, WorkerProcess, wait_until

from jobqueue import EnqueueOptions, QueueSettings
from jobqueue.redis import RedisScheduleSource
from jobqueue.web import dashboard

CHROMIUM = Path("/usr/bin/chromium")
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
QUEUES = {"critical": 6, "default": 3, "low": 1, "emails": 2, "reports": 1, "webhooks": 2}

if not CHROMIUM.exists():
    pytest.skip(
        "the browser tests need Chromium at /usr/bin/chromium: apt-get install chromium",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = sync_api.expect


@dataclass
class Lab:
    """The dashboard, the test's own queue and inspector, and a real worker, for this module."""

    backstage: Backstage
    url: str
    worker: WorkerProcess

    def enqueue(self, queue: str, job_type: str, payload: Any, delay: float = 0) -> str:
        options = EnqueueOptions(queue=queue)
        if delay:
            job = self.backstage.queue.enqueue_with_delay(job_type, payload, delay)
            assert queue == "default"
            return self.backstage.run(job).id
        return self.backstage.run(
            self.backstage.queue.enqueue_with_options(job_type, payload, options)
        ).id

    def info(self, queue: str) -> Any:
        (found,) = self.backstage.run(self.backstage.inspector.queue_info([queue], memory=False))
        return found

    def started(self) -> list[str]:
        raw = self.backstage.run(
            self.backstage.broker.client.lrange(self.backstage.key("started"), 0, -1)
        )
        return [r.decode() for r in raw]


@pytest.fixture(scope="module")
def lab(jobqueue_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    settings = QueueSettings(
        url=SecretStr(jobqueue_redis_url),
        key_prefix=f"test-{uuid.uuid4().hex[:12]}",
        queues=QUEUES,
        lease_timeout=2.0,
        recovery_interval=0.5,
        shutdown_timeout=2.0,
        poll_interval=0.02,
        concurrency=4,
        prefetch=0,
        completed_retention=3600,
    )
    backstage = Backstage(settings)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(settings, jobqueue_redis_url, log)
    try:
        worker.wait_ready(backstage)
        with Served(dashboard(settings, refresh=0.5)) as served:
            yield Lab(backstage, served.url, worker)
    finally:
        worker.stop()
        backstage.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    context = browser.new_context(base_url=lab.url, viewport={"width": 1360, "height": 820})
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())  # the confirmations of actions
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        yield opened
        assert errors == [], errors  # no script error, nothing the CSP had to block
    finally:
        context.close()


def shot(page: Any, name: str, tmp_path: Path) -> None:
    folder = IMAGES if os.environ.get("JOBQUEUE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"dashboard-{name}.png"), full_page=True)


def test_the_overview_shows_sizes_change_while_jobs_run(
    page: Any, lab: Lab, tmp_path: Path
) -> None:
    inspector = lab.backstage.inspector
    lab.backstage.run(inspector.pause("reports"))
    for n in range(12):
        lab.enqueue("reports", "sleep", {"name": f"report-{n}", "seconds": 0.6})
    page.goto("/")
    row = page.locator('tr[data-queue="reports"]')
    expect(row.locator('td[data-state="pending"]')).to_have_text("12")
    expect(row.locator(".badge.paused")).to_be_visible()
    page.evaluate("window.__samePage = true")
    lab.backstage.run(inspector.resume("reports"))
    expect(row.locator('td[data-state="active"]')).not_to_have_text("0", timeout=15_000)
    expect(row.locator(".badge.paused")).to_have_count(0)
    expect(row.locator('td[data-state="pending"]')).to_have_text("0", timeout=20_000)
    expect(row.locator('td[data-state="completed"]')).to_have_text("12", timeout=20_000)
    assert page.evaluate("window.__samePage") is True  # refreshed in place, never reloaded
    expect(page.locator("figure.chart rect.processed").last).not_to_have_attribute("height", "0.0")
    shot(page, "overview", tmp_path)


def test_an_error_group_is_retried_and_its_jobs_complete(
    page: Any, lab: Lab, tmp_path: Path
) -> None:
    client = lab.backstage.broker.client
    lab.backstage.run(client.set(lab.backstage.key("broken"), 1))
    ids = [
        lab.enqueue(
            "emails",
            "fail",
            {"name": f"mail-{n}", "message": f"SMTP server 'mx{n}' refused: 421 busy"},
        )
        for n in range(3)
    ]
    wait_until(lambda: lab.info("emails").dead == 3, "the failing jobs to be dead")
    page.goto("/errors?queue=emails")
    group = page.locator("tr[data-group]")
    expect(group).to_have_count(1)
    expect(group.locator("td.num").first).to_have_text("3")
    expect(group).to_contain_text("RuntimeError")
    group.locator("summary").click()
    shot(page, "errors", tmp_path)
    page.goto(f"/job/emails/{ids[0]}")
    expect(page.locator("#job-state")).to_have_text("dead")
    expect(page.locator("#error")).to_contain_text("refused")

    lab.backstage.run(client.delete(lab.backstage.key("broken")))  # the outage is over
    page.goto("/errors?queue=emails")
    page.locator("tr[data-group]").get_by_role("button", name="Run all").click()
    expect(page.locator(".flash")).to_contain_text("3 of 3 jobs changed")
    page.goto("/")
    completed = page.locator('tr[data-queue="emails"] td[data-state="completed"]')
    expect(completed).to_have_text("3", timeout=20_000)
    assert {lab.backstage.state(i) for i in ids} == {"completed"}
    page.goto("/errors?queue=emails")
    expect(page.locator("tr[data-group]")).to_have_count(0)


def test_a_job_found_by_id_is_killed_from_its_page(page: Any, lab: Lab, tmp_path: Path) -> None:
    payload = {"name": "later", "invoice": 1042, "notify": ["ada@example.com"], "seconds": 1}
    job = lab.enqueue("default", "sleep", payload, delay=3600)
    page.goto("/workers")
    page.get_by_role("searchbox", name="Job id").fill(job)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(f"/job/default/{job}$"))
    expect(page.locator("#job-state")).to_have_text("scheduled")
    shot(page, "job", tmp_path)  # (a failed job's traceback would show this machine's paths)
    page.get_by_role("button", name="Kill (to dead)").click()
    expect(page.locator(".flash")).to_contain_text("moved to dead")
    expect(page.locator("#job-state")).to_have_text("dead")
    assert lab.backstage.state(job) == "dead"
    page.get_by_role("searchbox", name="Job id").fill("no-such-job")
    page.get_by_role("searchbox", name="Job id").press("Enter")
    expect(page.locator("#missing")).to_contain_text("no-such-job")


def test_a_paused_queue_is_not_fetched_from(page: Any, lab: Lab, tmp_path: Path) -> None:
    page.goto("/queues/webhooks/pending")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("h1 .badge.paused")).to_be_visible()
    assert lab.info("webhooks").paused
    names = [f"hook-{n}" for n in range(3)]
    for name in names:
        lab.enqueue("webhooks", "sleep", {"name": name})
    time.sleep(1.5)  # many fetch rounds of the worker
    assert not set(names) & set(lab.started())
    page.reload()
    expect(page.locator("tr[data-job]")).to_have_count(3)
    shot(page, "queue", tmp_path)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge.paused")).to_have_count(0)
    wait_until(lambda: lab.info("webhooks").completed == 3, "the resumed queue's jobs to run")
    assert set(names) <= set(lab.started())


def test_selected_jobs_and_a_whole_state_are_acted_on(page: Any, lab: Lab) -> None:
    lab.backstage.run(lab.backstage.inspector.pause("low"))
    ids = [lab.enqueue("low", "sleep", {"name": f"low-{n}"}) for n in range(5)]
    page.goto("/queues/low/pending")
    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_be_disabled()  # nothing selected yet
    page.get_by_label(f"Select {ids[0]}").check()
    page.get_by_label(f"Select {ids[1]}").check()
    delete.click()
    expect(page.locator(".flash")).to_contain_text("2 of 2 jobs changed")
    assert lab.backstage.state(ids[0]) is None
    assert lab.info("low").pending == 3
    page.get_by_role("button", name="Kill all").click()
    expect(page.locator(".flash")).to_contain_text("3 of 3 jobs changed")
    assert {lab.backstage.state(i) for i in ids[2:]} == {"dead"}
    lab.backstage.run(lab.backstage.inspector.resume("low"))


def test_a_running_job_is_cancelled_and_workers_show_it(
    page: Any, lab: Lab, tmp_path: Path
) -> None:
    job = lab.enqueue("critical", "sleep", {"name": "long", "seconds": 60})
    page.goto("/workers")
    expect(page.locator("tr[data-worker]")).to_have_count(1)
    expect(page.locator("tr[data-worker]")).to_contain_text(job, timeout=15_000)
    shot(page, "workers", tmp_path)
    page.locator("tr[data-worker]").get_by_role("link", name=job).click()
    expect(page.locator("#job-state")).to_have_text("active")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".flash")).to_contain_text("stopping")
    wait_until(lambda: lab.backstage.state(job) == "cancelled", "the job to stop", seconds=20)
    page.reload()
    expect(page.locator("#job-state")).to_have_text("cancelled")


def test_payloads_and_errors_show_as_text(page: Any, lab: Lab) -> None:
    client = lab.backstage.broker.client
    lab.backstage.run(client.set(lab.backstage.key("broken"), 1))
    job = lab.enqueue("webhooks", "fail", {"name": "xss", "message": XSS, "html": XSS})
    wait_until(lambda: lab.backstage.state(job) == "dead", "the job to fail")
    lab.backstage.run(client.delete(lab.backstage.key("broken")))
    page.goto(f"/job/webhooks/{job}")
    expect(page.locator("#payload")).to_contain_text("<script>window.__xss = 1</script>")
    expect(page.locator("#error")).to_contain_text('<img src=x onerror="window.__xss = 2">')
    assert page.locator("main script, main img").count() == 0
    for path in (f"/job/webhooks/{job}", "/queues/webhooks/dead", "/errors?queue=webhooks"):
        page.goto(path)
        expect(page.locator("main")).to_contain_text("<script>window.__xss = 1</script>")
        assert page.evaluate("typeof window.__xss") == "undefined", path


def test_schedules_and_the_redis_page(page: Any, lab: Lab, tmp_path: Path) -> None:
    source = RedisScheduleSource(lab.backstage.broker)
    daily = ScheduledTask(
        schedule_id="daily-report",
        task_name="sleep",
        labels={"queue": "reports"},
        args=[{"name": "daily"}],
        kwargs={},
        cron="0 6 * * *",
    )
    often = ScheduledTask(
        schedule_id="sync-often", task_name="sleep", labels={}, args=[{}], kwargs={}, interval=300
    )
    lab.backstage.run(source.add_schedule(daily))
    lab.backstage.run(source.add_schedule(often))
    page.goto("/schedules")
    expect(page.locator("main")).to_contain_text("cron 0 6 * * *")
    expect(page.locator("main")).to_contain_text("every 5 min")
    shot(page, "schedules", tmp_path)
    page.goto("/redis")
    version = lab.backstage.run(lab.backstage.broker.client.info("server"))["redis_version"]
    expect(page.locator("#redis-version")).to_contain_text(version)
    shot(page, "redis", tmp_path)
