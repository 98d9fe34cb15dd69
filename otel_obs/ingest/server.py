"""``otel-obs serve``: an OTLP traces receiver (gRPC and HTTP) in front of one store.

Both transports run on one asyncio event loop: HTTP on aiohttp's server (a
maintained production server with request-size limits built in; one library
where uvicorn + starlette would be two), gRPC on ``grpc.aio`` with the
``TraceService`` definition from ``opentelemetry-proto``. Decoding and queueing
run on a small thread pool, so the loop stays free to answer the requests it
refuses (401, 413, 415, 503) at once.

Answers, per the OTLP specification:

========================  ==========================  ===============================
situation                 HTTP                        gRPC
========================  ==========================  ===============================
accepted                  200 (partial success when   OK (partial success when
                          spans were rejected)        spans were rejected)
missing / wrong token     401                         UNAUTHENTICATED
not protobuf / JSON       415                         —
body over the cap         413                         RESOURCE_EXHAUSTED (gRPC's limit)
malformed body            400                         INVALID_ARGUMENT
store behind              503 + ``Retry-After``       RESOURCE_EXHAUSTED + RetryInfo
shutting down             503 + ``Retry-After``       UNAVAILABLE
========================  ==========================  ===============================

SIGTERM (or SIGINT) stops the listeners, lets the requests in progress finish,
then flushes and closes the store: every span acknowledged is stored.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import duration_pb2, json_format
from google.protobuf.any_pb2 import Any as AnyMessage
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otel_obs.exporters.stores import Store, process_store

from .decode import MalformedRequest, decode, is_json, is_supported, parse_protobuf, records_of
from .receiver import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_RETRY_AFTER_S,
    Outcome,
    Receiver,
    Refused,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318
#: Default cap on one request body, in MiB (the Collector's OTLP receiver allows 20).
DEFAULT_MAX_BODY_MIB = 16
TRACES_PATH = "/v1/traces"
#: The environment variable ``--token`` falls back to.
TOKEN_ENV = "OTEL_OBS_SERVE_TOKEN"
#: Spans the store maps and writes per transaction: small enough that a burst held
#: in the queue is not also mapped all at once (memory), large enough to write fast.
WRITE_BATCH_ITEMS = 2_000
#: Requests whose bodies are read and decoded at once (the others wait their turn):
#: with ``--max-body-mib`` this bounds the memory requests in progress can hold.
BODIES_AT_ONCE = 4
#: How long shutdown waits for requests in progress, in seconds.
SHUTDOWN_GRACE_S = 10.0
_SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


@dataclass(frozen=True)
class ServeSettings:
    """Where to listen, which store to fill, and the limits (``otel-obs serve``'s options)."""

    db_path: Path
    transcripts_dir: Path
    host: str = DEFAULT_HOST
    grpc_port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    token: str | None = None
    insecure: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_MIB << 20
    max_queue: int = DEFAULT_MAX_QUEUE
    max_requests: int = DEFAULT_MAX_REQUESTS
    retry_after_s: int = DEFAULT_RETRY_AFTER_S

    def check(self) -> None:
        """Raise ValueError naming the bad setting (exposure without a token included)."""
        for name in ("grpc_port", "http_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"--{name.replace('_', '-')}: {port} is not a port (0-65535)")
        if self.max_body_bytes <= 0:
            raise ValueError(f"--max-body-mib must be positive, got {self.max_body_bytes >> 20}")
        if self.max_queue <= 0:
            raise ValueError(f"--max-queue must be positive, got {self.max_queue}")
        if self.max_requests <= 0:
            raise ValueError(f"--max-requests must be positive, got {self.max_requests}")
        if self.retry_after_s <= 0:
            raise ValueError(f"--retry-after must be positive, got {self.retry_after_s}")
        if not is_loopback(self.host) and not self.token and not self.insecure:
            raise ValueError(
                f"--host {self.host} is not a loopback address: give --token (or set "
                f"{TOKEN_ENV}) so that every request must carry it, or --insecure to "
                "accept spans from anyone who can reach the port"
            )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_store(settings: ServeSettings) -> Store:
    """The store the receiver fills: mapping and writing in a writer process of its own,
    so they do not compete with decoding for this process's GIL.

    Its queue holds twice ``max_queue`` items: the receiver refuses new
    requests past ``max_queue``, and what an admitted request brings still fits.
    With the write batch, these bound the memory a burst can take.
    """
    return process_store(
        settings.db_path,
        settings.transcripts_dir,
        queue_capacity=2 * settings.max_queue,
        batch_items=WRITE_BATCH_ITEMS,
    )


# --------------------------------------------------------------------------
# answers
# --------------------------------------------------------------------------


def _response(outcome: Outcome) -> trace_service_pb2.ExportTraceServiceResponse:
    response = trace_service_pb2.ExportTraceServiceResponse()
    if outcome.rejected:
        response.partial_success.rejected_spans = outcome.rejected
        response.partial_success.error_message = outcome.reason
    return response


def _encoded(message: Any, as_json: bool) -> tuple[bytes, str]:
    if as_json:
        return json_format.MessageToJson(message, indent=None).encode(), _JSON
    return message.SerializeToString(), _PROTOBUF


def _status(code: int, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=code, message=message)


def _retry_info(seconds: int) -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds))


def retry_metadata(message: str, seconds: int) -> tuple[tuple[str, bytes], ...]:
    """gRPC trailers that say "retry in ``seconds``": the rich status (what the Collector
    reads) and the bare RetryInfo (what the Python OTLP exporter reads)."""
    info = _retry_info(seconds)
    packed = AnyMessage()
    packed.Pack(info)
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[packed])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


# --------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------


class OtlpServer:
    """The gRPC and HTTP listeners over one :class:`.receiver.Receiver`."""

    def __init__(self, settings: ServeSettings, receiver: Receiver) -> None:
        self.settings = settings
        self.receiver = receiver
        self._pool = ThreadPoolExecutor(
            max_workers=BODIES_AT_ONCE, thread_name_prefix="otel-obs-ingest"
        )
        #: Bodies read and decoded at once: with the body cap, what requests can hold.
        self._bodies = asyncio.Semaphore(BODIES_AT_ONCE)
        self._runner: Any = None
        self._grpc: Any = None
        self.grpc_address = ""
        self.http_address = ""

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        from aiohttp import web

        s = self.settings
        app = web.Application(client_max_size=s.max_body_bytes)
        app.router.add_post(TRACES_PATH, self._http_export)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.http_port, shutdown_timeout=SHUTDOWN_GRACE_S)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.http_address = f"{_bracketed(host)}:{port}"
        self._grpc = await self._start_grpc()

    async def _start_grpc(self) -> Any:
        import grpc

        s = self.settings
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", s.max_body_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        handler = grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                # Raw bytes in: a malformed body is ours to answer (INVALID_ARGUMENT),
                # not gRPC's deserializer's (INTERNAL).
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._grpc_export,
                    request_deserializer=None,
                    response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString,
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port(f"{_bracketed(s.host)}:{s.grpc_port}")
        if port == 0:
            raise OSError(f"cannot listen for gRPC on {s.host}:{s.grpc_port}")
        self.grpc_address = f"{_bracketed(s.host)}:{port}"
        await server.start()
        return server

    async def stop(self) -> bool:
        """Stop listening, finish the requests in progress, flush and close the store."""
        if self._grpc is not None:
            await self._grpc.stop(SHUTDOWN_GRACE_S)
        if self._runner is not None:
            await self._runner.cleanup()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._pool.shutdown, True)
        return await loop.run_in_executor(None, self.receiver.close)

    # -- HTTP --------------------------------------------------------------

    async def _http_export(self, request: Any) -> Any:
        from aiohttp import web

        receiver = self.receiver
        as_json = is_json(request.content_type)

        def answer(status: int, code: int, message: str, **headers: str) -> Any:
            body, content_type = _encoded(_status(code, message), as_json)
            return web.Response(
                status=status, body=body, content_type=content_type, headers=headers
            )

        try:
            receiver.authorize(request.headers.get("Authorization"))
        except Refused as refused:
            return answer(
                401, code_pb2.UNAUTHENTICATED, str(refused), **{"WWW-Authenticate": "Bearer"}
            )
        if not is_supported(request.content_type):
            receiver.count("unsupported_media_type")
            return answer(
                415,
                code_pb2.INVALID_ARGUMENT,
                f"Content-Type {request.content_type!r} is not supported; "
                f"use {_PROTOBUF} or {_JSON}",
            )
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._too_large(answer, request.content_length)
        loop = asyncio.get_running_loop()
        try:
            with receiver.admission():
                async with self._bodies:
                    try:
                        body = await request.read()
                    except web.HTTPRequestEntityTooLarge:
                        return self._too_large(answer, None)
                    outcome = await loop.run_in_executor(
                        self._pool, self._take_http, body, request.content_type
                    )
        except MalformedRequest as bad:
            return answer(400, code_pb2.INVALID_ARGUMENT, str(bad))
        except Refused as refused:
            return answer(
                503,
                code_pb2.UNAVAILABLE,
                str(refused),
                **{"Retry-After": str(self.settings.retry_after_s)},
            )
        payload, content_type = _encoded(_response(outcome), as_json)
        return web.Response(status=200, body=payload, content_type=content_type)

    def _too_large(self, answer: Callable[..., Any], size: int | None) -> Any:
        self.receiver.count("too_large")
        limit = self.settings.max_body_bytes
        said = f"body of {size} bytes" if size is not None else "body (decompressed)"
        return answer(
            413, code_pb2.RESOURCE_EXHAUSTED, f"{said} is over the limit of {limit} bytes"
        )

    def _take_http(self, body: bytes, content_type: str) -> Outcome:
        try:
            decoded = decode(body, content_type)
        except MalformedRequest:
            self.receiver.count("malformed")
            raise
        return self.receiver.take(decoded)

    # -- gRPC --------------------------------------------------------------

    async def _grpc_export(self, body: bytes, context: Any) -> Any:
        import grpc

        receiver = self.receiver
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        try:
            receiver.authorize(metadata.get("authorization"))
        except Refused as refused:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(refused))
        loop = asyncio.get_running_loop()
        try:
            with receiver.admission():
                async with self._bodies:
                    outcome = await loop.run_in_executor(self._pool, self._take_grpc, body)
        except MalformedRequest as bad:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(bad))
        except Refused as refused:
            if refused.kind == "busy":
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    str(refused),
                    trailing_metadata=retry_metadata(str(refused), self.settings.retry_after_s),
                )
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(refused))
        return _response(outcome)

    def _take_grpc(self, body: bytes) -> Outcome:
        try:
            decoded = records_of(parse_protobuf(body))
        except MalformedRequest:
            self.receiver.count("malformed")
            raise
        return self.receiver.take(decoded)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def run(settings: ServeSettings, announce: Callable[[OtlpServer], None]) -> dict[str, Any]:
    """Serve until SIGTERM or SIGINT; return the receiver's counts and the store's stats."""
    settings.check()
    receiver = Receiver(
        build_store(settings),
        token=settings.token,
        max_queue=settings.max_queue,
        max_requests=settings.max_requests,
        retry_after_s=settings.retry_after_s,
    )
    server = OtlpServer(settings, receiver)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        announce(server)
        await stop.wait()
    finally:
        flushed = await server.stop()
    stats = receiver.store.stats()
    return {
        **receiver.counts,
        "flushed": flushed,
        "rows_written": stats.get("rows_written", 0),
        "dropped_rows": stats.get("dropped_rows", 0),
        "failures": stats.get("failures", 0),
        **_lineage_counts(settings.db_path),
    }


def _lineage_counts(db_path: Any) -> dict[str, Any]:
    """What spans made no row (by scope and name) and how many still wait for their parent:
    the exit statistics say it, so a framework stored wrong is not a silent one."""
    from otel_obs.cli.queries import unmapped_spans

    try:
        rows, waiting = unmapped_spans(db_path)
    except Exception:  # a store that cannot be read: its failures are counted above
        return {}
    return {
        "unmapped_spans": {f"{r['scope']}: {r['name']}": r["spans"] for r in rows},
        "spans_waiting_for_parent": waiting,
    }


def serve(settings: ServeSettings) -> dict[str, Any]:
    """Run the receiver in this process until SIGTERM/SIGINT (``otel-obs serve``)."""

    def announce(server: OtlpServer) -> None:
        print(
            f"otel-obs serve: OTLP gRPC on {server.grpc_address}, "
            f"HTTP on http://{server.http_address}{TRACES_PATH} -> {settings.db_path}",
            flush=True,
        )

    counts = asyncio.run(run(settings, announce))
    print(f"otel-obs serve: stopped {json.dumps(counts)}", flush=True)
    sys.stdout.flush()
    return counts


__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_MAX_BODY_MIB",
    "OtlpServer",
    "ServeSettings",
    "TOKEN_ENV",
    "TRACES_PATH",
    "build_store",
    "is_loopback",
    "retry_metadata",
    "run",
    "serve",
]
