"""Redis stops with `SHUTDOWN NOSAVE` under a steady load and restarts on its append-only file.

The same run as `redis_kill`, but Redis exits on its own terms: it closes every client
connection first, and flushes its append-only file (NOSAVE skips only the RDB snapshot), so the
restarted server has every write.

Promise: as for the SIGKILL of Redis: no job lost, none completed twice, no worker process
exits, and the producer sees only transient errors.
"""

from __future__ import annotations

from chaos.harness import Context, ScenarioResult
from chaos.scenarios.redis_kill import run_outage

NAME = "redis-shutdown"
TITLE = "SHUTDOWN NOSAVE of Redis, restart on its AOF (same port)"
PROMISE = (
    "0 lost, 0 ran twice, 0 worker exits; the producer sees only transient errors during the outage"
)


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    return await run_outage(ctx, ScenarioResult(NAME, TITLE, PROMISE), "shutdown")
