"""What the queue's Redis server itself reports: memory per stored job and commands per job.

- `used_memory` (INFO memory) with a settle wait, and a `MEMORY USAGE` breakdown of the stored keys
  grouped by key pattern (ids replaced by `*`), for the memory phase;
- `CommandWatch`: snapshots of `INFO all` (commandstats, `total_commands_processed`,
  `total_reads_processed`) paired with a MONITOR feed that counts the commands run inside Lua
  scripts (MONITOR shows them as `[<db> lua]`), so each window splits into commands the clients
  sent and commands the server executed, scripts' inner calls included.

Redis 7.0 counts a script's inner calls both in their own `cmdstat_<name>` and in
`total_commands_processed`: neither alone says what the clients sent. MONITOR does not show
administrative commands (CLIENT, CONFIG, ...), so it is used only for the inner calls, and the
executed counts come from commandstats.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

# -- memory --------------------------------------------------------------------------------------


def used_memory(r: redis.Redis) -> dict[str, int]:
    info = r.info("memory")
    return {"used_memory": int(info["used_memory"]), "dataset": int(info["used_memory_dataset"])}


def settled_memory(r: redis.Redis, interval: float = 0.1, timeout: float = 3.0) -> dict[str, int]:
    """`used_memory` once two reads `interval` apart agree (a dict rehash in progress holds two
    tables for a moment), or the last read after `timeout`."""
    deadline = time.monotonic() + timeout
    last = used_memory(r)
    while True:
        time.sleep(interval)
        now = used_memory(r)
        if now["used_memory"] == last["used_memory"] or time.monotonic() > deadline:
            return now
        last = now


_ID = re.compile(r"[0-9A-Fa-f][0-9A-Fa-f-]{15,}|(?<![A-Za-z])\d+(?![A-Za-z])")


def key_pattern(key: str) -> str:
    """A key with its ids (hex or uuid runs of 16+ characters, numbers) replaced by `*`."""
    return _ID.sub("*", key)


def key_breakdown(r: redis.Redis, jobs: int, top: int = 8) -> dict[str, Any]:
    """Every key of `r`'s DB grouped by pattern: count, type, `MEMORY USAGE ... SAMPLES 0` bytes
    (the value, the key and its dict entry; not the expires entry nor the main table's share),
    largest groups first, per job as well."""
    groups: dict[str, dict[str, Any]] = {}
    batch: list[bytes] = []

    def flush() -> None:
        pipe = r.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
            pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
        replies = pipe.execute()
        for key, kind, size in zip(batch, replies[::2], replies[1::2], strict=True):
            name = key_pattern(key.decode(errors="replace"))
            g = groups.setdefault(name, {"keys": 0, "type": set(), "bytes": 0})
            g["keys"] += 1
            g["type"].add(kind.decode() if isinstance(kind, bytes) else str(kind))
            g["bytes"] += int(size or 0)
        batch.clear()

    for key in r.scan_iter(count=1000):
        batch.append(key)
        if len(batch) >= 500:
            flush()
    if batch:
        flush()
    ordered = sorted(groups.items(), key=lambda kv: -kv[1]["bytes"])
    out: dict[str, Any] = {}
    for name, g in ordered[:top]:
        out[name] = {
            "keys": g["keys"],
            "type": ",".join(sorted(g["type"])),
            "bytes": g["bytes"],
            "bytes_per_job": g["bytes"] / jobs,
        }
    rest = ordered[top:]
    if rest:
        out["(other patterns)"] = {
            "keys": sum(g["keys"] for _, g in rest),
            "patterns": len(rest),
            "bytes": sum(g["bytes"] for _, g in rest),
            "bytes_per_job": sum(g["bytes"] for _, g in rest) / jobs,
        }
    return out


# -- commands ------------------------------------------------------------------------------------

# Container commands: commandstats names their subcommands `name|sub`.
_CONTAINERS = frozenset(
    {
        *("acl", "client", "cluster", "command", "config", "function", "latency", "memory"),
        *("module", "object", "pubsub", "script", "slowlog", "xgroup", "xinfo"),
    }
)


class _Monitor(threading.Thread):
    """Reads a MONITOR feed; counts the commands run inside scripts, by name, and notes the count
    at each `INFO all` line sent from `marker_addr`."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(daemon=True, name="bench-monitor")
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(b"MONITOR\r\n")
        self.buf = b""
        while b"\r\n" not in self.buf:  # +OK: the feed has begun before any snapshot is taken
            data = self.sock.recv(4096)
            if not data:
                raise OSError("MONITOR: connection closed")
            self.buf += data
        ok, self.buf = self.buf.split(b"\r\n", 1)
        if ok != b"+OK":
            raise OSError(f"MONITOR: {ok.decode(errors='replace')}")
        self.lua: Counter[str] = Counter()
        self.lines = 0
        self.marker_addr = b"\0"  # set to b" <host:port>" of the snapshot connection
        self.marks: list[Counter[str]] = []
        self.cond = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        buf, self.buf = self.buf, b""
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\r\n")
                for line in lines:
                    self._line(line)
        except OSError as exc:
            self.error = exc
        finally:
            with self.cond:
                self.cond.notify_all()

    def _line(self, line: bytes) -> None:
        self.lines += 1
        # +1716000000.123456 [0 lua] "incr" "key"    /    [0 127.0.0.1:5000] "INFO" "all"
        close = line.find(b"] ")
        if close < 0:
            return
        where = line[line.find(b"[") + 1 : close]
        args = line[close + 2 :]
        if where.endswith(b" lua"):
            parts = args.split(b'"')
            name = parts[1].decode().lower() if len(parts) > 1 else "?"
            if name in _CONTAINERS and len(parts) > 3:
                name = f"{name}|{parts[3].decode().lower()}"
            self.lua[name] += 1
        elif where.endswith(self.marker_addr) and args == b'"INFO" "all"':
            with self.cond:
                self.marks.append(Counter(self.lua))
                self.cond.notify_all()

    def mark(self, index: int, timeout: float) -> Counter[str]:
        """The inner-call counts at the `index`-th marker (0-based), once the feed reached it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.marks) <= index:
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None or not self.is_alive():
                    raise TimeoutError(f"MONITOR feed did not reach marker {index}")
                self.cond.wait(left)
            return self.marks[index]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass
class Snapshot:
    index: int
    jobs: float
    """The job counter at the snapshot (mean of the reads just before and after it)."""
    at: float
    executed: Counter[str]
    rejected: Counter[str]
    inner: Counter[str]
    total_processed: int
    reads: int


@dataclass
class Window:
    """The commands between two snapshots, with the harness's own INFO calls taken out."""

    jobs: float
    seconds: float
    executed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    """Sent but refused before running (unknown command, wrong arity, ...): sent, not executed."""
    inner: Counter[str] = field(default_factory=Counter)
    total_processed: int = 0
    reads: int = 0

    @property
    def sent(self) -> Counter[str]:
        out = Counter(self.executed)
        out.subtract(self.inner)
        out.update(self.rejected)
        return Counter({k: v for k, v in out.items() if v > 0})

    def n_executed(self) -> int:
        return sum(self.executed.values())

    def n_inner(self) -> int:
        return sum(self.inner.values())

    def n_sent(self) -> int:
        return self.n_executed() - self.n_inner() + sum(self.rejected.values())

    def per_job(self, top: int = 10) -> dict[str, Any]:
        jobs = self.jobs or float("nan")

        def table(counts: Counter[str]) -> dict[str, float]:
            return {k: round(v / jobs, 3) for k, v in counts.most_common(top)}

        return {
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "sent": self.n_sent() / jobs,
            "executed": self.n_executed() / jobs,
            "inside_scripts": self.n_inner() / jobs,
            "rejected": sum(self.rejected.values()) / jobs,
            "total_commands_processed": self.total_processed / jobs,
            "client_reads": self.reads / jobs,
            "top_sent": table(self.sent),
            "top_executed": table(self.executed),
            "top_inside_scripts": table(self.inner),
        }


class CommandWatch:
    """Snapshots of the server's command counters; one `INFO all` per snapshot, which the next
    snapshot's window subtracts (it is the only command the harness sends to this server)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.r = redis.Redis.from_url(url, single_connection_client=True)
        addr = self.r.client_info()["addr"]  # connects now: its handshake precedes every window
        kwargs = self.r.connection_pool.connection_kwargs
        self.monitor = _Monitor(kwargs.get("host", "127.0.0.1"), int(kwargs.get("port", 6379)))
        self.monitor.marker_addr = b" " + addr.encode()
        self.monitor.start()
        self.timeout = timeout
        self.snapshots: list[Snapshot] = []

    def snapshot(self, jobs: Any = None) -> Snapshot:
        """Now; `jobs` is a callable returning the job counter (read before and after), or a
        number."""
        before = jobs() if callable(jobs) else jobs
        info = self.r.info("all")
        after = jobs() if callable(jobs) else jobs
        index = len(self.snapshots)
        inner = self.monitor.mark(index, self.timeout)
        stats = {k.removeprefix("cmdstat_"): v for k, v in info.items() if k.startswith("cmdstat_")}
        executed = Counter({k: int(v["calls"]) for k, v in stats.items()})
        rejected = Counter({k: int(v.get("rejected_calls", 0)) for k, v in stats.items()})
        snap = Snapshot(
            index=index,
            jobs=((before or 0) + (after or 0)) / 2,
            at=time.monotonic(),
            executed=executed,
            rejected=rejected,
            inner=inner,
            total_processed=int(info["total_commands_processed"]),
            reads=int(info["total_reads_processed"]),
        )
        self.snapshots.append(snap)
        return snap

    @staticmethod
    def window(a: Snapshot, b: Snapshot, jobs: float | None = None) -> Window:
        """From `a` to `b`; `jobs` defaults to the counter's change between them."""
        ours = b.index - a.index  # the harness's INFO calls counted in b but not in a
        executed = Counter(b.executed)
        executed.subtract(a.executed)
        executed["info"] -= ours
        rejected = Counter(b.rejected)
        rejected.subtract(a.rejected)
        inner = Counter(b.inner)
        inner.subtract(a.inner)
        return Window(
            jobs=b.jobs - a.jobs if jobs is None else jobs,
            seconds=b.at - a.at,
            executed=Counter({k: v for k, v in executed.items() if v > 0}),
            rejected=Counter({k: v for k, v in rejected.items() if v > 0}),
            inner=Counter({k: v for k, v in inner.items() if v > 0}),
            total_processed=b.total_processed - a.total_processed - ours,
            reads=b.reads - a.reads - ours,
        )

    def close(self) -> None:
        self.monitor.close()
        self.r.close()
