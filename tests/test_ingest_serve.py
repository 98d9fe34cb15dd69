"""``otel-obs serve`` as a real subprocess on loopback: answers, limits, token, shutdown.

Every bad request gets its own status and the server goes on storing the good
ones; a store that falls behind makes the server refuse with a retry hint
instead of losing spans; SIGTERM stores everything acknowledged.
"""

from __future__ import annotations

import gzip
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
import requests
from google.rpc import error_details_pb2, status_pb2
from ingest_support import (
    Served,
    count,
    otlp_json,
    producer_spans,
    protobuf_body,
    table_rows,
    wait_for,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = {"Content-Type": "application/x-protobuf"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _grpc_call(address: str, body: bytes, metadata=()):
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])
    try:
        call = channel.unary_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
        )
        return call(body, metadata=metadata, timeout=30)
    finally:
        channel.close()


def _tools(db: Path) -> int:
    return count(db, "SELECT count(*) FROM tool_uses")


@pytest.fixture
def served(tmp_path: Path):
    server = Served(tmp_path / "served.db")
    yield server
    server.kill()


def test_bad_bodies_get_their_status_and_the_server_keeps_serving(served: Served) -> None:
    good = protobuf_body(producer_spans("exec-good", tools=1))
    truncated = protobuf_body(producer_spans("exec-cut"))
    truncated = truncated[: len(truncated) // 2 + 1]
    url = served.http

    def post(body: bytes, content_type: str) -> requests.Response:
        return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=60)

    answer = post(truncated, "application/x-protobuf")
    assert answer.status_code == 400
    assert "protobuf" in status_pb2.Status.FromString(answer.content).message
    assert post(good, "text/plain").status_code == 415
    big = post(b"\x0a" * (50 << 20), "application/x-protobuf")
    assert big.status_code == 413
    assert "over the limit" in status_pb2.Status.FromString(big.content).message
    # gzip bodies are taken; the cap counts what they unpack to (no zip bombs).
    gzipped = requests.post(
        url,
        data=gzip.compress(good),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        timeout=60,
    )
    assert gzipped.status_code == 200
    bomb = requests.post(
        url,
        data=gzip.compress(bytes(40 << 20)),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        timeout=60,
    )
    assert bomb.status_code == 413
    bad_utf8 = post(b'{"resourceSpans": [{"\xff\xfe": 1}]}', "application/json")
    assert bad_utf8.status_code == 400
    assert "UTF-8" in bad_utf8.json()["message"]

    # Spans without ids: rejected and counted, the others in the request stored.
    spans = trace_service_pb2.ExportTraceServiceRequest.FromString(
        protobuf_body(producer_spans("exec-ids", tools=1))
    )
    all_spans = spans.resource_spans[0].scope_spans[0].spans
    total = len(all_spans)
    all_spans[0].trace_id = b""
    all_spans[1].span_id = b""
    partial = post(spans.SerializeToString(), "application/x-protobuf")
    assert partial.status_code == 200
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(partial.content)
    assert response.partial_success.rejected_spans == 2
    assert "id" in response.partial_success.error_message

    # gRPC: a malformed message is INVALID_ARGUMENT, and the channel still works after it.
    with pytest.raises(grpc.RpcError) as failed:
        _grpc_call(served.grpc, b"\x0a\xff\xff\xff")
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as failed:
        _grpc_call(served.grpc, b"\x0a" * (20 << 20))  # over the 16 MiB cap
    assert failed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _grpc_call(served.grpc, good).partial_success.rejected_spans == 0

    assert post(good, "application/x-protobuf").status_code == 200
    wait_for(lambda: _tools(served.db) >= 1, what="the good span stored")
    counts = served.stop()
    assert counts["malformed"] == 3
    assert counts["too_large"] == 2
    assert counts["unsupported_media_type"] == 1
    assert counts["spans_rejected"] == 2
    assert counts["spans_accepted"] == 3 * len(producer_spans("x", tools=1)) + total - 2
    # The agent span of that request survived its rejected neighbours.
    agents = "SELECT count(*) FROM build_agent_instances WHERE execution_id = 'exec-ids'"
    assert count(served.db, agents) == 1


def test_redelivery_changes_nothing(served: Served) -> None:
    body = protobuf_body(producer_spans("exec-again", tools=3))
    assert requests.post(served.http, data=body, headers=PROTOBUF, timeout=30).ok
    wait_for(lambda: _tools(served.db) == 3, what="first delivery stored")
    wait_for(
        lambda: count(served.db, "SELECT count(*) FROM transcript_entries") >= 6,
        what="entries stored",
    )
    first = table_rows(served.db, exclude={})
    assert requests.post(served.http, data=body, headers=PROTOBUF, timeout=30).ok
    _grpc_call(served.grpc, body)
    served.stop()
    assert table_rows(served.db, exclude={}) == first


def test_json_body_is_stored_like_protobuf(tmp_path: Path) -> None:
    spans = producer_spans("exec-json", tools=2)
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(protobuf_body(spans))
    via_json = Served(tmp_path / "json.db")
    via_proto = Served(tmp_path / "proto.db")
    try:
        answer = requests.post(
            via_json.http,
            data=otlp_json(request),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("application/json")
        assert requests.post(via_proto.http, data=protobuf_body(spans), headers=PROTOBUF).ok
    finally:
        via_json.stop()
        via_proto.stop()
    rows = table_rows(via_json.db, exclude={})
    assert rows["tool_uses"] and rows == table_rows(via_proto.db, exclude={})


def test_token_is_checked_on_every_request(tmp_path: Path) -> None:
    server = Served(tmp_path / "t.db", "--token", "s3cret")
    try:
        body = protobuf_body(producer_spans("exec-token", tools=1))
        assert requests.post(server.http, data=body, headers=PROTOBUF).status_code == 401
        wrong = {**PROTOBUF, "Authorization": "Bearer nope"}
        assert requests.post(server.http, data=body, headers=wrong).status_code == 401
        right = {**PROTOBUF, "Authorization": "Bearer s3cret"}
        assert requests.post(server.http, data=body, headers=right).status_code == 200
        with pytest.raises(grpc.RpcError) as failed:
            _grpc_call(server.grpc, body)
        assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED
        _grpc_call(server.grpc, body, metadata=(("authorization", "Bearer s3cret"),))
    finally:
        counts = server.stop()
    assert counts["refused_unauthorized"] == 3
    assert counts["requests"] == 2


def test_token_from_the_environment(tmp_path: Path) -> None:
    server = Served(tmp_path / "e.db", env={"OTEL_OBS_SERVE_TOKEN": "from-env"})
    try:
        body = protobuf_body(producer_spans("exec-env", tools=1))
        assert requests.post(server.http, data=body, headers=PROTOBUF).status_code == 401
        right = {**PROTOBUF, "Authorization": "Bearer from-env"}
        assert requests.post(server.http, data=body, headers=right).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--host", "0.0.0.0"), ("--host 0.0.0.0", "--token")),
        (("--max-requests", "0"), ("--max-requests", "got 0")),
        (("--max-queue", "-3"), ("--max-queue", "got -3")),
        (("--retry-after", "0"), ("--retry-after", "got 0")),
        (("--max-body-mib", "0"), ("--max-body-mib", "got 0")),
        (("--http-port", "70000"), ("--http-port", "70000")),
        (("--max-body-mib", "4096"), ("--max-body-mib", "at most 2047", "got 4096")),
        (("--body-timeout", "0"), ("--body-timeout", "got 0")),
        (("--idle-timeout", "nan"), ("--idle-timeout", "got nan")),
        (("--max-connections", "0"), ("--max-connections", "got 0")),
    ],
)
def test_bad_settings_are_refused_naming_the_value(
    tmp_path: Path, args: tuple[str, ...], said: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "serve", "--db", str(tmp_path / "x.db"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    for words in said:
        assert words in done.stderr, done.stderr
    assert not (tmp_path / "x.db").exists()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
@pytest.mark.parametrize("host", ["[::1]", "::1"])
def test_an_ipv6_host_in_brackets_or_not(tmp_path: Path, host: str) -> None:
    server = Served(tmp_path / "v6.db", "--host", host)
    try:
        assert server.http.startswith("http://[::1]:") and server.grpc.startswith("[::1]:")
        body = protobuf_body(producer_spans("exec-v6", tools=1))
        assert requests.post(server.http, data=body, headers=PROTOBUF, timeout=10).ok
        _grpc_call(server.grpc, body)
    finally:
        counts = server.stop()
    assert counts["requests"] == 2


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_a_store_behind_gets_503_and_resource_exhausted_then_nothing_is_lost(
    tmp_path: Path,
) -> None:
    server = Served(tmp_path / "slow.db", "--max-queue", "5", "--retry-after", "2")
    try:
        first = protobuf_body(producer_spans("exec-first", tools=1))
        assert requests.post(server.http, data=first, headers=PROTOBUF).ok
        wait_for(lambda: _tools(server.db) == 1, what="the store to exist")
        # Large enough to fill the pipe to the writer process, which the lock stops.
        bodies = [
            protobuf_body(producer_spans(f"exec-burst-{n}", tools=100, output="x" * 8000))
            for n in range(8)
        ]
        lock = _hold_write_lock(server.db)
        statuses: list[int] = []
        acknowledged: list[str] = []
        pending: list[threading.Thread] = []
        try:
            for n, body in enumerate(bodies):
                answer: dict[str, requests.Response] = {}

                def send(body=body, answer=answer) -> None:
                    answer["r"] = requests.post(server.http, data=body, headers=PROTOBUF)

                thread = threading.Thread(target=send)
                thread.start()
                thread.join(0.3)
                if thread.is_alive():
                    pending.append(thread)  # admitted, waiting for room in the queue
                    acknowledged.append(f"exec-burst-{n}")
                    continue
                statuses.append(answer["r"].status_code)
                if answer["r"].status_code == 200:
                    acknowledged.append(f"exec-burst-{n}")
                else:
                    assert answer["r"].status_code == 503
                    assert answer["r"].headers["Retry-After"] == "2"
            with pytest.raises(grpc.RpcError) as refused:
                _grpc_call(server.grpc, bodies[0])
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            trailers = dict(refused.value.trailing_metadata())
            info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
            assert info.retry_delay.seconds == 2
            assert "grpc-status-details-bin" in trailers
        finally:
            time.sleep(0.5)
            lock.execute("ROLLBACK")
            lock.close()
        assert 503 in statuses
        for thread in pending:
            thread.join(30)
            assert not thread.is_alive()
    finally:
        counts = server.stop()
    assert counts["refused_busy"] >= 2
    assert counts["dropped_rows"] == 0 and counts["failures"] == 0
    for execution_id in acknowledged:
        assert (
            count(
                server.db, f"SELECT count(*) FROM tool_uses WHERE execution_id = '{execution_id}'"
            )
            == 100
        ), execution_id


def _slow_request(http_url: str, body: bytes) -> socket.socket:
    """An HTTP export whose headers and first half of the body are sent, the rest held back."""
    url = urlsplit(http_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def test_requests_past_max_requests_are_refused_before_their_bodies_are_read(
    tmp_path: Path,
) -> None:
    """However many senders there are, only --max-requests requests hold memory at once:
    the others are refused with the retry hint, although the store's queue is empty."""
    server = Served(tmp_path / "few.db", "--max-requests", "2", "--retry-after", "3")
    try:
        slow_bodies = [protobuf_body(producer_spans(f"exec-slow-{n}", tools=3)) for n in range(2)]
        slow = [_slow_request(server.http, body) for body in slow_bodies]
        probe = protobuf_body(producer_spans("exec-probe", tools=1))
        deadline = time.monotonic() + 20
        while True:  # until both slow requests hold their places
            answer = requests.post(server.http, data=probe, headers=PROTOBUF, timeout=30)
            if answer.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "3"
        assert "2 requests in progress" in status_pb2.Status.FromString(answer.content).message
        with pytest.raises(grpc.RpcError) as refused:
            _grpc_call(server.grpc, probe)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_details_pb2.RetryInfo.FromString(
            dict(refused.value.trailing_metadata())["google.rpc.retryinfo-bin"]
        )
        assert info.retry_delay.seconds == 3

        for sock, body in zip(slow, slow_bodies, strict=True):
            sock.sendall(body[len(body) // 2 :])
            reply = sock.recv(4096)
            sock.close()
            assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        # The places are free again.
        assert requests.post(server.http, data=probe, headers=PROTOBUF, timeout=30).ok
        wait_for(lambda: _tools(server.db) == 7, what="every tool use acknowledged")
    finally:
        counts = server.stop()
    assert counts["refused_max_requests"] >= 2 and counts["refused_busy"] == 0
    for n in range(2):
        assert (
            count(server.db, f"SELECT count(*) FROM tool_uses WHERE execution_id = 'exec-slow-{n}'")
            == 3
        )


def test_sigterm_stores_everything_acknowledged(tmp_path: Path) -> None:
    server = Served(tmp_path / "term.db")
    first = protobuf_body(producer_spans("exec-t0", tools=1))
    assert requests.post(server.http, data=first, headers=PROTOBUF).ok
    wait_for(lambda: _tools(server.db) == 1, what="the store to exist")
    lock = _hold_write_lock(server.db)
    try:
        for n in range(5):
            body = protobuf_body(producer_spans(f"exec-t{n + 1}", tools=10))
            assert requests.post(server.http, data=body, headers=PROTOBUF).status_code == 200
        _grpc_call(server.grpc, protobuf_body(producer_spans("exec-t6", tools=10)))
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        time.sleep(1.0)
        assert _tools(server.db) == 1  # nothing written yet: the store is locked
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    stopper.join(60)
    assert server.counts is not None and server.counts["flushed"] is True
    assert _tools(server.db) == 1 + 6 * 10
