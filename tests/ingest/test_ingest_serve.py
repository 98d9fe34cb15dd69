"""``otel-obs serve`` as a real subprocess on loopback: answers, limits, token, shutdown.

Every bad request gets its own status and the server goes on storing the good
ones; a store that falls behind makes the server refuse with a retry hint
instead of losing spans; SIGTERM stores everything acknowledged.
"""

from __future__ import annotations

import gzip
import re
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


def test_grpc_calls_past_max_requests_are_refused_with_the_retry_hint(tmp_path: Path) -> None:
    """gRPC calls whose message has not arrived hold their places; one more is refused
    RESOURCE_EXHAUSTED with RetryInfo (without which a Collector drops the spans instead
    of retrying), and the held calls are then stored in full."""
    server = Served(tmp_path / "few.db", "--max-requests", "2", "--retry-after", "3")
    channel = grpc.insecure_channel(server.grpc)
    release = threading.Event()
    try:
        slow_bodies = [protobuf_body(producer_spans(f"exec-slow-{n}", tools=3)) for n in range(2)]

        def held(body: bytes):
            release.wait(30)
            yield body

        export = channel.stream_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
        )
        slow = [export.future(held(body), timeout=60) for body in slow_bodies]
        probe = protobuf_body(producer_spans("exec-probe", tools=1))
        deadline = time.monotonic() + 20
        while True:  # until both held calls hold their places
            try:
                _grpc_call(server.grpc, probe)
            except grpc.RpcError as error:
                refused = error
                break
            assert time.monotonic() < deadline, "the held calls never took their places"
            time.sleep(0.05)
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_details_pb2.RetryInfo.FromString(
            dict(refused.trailing_metadata())["google.rpc.retryinfo-bin"]
        )
        assert info.retry_delay.seconds == 3
        release.set()
        for call in slow:
            call.result(timeout=30)
        _grpc_call(server.grpc, probe)  # the places are free again
    finally:
        release.set()
        channel.close()
        counts = server.stop()
    assert counts["refused_max_requests"] >= 1
    for n in range(2):
        assert (
            count(server.db, f"SELECT count(*) FROM tool_uses WHERE execution_id = 'exec-slow-{n}'")
            == 3
        )


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


def test_a_success_answer_waits_for_the_commit(tmp_path: Path) -> None:
    """A 200 (or an OK gRPC answer) means the spans are committed: while another process
    holds the store's write lock, requests are not answered and nothing is written; once it
    lets go, each is answered and its spans are in the store. SIGTERM then finds nothing
    left to write."""
    from concurrent.futures import ThreadPoolExecutor

    server = Served(tmp_path / "term.db")
    first = protobuf_body(producer_spans("exec-t0", tools=1))
    assert requests.post(server.http, data=first, headers=PROTOBUF).ok
    assert _tools(server.db) == 1  # answered: already committed, no wait needed
    lock = _hold_write_lock(server.db)
    pool = ThreadPoolExecutor(max_workers=6)
    try:
        answers = [
            pool.submit(
                requests.post,
                server.http,
                data=protobuf_body(producer_spans(f"exec-t{n + 1}", tools=10)),
                headers=PROTOBUF,
                timeout=60,
            )
            for n in range(5)
        ]
        answers.append(
            pool.submit(_grpc_call, server.grpc, protobuf_body(producer_spans("exec-t6", tools=10)))
        )
        time.sleep(1.0)
        assert not any(answer.done() for answer in answers)  # nothing acknowledged yet
        assert _tools(server.db) == 1
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for answer in answers[:5]:
        assert answer.result(timeout=60).status_code == 200
    answers[-1].result(timeout=60)
    pool.shutdown()
    assert _tools(server.db) == 1 + 6 * 10  # every acknowledged span, before any SIGTERM
    counts = server.stop()
    assert counts["flushed"] is True
    assert _tools(server.db) == 1 + 6 * 10


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Senders keep posting; ``serve`` is SIGKILLed mid-burst. Every request that was
    answered 200 has all its spans in the store (answers come after the commit)."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    server = Served(tmp_path / "kill.db")
    acknowledged: list[str] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        execution = f"exec-k{n}"
        body = protobuf_body(producer_spans(execution, tools=10))
        try:
            reply = requests.post(server.http, data=body, headers=PROTOBUF, timeout=30)
        except requests.RequestException:
            return  # cut off by the kill: not acknowledged
        if reply.status_code == 200:
            with lock:
                acknowledged.append(execution)

    pool = ThreadPoolExecutor(max_workers=4)
    try:
        futures = [pool.submit(send, n) for n in range(400)]
        wait_for(lambda: len(acknowledged) >= 20, what="some requests acknowledged")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        for future in futures:
            future.result(timeout=60)
    finally:
        pool.shutdown()
        server.kill()
    assert len(acknowledged) >= 20
    for execution in acknowledged:
        stored = count(
            server.db, f"SELECT count(*) FROM tool_uses WHERE execution_id = '{execution}'"
        )
        assert stored == 10, (execution, stored, len(acknowledged))


def _with_lone_surrogate(document: dict, execution_id: str) -> None:
    """Put a lone surrogate (as OTLP/JSON escapes it) into the span name and the tool
    output of ``execution_id``'s tool span."""
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                attrs = {a["key"]: a["value"] for a in span.get("attributes", ())}
                if attrs.get("obs.execution_id", {}).get("stringValue") != execution_id:
                    continue
                if "obs.tool.output" in attrs:
                    attrs["obs.tool.output"]["stringValue"] = "out\ud800put"
                    span["name"] += "\udfff"


def test_one_span_with_a_lone_surrogate_costs_no_other_span(served: Served) -> None:
    """OTLP/JSON can spell a lone surrogate (``\\ud800``), which protobuf refuses: the text
    is cleaned (U+FFFD, as NUL is) and the request stored whole, the other execution's
    spans in it included. A body nested too deeply for the JSON parser is a 400."""
    import json

    spans = producer_spans("exec-bad", tools=1) + producer_spans("exec-fine", tools=1)
    document = json.loads(
        otlp_json(trace_service_pb2.ExportTraceServiceRequest.FromString(protobuf_body(spans)))
    )
    _with_lone_surrogate(document, "exec-bad")
    body = json.dumps(document).encode()  # ensure_ascii: the surrogate as \ud800
    assert b"\\ud800" in body
    json_headers = {"Content-Type": "application/json"}
    answer = requests.post(served.http, data=body, headers=json_headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "rejectedSpans" not in answer.text
    for depth in (1_000, 100_000):
        deep = b'{"resourceSpans":' + b"[" * depth + b"]" * depth + b"}"
        refused = requests.post(served.http, data=deep, headers=json_headers, timeout=30)
        assert refused.status_code == 400, (depth, refused.status_code, refused.text)
        assert "nested" in refused.json()["message"]
    wait_for(lambda: _tools(served.db) == 2, what="both executions' tool uses")
    counts = served.stop()
    assert counts["malformed"] == 2 and counts["spans_accepted"] == len(spans)
    conn = sqlite3.connect(served.db)
    try:
        outputs = dict(conn.execute("SELECT execution_id, output FROM tool_uses"))
    finally:
        conn.close()
    assert outputs == {"exec-bad": "out\ufffdput", "exec-fine": "ok"}


def test_received_ids_and_payloads_are_capped_and_counted(served: Served) -> None:
    """A sender that caps nothing: two 256 KiB execution ids that differ only at their end
    and 2 MiB payloads. Each is held to its cap (ids keep a hash of the whole, so they stay
    two; payloads are cut as the producers cut theirs), the store stays small, and serve
    counts what it cut."""
    import json

    from otel_obs import conventions as c
    from otel_obs.ingest.decode import ID_CAP
    from otel_obs.redaction import INPUT_CAP, OUTPUT_CAP

    head = "e" * (1 << 18)
    spans = producer_spans(head + "-1", tools=1) + producer_spans(head + "-2", tools=1)
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(protobuf_body(spans))
    big = "x" * (2 << 20)
    for span in request.resource_spans[0].scope_spans[0].spans:
        for attribute in span.attributes:
            if attribute.key == c.TOOL_OUTPUT:
                attribute.value.string_value = big
            elif attribute.key == c.TOOL_INPUT:
                attribute.value.string_value = json.dumps({"command": big})
    body = request.SerializeToString()
    ids = sum(c.EXECUTION_ID in s.attributes for s in spans)
    assert len(body) > 10 << 20, len(body)
    assert requests.post(served.http, data=body, headers=PROTOBUF, timeout=60).ok
    wait_for(lambda: _tools(served.db) == 2, what="both tool uses")
    counts = served.stop()
    conn = sqlite3.connect(served.db)
    try:
        tools = list(conn.execute("SELECT execution_id, input, output FROM tool_uses"))
    finally:
        conn.close()
    executions = sorted(t[0] for t in tools)
    assert len(set(executions)) == 2
    for execution in executions:
        assert len(execution) == ID_CAP and execution.startswith("e" * 900)
        assert re.fullmatch(r"e+#[0-9a-f]{16}", execution)
    for _, stored_input, output in tools:
        cut = json.loads(stored_input)
        assert cut["_truncated"] is True and len(cut["head"]) == INPUT_CAP
        assert output.startswith("x" * OUTPUT_CAP) and len(output) < OUTPUT_CAP + 64
    size = sum(p.stat().st_size for p in served.db.parent.rglob("*") if p.is_file())
    assert size < 4 << 20, size  # the request was over 10 MiB
    assert counts["ids_capped"] >= ids and counts["texts_capped"] == 4
    assert counts["capped_chars"] > ids * ((1 << 18) - ID_CAP) + 4 * ((2 << 20) - 20_000)


def test_an_export_call_of_two_messages_or_none_is_invalid(tmp_path: Path) -> None:
    """Export is unary; the receiver takes it as a stream (to refuse before reading), so a
    call of several messages, or none, is answered INVALID_ARGUMENT and nothing is stored."""
    server = Served(tmp_path / "calls.db")
    channel = grpc.insecure_channel(server.grpc)
    try:
        export = channel.stream_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
        )
        body = protobuf_body(producer_spans("exec-twice", tools=1))
        for messages, said in (([body, body], "one request message"), ([], "no request")):
            with pytest.raises(grpc.RpcError) as refused:
                export(iter(messages), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert said in (refused.value.details() or ""), refused.value.details()
        assert _grpc_call(server.grpc, body).partial_success.rejected_spans == 0
    finally:
        channel.close()
        counts = server.stop()
    assert counts["malformed"] == 1 and counts["requests"] == 1, counts
    assert _tools(server.db) == 1
