"""The chaos suite's harness: its log scan and timings, and one short run of a real scenario.

The run (marked `chaos`; deselect with `-m 'not chaos'`) checks that the harness works end to
end and reports figures, not that jobqueue keeps its promises: `python -m chaos` is the gate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.harness import recovery_times, scan_log

ROOT = Path(__file__).resolve().parent.parent
CHAOS = (sys.executable, "-m", "chaos", "--quick")

LOG = """\
[t][taskiq.receiver.receiver][ERROR  ][worker-0] Exception found while executing function.
Traceback (most recent call last):
  File "/x/jobqueue/receiver.py", line 1, in _execute
    raise SystemExit(message)
SystemExit: chaos-deliberate: SystemExit raised by job j1
[t][jobqueue.redis][ERROR  ][worker-0] acknowledging job j2 failed; it will be recovered
Traceback (most recent call last):
  File "/x/jobqueue/redis/batcher.py", line 1, in _drain
    raise ConnectionError
redis.exceptions.ConnectionError: connection to Redis lost: closed
Process worker-0:
Traceback (most recent call last):
  File "/x/jobqueue/redis/lane.py", line 1, in _connect
    raise OSError
OSError: refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/x/jobqueue/receiver.py", line 1, in listen
    await broker.fetch()
  File "/x/jobqueue/redis/broker.py", line 1, in fetch
    raise ConnectionError
redis.exceptions.ConnectionError: could not connect to Redis
[t][taskiq.process-manager][INFO   ][MainProcess] worker-0 is dead. Scheduling reload.
"""


def test_log_scan_tells_crashes_from_errors_and_deliberate_raises() -> None:
    scan = scan_log(LOG, marker="j2 failed")
    assert scan.dead_lines == 1
    assert scan.crash_exceptions == [
        "redis.exceptions.ConnectionError: could not connect to Redis "
        "[in receiver.listen > redis/broker.fetch]"
    ]
    assert scan.deliberate_tracebacks == 1
    assert scan.tracebacks == {
        "redis.exceptions.ConnectionError: connection to Redis lost: closed": 1
    }
    assert scan.failed_acks == {"j2"}
    assert scan.error_lines == {"taskiq.receiver.receiver": 1, "jobqueue.redis": 1}
    assert scan.marker_lines == 1


def test_recovery_is_half_the_rate_within_a_second_or_the_last_completion() -> None:
    # Rate 10/s: recovered once 5 completions land within 1 s, all after the fault's end (t=10).
    done = [9.0, 10.5, 11.8, 12.0, 12.1, 12.2, 12.3, 14.0]
    assert recovery_times(done, 10.0, 10) == pytest.approx((2.3, 4.0))
    # Too few completions to fill a window: recovery is the last completion.
    assert recovery_times([10.2, 11.0], 10.0, 10) == pytest.approx((1.0, 1.0))
    assert recovery_times(done, None, 10) == (None, None)


@pytest.mark.chaos
def test_quick_run_of_a_scenario_reports_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    run = subprocess.run(
        [*CHAOS, "--only", "unique-races", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 2: the harness itself failed
    report = json.loads(out.read_text())
    rows = {row["name"]: row for row in report["scenarios"]}
    assert set(rows) == {"unique-races"}
    row = rows["unique-races"]
    assert row["details"]["workers"]["processes"] == 1  # one real worker ran the stored jobs
    assert row["jobs_in"] >= 1
    assert (run.returncode == 0) == row["passed"]
    assert "unique-races" in run.stdout
