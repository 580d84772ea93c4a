"""The dashboard over real HTTP against the suite's Redis: what is refused, and what is escaped.

Every refusal is checked twice: the status code, and the job still where it was (through the
inspector), so a refused POST is known to have changed nothing.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from tests.dashboard_support import Backstage, Served, wait_until

from jobqueue import EnqueueOptions, QueueSettings
from jobqueue.cli import main
from jobqueue.testing import RedisServer
from jobqueue.web import dashboard
from jobqueue.web._csrf import COOKIE, Csrf

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


@pytest.fixture
def backstage(settings: QueueSettings) -> Iterator[Backstage]:
    stage = Backstage(settings)
    try:
        yield stage
    finally:
        stage.close()


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _scheduled(backstage: Backstage, payload: Any = None) -> str:
    info = backstage.run(backstage.queue.enqueue_with_delay("sleep", payload or {}, 3600))
    return info.id


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    backstage: Backstage, settings: QueueSettings
) -> None:
    job = _scheduled(backstage)
    with Served(dashboard(settings)) as served, httpx.Client(base_url=served.url) as client:
        page = client.get(f"/job/default/{job}")
        assert page.status_code == 200
        token = _token(page.text)
        assert client.post(f"/job/default/{job}/act", data={"action": "kill"}).status_code == 403
        forged = {"action": "kill", "csrf_token": token[:-4] + "0000"}
        assert client.post(f"/job/default/{job}/act", data=forged).status_code == 403
        assert backstage.state(job) == "scheduled"
        for path in ("/queues/default/pause", f"/job/default/{job}/act"):
            assert client.post(path, data={"action": "delete"}).status_code == 403
        assert backstage.state(job) == "scheduled"
        assert not backstage.run(backstage.inspector.queue_info(["default"]))[0].paused

        # Another browser's token (its own cookie) does not work with this browser's cookie.
        with httpx.Client(base_url=served.url) as other:
            theirs = _token(other.get("/").text)
        stolen = {"action": "kill", "csrf_token": theirs}
        assert client.post(f"/job/default/{job}/act", data=stolen).status_code == 403
        assert backstage.state(job) == "scheduled"

        # With its own token the same POST goes through.
        done = client.post(f"/job/default/{job}/act", data={"action": "kill", "csrf_token": token})
        assert done.status_code == 303
        assert backstage.state(job) == "dead"


def test_read_only_shows_no_action_and_refuses_every_post(
    backstage: Backstage, settings: QueueSettings
) -> None:
    job = _scheduled(backstage)
    app = dashboard(settings, read_only=True, secret="known")
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        pages = ["/", f"/job/default/{job}", "/queues/default/scheduled", "/errors", "/workers"]
        for path in pages:
            page = client.get(path)
            assert page.status_code == 200, path
            assert 'method="post"' not in page.text, path
            assert "read-only" in page.text
        token = Csrf("known").token(client.cookies[COOKIE])  # a valid token: still refused
        posts = {
            f"/job/default/{job}/act": {"action": "delete"},
            "/queues/default/scheduled/act": {"op": "delete:all"},
            "/queues/default/pause": {},
        }
        for path, form in posts.items():
            response = client.post(path, data={**form, "csrf_token": token})
            assert response.status_code == 403, path
        assert backstage.state(job) == "scheduled"
        assert not backstage.run(backstage.inspector.queue_info(["default"]))[0].paused


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_authorize_false_refuses_reads_and_actions(
    backstage: Backstage, settings: QueueSettings, asynchronous: bool
) -> None:
    job = _scheduled(backstage)
    allowed = {"yes": False}

    def check(request: Request) -> bool:
        return allowed["yes"] and request.headers.get("x-user") == "ada"

    async def check_async(request: Request) -> bool:
        return check(request)

    app = dashboard(settings, authorize=check_async if asynchronous else check)
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        assert client.get("/").status_code == 403
        assert client.get(f"/job/default/{job}").status_code == 403
        assert client.get("/static/dashboard.js").status_code == 403
        allowed["yes"] = True
        assert client.get("/", headers={"x-user": "bob"}).status_code == 403
        page = client.get(f"/job/default/{job}", headers={"x-user": "ada"})
        assert page.status_code == 200
        token = _token(page.text)
        form = {"action": "kill", "csrf_token": token}
        refused = client.post(f"/job/default/{job}/act", data=form, headers={"x-user": "bob"})
        assert refused.status_code == 403
        assert backstage.state(job) == "scheduled"
        allowed["yes"] = False
        assert client.post(f"/job/default/{job}/act", data=form).status_code == 403
        assert backstage.state(job) == "scheduled"
        allowed["yes"] = True
        done = client.post(f"/job/default/{job}/act", data=form, headers={"x-user": "ada"})
        assert done.status_code == 303
        assert backstage.state(job) == "dead"


def test_basic_auth_challenges_without_the_password(
    backstage: Backstage, settings: QueueSettings
) -> None:
    job = _scheduled(backstage)
    app = dashboard(settings, basic_auth=("admin", "s3cret"))
    with Served(app) as served:
        with httpx.Client(base_url=served.url) as anonymous:
            refused = anonymous.get("/")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Basic ")
            assert anonymous.post("/queues/default/pause").status_code == 401
        with httpx.Client(base_url=served.url, auth=("admin", "wrong")) as wrong:
            assert wrong.get("/").status_code == 401
        with httpx.Client(base_url=served.url, auth=("admin", "s3cret")) as admin:
            token = _token(admin.get("/").text)
            form = {"action": "delete", "csrf_token": token}
            assert admin.post(f"/job/default/{job}/act", data=form).status_code == 303
    assert backstage.state(job) is None


def test_payloads_errors_and_filters_are_shown_as_text(
    backstage: Backstage, settings: QueueSettings
) -> None:
    job = _scheduled(backstage, {"html": XSS})
    with Served(dashboard(settings)) as served, httpx.Client(base_url=served.url) as client:
        html = client.get(f"/job/default/{job}").text
        assert "<script>window.__xss" not in html
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
        listed = client.get("/queues/default/scheduled", params={"error": XSS}).text
        assert "<script>window.__xss" not in listed
        assert "&lt;script&gt;" in listed
        missing = client.get("/search", params={"id": XSS})
        assert missing.status_code == 404
        assert "<img src=x" not in missing.text


def test_every_response_carries_the_security_headers(settings: QueueSettings) -> None:
    with Served(dashboard(settings)) as served, httpx.Client(base_url=served.url) as client:
        for path in ("/", "/static/dashboard.css", "/nowhere", "/queues/nope/pending"):
            response = client.get(path)
            assert response.headers["x-frame-options"] == "DENY", path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy
        assert client.get("/queues/nope/pending").status_code == 404
        assert client.get("/queues/default/sleeping").status_code == 404


def test_mounted_under_a_path_every_link_and_the_cookie_stay_under_it(
    backstage: Backstage, settings: QueueSettings
) -> None:
    job = _scheduled(backstage)
    app = FastAPI()
    app.mount("/ops/jobs", dashboard(settings))
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        page = client.get("/ops/jobs/queues/default/scheduled")
        assert page.status_code == 200
        links = re.findall(r' (?:href|src|action)="([^"]+)"', page.text)
        assert links
        assert [link for link in links if not link.startswith("/ops/jobs/")] == []
        assert f"/ops/jobs/job/default/{job}" in links
        assert "Path=/ops/jobs/" in page.headers["set-cookie"]
        assert client.get("/ops/jobs/static/dashboard.js").status_code == 200
        found = client.get("/ops/jobs/search", params={"id": job})
        assert found.status_code == 303
        assert found.headers["location"] == f"/ops/jobs/job/default/{job}"
        token = _token(page.text)
        form = {"op": "kill:selected", "id": job, "csrf_token": token}
        moved = client.post("/ops/jobs/queues/default/scheduled/act", data=form)
        assert moved.status_code == 303
        assert moved.headers["location"] == "/ops/jobs/queues/default/scheduled"
        assert backstage.state(job) == "dead"
        assert "1 of 1 jobs changed" in client.get(moved.headers["location"]).text


def test_a_queue_page_reads_one_page_and_links_the_next(
    backstage: Backstage, settings: QueueSettings
) -> None:
    ids = [backstage.run(backstage.queue.enqueue("sleep", {"n": n})).id for n in range(60)]
    ids.append(backstage.run(backstage.queue.enqueue_with_options("fail", {}, EnqueueOptions())).id)
    with Served(dashboard(settings)) as served, httpx.Client(base_url=served.url) as client:
        first = client.get("/queues/default/pending").text
        assert first.count('name="id" value=') == 25
        assert "offset=25" in first
        last = client.get("/queues/default/pending", params={"offset": 50}).text
        assert last.count('name="id" value=') == 11
        assert 'rel="next"' not in last
        only = client.get("/queues/default/pending", params={"type": "fail"}).text
        assert only.count('name="id" value=') == 1
        listed = re.findall(r'name="id" value="([^"]+)"', first)
        assert listed == ids[:25]  # oldest first
        newest = client.get("/queues/default/pending", params={"order": "newest"}).text
        assert re.findall(r'name="id" value="([^"]+)"', newest) == ids[::-1][:25]
        assert "order=newest&amp;offset=25" in newest  # the next page keeps the order


def test_the_redis_page_counts_without_scanning(
    backstage: Backstage, settings: QueueSettings
) -> None:
    for n in range(5):
        backstage.run(backstage.queue.enqueue("sleep", {"n": n}))
    server = backstage.run(backstage.inspector.server_info())
    info = backstage.run(backstage.broker.client.info("server"))
    assert server.version == info["redis_version"]
    assert server.stored_jobs == 5
    assert server.jobqueue_keys >= 3  # the queues set, the jobs hash, the pending list
    assert server.database_keys >= server.jobqueue_keys
    with Served(dashboard(settings)) as served, httpx.Client(base_url=served.url) as client:
        page = client.get("/redis").text
        assert f"{server.version} (" in page


def test_jobqueue_web_refuses_to_start_unprotected(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("JOBQUEUE_WEB_PASSWORD", raising=False)
    assert main(["web"]) == 2
    assert "JOBQUEUE_WEB_PASSWORD" in capsys.readouterr().err
    for argv in (["--read-only"], ["--no-auth"], []):
        assert main(["web", "--host", "0.0.0.0", *argv]) == 2
        err = capsys.readouterr().err
        assert "refusing to listen on 0.0.0.0 without a password" in err
        assert "JOBQUEUE_WEB_PASSWORD" in err
    monkeypatch.setenv("JOBQUEUE_WEB_PASSWORD", "s3cret")
    assert main(["web", "--host", "0.0.0.0", "--no-auth"]) == 2  # a password not used is none
    assert "refusing" in capsys.readouterr().err


def test_jobqueue_web_serves_the_dashboard_behind_basic_auth(
    backstage: Backstage, settings: QueueSettings, jobqueue_redis_url: str
) -> None:
    job = _scheduled(backstage)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "JOBQUEUE_"))}
    env.update(
        QUEUE_URL=jobqueue_redis_url,
        QUEUE_KEY_PREFIX=settings.key_prefix,
        JOBQUEUE_WEB_USER="ops",
        JOBQUEUE_WEB_PASSWORD="s3cret",
    )
    argv = [sys.executable, "-m", "jobqueue", "web", "--port", str(port), "--read-only"]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                return httpx.get(url).status_code == 401
            except httpx.ConnectError:
                return False

        wait_until(up, "jobqueue web to listen")
        page = httpx.get(f"{url}/job/default/{job}", auth=("ops", "s3cret"))
        assert page.status_code == 200
        assert job in page.text
        assert httpx.get(url, auth=("admin", "s3cret")).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)


def test_an_unreachable_redis_is_a_503_page_not_a_crash() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    app = dashboard(f"redis://127.0.0.1:{port}/0")
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        for path in ("/", "/errors", "/queues/default/pending"):
            page = client.get(path)
            assert page.status_code == 503, path
            assert "Redis cannot be reached" in page.text
        with RedisServer(port=port):  # Redis comes up: the next request starts the broker
            assert client.get("/").status_code == 200
        assert client.get("/").status_code == 503  # and down again
        with RedisServer(port=port):
            wait_until(lambda: client.get("/").status_code == 200, "the dashboard to reconnect")
