"""``otel-obs serve`` under hostile clients, as a real subprocess on loopback.

What a client without the token, a slow one or an idle one can cost the server
is bounded: a watchdog kills the server past a resident-memory threshold
(``/proc``) and the test fails; CPU is read from ``/proc`` too. Every test
runs in a few seconds.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
import requests
from ingest_support import Served, count, cpu_seconds, producer_spans, protobuf_body, wait_for
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PROTOBUF = {"Content-Type": "application/x-protobuf"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TOKEN = {"Authorization": "Bearer s3cret"}


def _grpc_call(address: str, body: bytes, metadata=(), timeout: float = 10):
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])
    try:
        call = channel.unary_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
        )
        return call(body, metadata=metadata, timeout=timeout)
    finally:
        channel.close()


def _tools(db: Path) -> int:
    return count(db, "SELECT count(*) FROM tool_uses")


def _stopped(server: Served) -> dict:
    """The counts the server printed as it stopped; fails when the watchdog killed it."""
    if server.tripped:
        server.kill()
        raise AssertionError(server.tripped)
    return server.stop()


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"//{url}")
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_grpc_calls_without_the_token_are_refused_before_their_message_is_read(
    tmp_path: Path,
) -> None:
    """12 concurrent 15 MiB calls without the token: each used to be read whole (and
    held) before the token was checked; now the server does not grow by one of them."""
    server = Served(tmp_path / "g.db", "--token", "s3cret", max_rss_mib=600)
    try:
        before = server.rss_mib
        body = b"\x0a" * (15 << 20)
        codes: list[grpc.StatusCode] = []

        def call() -> None:
            try:
                _grpc_call(server.grpc, body)
            except grpc.RpcError as error:
                codes.append(error.code())

        threads = [threading.Thread(target=call) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        server.check()
        assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 12
        assert server.peak_rss_mib - before < 64, (before, server.peak_rss_mib)
        # The token still lets a call through.
        good = protobuf_body(producer_spans("exec-grpc-token", tools=1))
        _grpc_call(server.grpc, good, metadata=(("authorization", "Bearer s3cret"),))
        wait_for(lambda: _tools(server.db) == 1, what="the authorized call stored")
    finally:
        counts = _stopped(server)
    assert counts["refused_unauthorized"] == 12


def _bomb(inflated_mib: int) -> bytes:
    """A gzip body of zeros: about a thousandth of what it inflates to."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(inflated_mib)) + packer.flush()


def test_gzip_bombs_without_the_token_are_not_inflated(tmp_path: Path) -> None:
    """Refused from the headers, a compressed body costs the server no inflating; with
    the token, inflating stops at the cap."""
    bomb = _bomb(256)
    assert len(bomb) < 1 << 20
    server = Served(tmp_path / "b.db", "--token", "s3cret", max_rss_mib=600)
    try:
        gzipped = {**PROTOBUF, "Content-Encoding": "gzip"}
        before = cpu_seconds(server.proc.pid)
        for _ in range(4):
            answer = requests.post(server.http, data=bomb, headers=gzipped, timeout=30)
            assert answer.status_code == 401
        time.sleep(0.3)  # what aiohttp still reads of a refused body (it discards it)
        spent = cpu_seconds(server.proc.pid) - before
        # Inflating the four would take about a second of CPU.
        assert spent < 0.3, f"{spent:.2f} s of CPU for four refused requests"

        before = cpu_seconds(server.proc.pid)
        answer = requests.post(server.http, data=bomb, headers={**gzipped, **TOKEN}, timeout=30)
        assert answer.status_code == 413
        assert cpu_seconds(server.proc.pid) - before < 0.3
        bad = requests.post(server.http, data=b"not gzip", headers={**gzipped, **TOKEN})
        assert bad.status_code == 400 and "gzip" in bad.text
        brotli = {**PROTOBUF, **TOKEN, "Content-Encoding": "br"}
        refused = requests.post(server.http, data=b"x", headers=brotli)
        assert refused.status_code == 415 and "'br'" in refused.text
        good = protobuf_body(producer_spans("exec-gzip", tools=1))
        answer = requests.post(
            server.http,
            data=zlib.compress(good),
            headers={**PROTOBUF, **TOKEN, "Content-Encoding": "deflate"},
        )
        assert answer.status_code == 200
        server.check()
    finally:
        counts = _stopped(server)
    assert counts["refused_unauthorized"] == 4 and counts["too_large"] == 1


def _trickle(http_url: str, body: bytes, stop: threading.Event) -> socket.socket:
    """An export whose headers arrive, then its body a byte every 0.5 s until ``stop``."""
    host, port = _address(http_url)
    sock = socket.create_connection((host, port), timeout=30)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode())

    def drip() -> None:
        for byte in body:
            if stop.wait(0.5):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    threading.Thread(target=drip, daemon=True).start()
    return sock


def test_slow_senders_hold_up_no_one_and_time_out(tmp_path: Path) -> None:
    """Eight senders dribbling their bodies: other exports, HTTP and gRPC, are answered
    at once, and the dribblers get 408 at the body deadline."""
    server = Served(tmp_path / "s.db", "--body-timeout", "3", max_rss_mib=600)
    stop = threading.Event()
    slow: list[socket.socket] = []
    try:
        body = protobuf_body(producer_spans("exec-slow", tools=1))
        slow = [_trickle(server.http, body, stop) for _ in range(8)]
        time.sleep(0.5)  # every one of them is reading its body
        started = time.monotonic()
        for n in range(3):
            good = protobuf_body(producer_spans(f"exec-fast-{n}", tools=1))
            assert requests.post(server.http, data=good, headers=PROTOBUF, timeout=2).ok
            _grpc_call(server.grpc, good, timeout=2)
        assert time.monotonic() - started < 2
        for sock in slow:
            sock.settimeout(10)
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert time.monotonic() - started < 8
        wait_for(lambda: _tools(server.db) == 3, what="the fast exports stored")
        server.check()
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        counts = _stopped(server)
    assert counts["body_timeout"] == 8


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_connections_are_closed_and_never_exhaust_the_file_limit(tmp_path: Path) -> None:
    """With a file limit of 256, 300 idle connections to each port: the server stays
    under its limit and keeps answering (the longest idle HTTP connection makes room), and
    closes idle connections after --idle-timeout."""
    server = Served(tmp_path / "i.db", "--idle-timeout", "2", nofile=256, max_rss_mib=600)
    pid = server.proc.pid
    base = _open_files(pid)
    idle: dict[str, list[socket.socket]] = {"http": [], "grpc": []}
    try:
        for kind, address in (("http", _address(server.http)), ("grpc", _address(server.grpc))):
            for _ in range(300):
                try:
                    idle[kind].append(socket.create_connection(address, timeout=5))
                except OSError:
                    break  # the listen backlog is full: the kernel refuses, the server lives
        time.sleep(1.2)  # the idle connections are old enough to make room
        assert _open_files(pid) < 256
        good = protobuf_body(producer_spans("exec-idle", tools=1))
        # Connections still waiting in the listen backlog are accepted (and closed, the
        # cap reached) before a new one: a sender that retries, as OTLP senders do, gets in.
        deadline = time.monotonic() + 10
        while True:
            try:
                assert requests.post(server.http, data=good, headers=PROTOBUF, timeout=5).ok
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "HTTP never answered again"
                time.sleep(0.2)
        # gRPC keeps its idle connections until their deadline (--idle-timeout), then
        # takes new ones again.
        deadline = time.monotonic() + 10
        while True:
            try:
                _grpc_call(server.grpc, good, timeout=2)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "gRPC never answered again"
                time.sleep(0.2)
        for sock in idle["http"]:  # every one made room for another, or timed out
            sock.settimeout(5)
            try:
                assert sock.recv(1) == b""
            except ConnectionResetError:
                pass
        assert _open_files(pid) < 256
        server.check()
    finally:
        for sock in idle["http"] + idle["grpc"]:
            sock.close()
    wait_for(lambda: _open_files(pid) <= base + 2, timeout_s=10, what="the connections closed")
    counts = _stopped(server)
    assert counts["spans_accepted"] > 0


def _unusable(kind: str, tmp_path: Path, read_only: Path | None) -> tuple[Path, str]:
    import os

    path = tmp_path / f"{kind}.db"
    if kind == "directory":
        path.mkdir()
        return path, "is a directory"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "not a regular file"
    if kind == "not-sqlite":
        path.write_text("hello, this is no database at all, just text\n" * 10)
        return path, "not a SQLite database"
    if kind == "newer-schema":
        sqlite3.connect(path).execute("PRAGMA user_version = 999").connection.close()
        return path, "newer"
    if kind == "other-application":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE mail (id INTEGER)")
        conn.close()
        return path, "another application"
    assert kind == "read-only" and read_only is not None
    return read_only, "cannot write"


@pytest.mark.parametrize(
    "kind",
    ["directory", "fifo", "not-sqlite", "newer-schema", "other-application", "read-only"],
)
def test_a_store_it_cannot_write_is_refused_at_start(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    read_only = request.getfixturevalue("read_only_store") if kind == "read-only" else None
    path, problem = _unusable(kind, tmp_path, read_only)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "serve",
            "--db",
            str(path),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--transcripts-dir",
            str(tmp_path / "t"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and problem in lines[0], lines[0]
    assert "listening" not in done.stdout and "flushed" not in done.stdout


def test_a_store_that_becomes_unwritable_gets_503_not_200(tmp_path: Path) -> None:
    db = tmp_path / "gone.db"
    server = Served(db, "--retry-after", "4")
    try:
        first = protobuf_body(producer_spans("exec-before", tools=1))
        assert requests.post(server.http, data=first, headers=PROTOBUF, timeout=10).ok
        wait_for(lambda: _tools(db) == 1, what="the first export stored")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.mkdir()  # the store's file is now a folder: nothing can be written
        statuses = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            body = protobuf_body(producer_spans(f"exec-after-{len(statuses)}", tools=1))
            answer = requests.post(server.http, data=body, headers=PROTOBUF, timeout=10)
            statuses.append(answer.status_code)
            if answer.status_code == 503:
                break
            time.sleep(0.3)
        assert statuses[-1] == 503, statuses
        assert answer.headers["Retry-After"] == "4"
        # Refused either when the writer says the store is gone, or before that, when the
        # request's spans were not committed: never acknowledged.
        assert "cannot be written" in answer.text or "could not commit" in answer.text
        with pytest.raises(grpc.RpcError) as refused:
            _grpc_call(server.grpc, body)
        assert refused.value.code() in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
    finally:
        server.kill()
