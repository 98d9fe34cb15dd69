"""``otel-obs serve`` as a real subprocess on free loopback ports, and store comparisons."""

from __future__ import annotations

import json
import math
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ANNOUNCE = re.compile(r"gRPC on (?P<grpc>\S+), HTTP on (?P<http>http://\S+/v1/traces)")


class Served:
    """A running ``otel-obs serve`` (ports chosen by the OS) and the store it fills."""

    def __init__(
        self,
        db: Path | str,
        *args: str,
        env: dict[str, str] | None = None,
        max_rss_mib: int | None = None,
        nofile: int | None = None,
    ) -> None:
        """``max_rss_mib``: a watchdog kills the server past this resident size (the test
        then fails, see :meth:`check`); ``nofile``: the server's file limit."""
        self.db = db

        def limits() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        # A PostgreSQL URL (with its password) goes through the environment.
        url = str(db) if str(db).startswith("postgresql://") else None
        env = {**(env or {}), "OTEL_OBS_DB": url} if url else env
        store_args = [] if url else ["--db", str(db)]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otel_obs",
                "serve",
                *store_args,
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=limits if nofile is not None else None,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = ANNOUNCE.search(line)
        if match is None:
            self.proc.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.stderr.read()!r}")
        self.grpc = match["grpc"]
        self.http = match["http"]
        self.counts: dict[str, Any] | None = None
        self.rss_mib = self.peak_rss_mib = rss_mib(self.proc.pid)
        #: Why the watchdog killed the server (None while it has not).
        self.tripped: str | None = None
        if max_rss_mib is not None:
            threading.Thread(target=self._watch, args=(max_rss_mib,), daemon=True).start()

    def _watch(self, limit_mib: int) -> None:
        while self.proc.poll() is None:
            now = rss_mib(self.proc.pid)
            self.peak_rss_mib = max(self.peak_rss_mib, now)
            if now > limit_mib:
                self.tripped = f"serve's resident memory reached {now} MiB (limit {limit_mib})"
                self.proc.kill()
                return
            time.sleep(0.02)

    def check(self) -> None:
        """Fail when the watchdog killed the server."""
        assert self.tripped is None, self.tripped
        assert self.proc.poll() is None, "serve exited"

    def stop(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """SIGTERM, wait, and return the counts it printed as it stopped."""
        if self.counts is not None:
            return self.counts
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout_s)
        assert self.proc.returncode == 0, err
        line = next(x for x in out.splitlines() if x.startswith("otel-obs serve: stopped"))
        self.counts = json.loads(line.split("stopped", 1)[1])
        return self.counts

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


def served_at_once(*stores: Sequence[Path | str]) -> list[Served]:
    """Several ``serve`` processes started together, so that their start-ups overlap: each
    of ``stores`` is a store and that server's other arguments. When one cannot start,
    the others are killed and its error raised."""
    with ThreadPoolExecutor(len(stores)) as pool:
        futures = [pool.submit(Served, db, *map(str, args)) for db, *args in stores]
    started = [f.result() for f in futures if f.exception() is None]
    for future in futures:
        error = future.exception()
        if error is not None:
            for served in started:
                served.kill()
            raise error
    return started


def rss_mib(pid: int) -> int:
    """A process's resident memory (``VmRSS``), in MiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) >> 10
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Columns the receiving store numbers itself (see exporters/writer.py).
ASSIGNED = {"transcript_entries": {"sequence"}}


class Close(float):
    """A float equal to any float within a millionth: derived means (wave_statistics) are
    sums taken in the order rows arrive, which differs between two stores in the last
    bits, and rounding both to a fixed number of digits still splits values that sit on
    either side of a rounding boundary."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, float):
            return NotImplemented
        return math.isclose(self, other, rel_tol=1e-9, abs_tol=1e-6)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = float.__hash__


def table_rows(db: Path, exclude: dict[str, set[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, without the excluded columns."""
    exclude = ASSIGNED if exclude is None else exclude
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out: dict[str, list[tuple]] = {}
        for table in sorted(tables):
            columns = [
                r[1]
                for r in conn.execute(f"PRAGMA table_info({table})")
                if r[1] not in exclude.get(table, set())
            ]
            rows = [
                tuple(Close(v) if isinstance(v, float) else v for v in row)
                for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
            ]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def wait_for(predicate, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def producer_spans(execution_id: str = "exec-serve", tools: int = 2, output: str = "ok") -> list:
    """Finished spans of a small run of the real producers (a task, tool uses, a decision)."""
    from producer_support import Traced

    from otel_obs import ToolUseLogger, TranscriptWriter

    traced = Traced()
    writer = TranscriptWriter(execution_id, "agent-1", pipeline=traced.pipeline)
    logger = ToolUseLogger(writer)
    with writer.task("T1", "serve me", action="UPDATE", file="src/a.py"):
        for n in range(tools):
            tid = logger.log_start(
                {"id": f"toolu_{execution_id}_{n}", "name": "Bash", "input": {"command": f"ls {n}"}}
            )
            logger.log_end(tid, {"tool_use_id": tid, "content": output, "is_error": False})
        writer.write({"entry_type": "decision", "summary": "go", "details": {"chosen": "a"}})
    writer.close()
    return traced.spans()


def protobuf_body(spans: list) -> bytes:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(spans).SerializeToString()


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def otlp_json(request: Any) -> bytes:
    """An ``ExportTraceServiceRequest`` as OTLP/JSON: protobuf's JSON form with hex ids
    (the specification's one difference)."""
    import base64

    from google.protobuf import json_format

    document = json_format.MessageToDict(request)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()
