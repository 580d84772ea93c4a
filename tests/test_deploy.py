"""The shipped Grafana dashboard and Prometheus rules name only metrics that jobqueue exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from jobqueue import QueueSettings
from jobqueue._attempt import Delivery, Outcome, OutcomeKind
from jobqueue.metrics import RedisCollector, WorkerMetrics

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NAME = re.compile(r"\bjobqueue_[a-z_]+")


def exported(settings: QueueSettings) -> set[str]:
    registry = CollectorRegistry()
    collector = RedisCollector(settings)
    registry.register(collector)
    worker = WorkerMetrics(registry)
    delivery = Delivery(id="j", queue="default", token="1", raw=b"", started_at=0.0)
    worker.observe(delivery, Outcome(OutcomeKind.COMPLETE))
    try:
        text = generate_latest(registry).decode()
    finally:
        collector.close()
    return set(NAME.findall(text))


def test_dashboard_and_rules_use_real_metrics(settings: QueueSettings) -> None:
    names = exported(settings)
    dashboard = json.loads((DEPLOY / "grafana" / "jobqueue-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "jobqueue-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    exprs += [rule["expr"] for rule in alerts]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used
    assert used <= names, used - names
    assert {rule["alert"] for rule in alerts} >= {
        "JobqueueLatencyHigh",
        "JobqueueDeadJobsGrowing",
        "JobqueueNoWorkers",
    }
    assert all(rule["annotations"]["summary"] for rule in alerts)
