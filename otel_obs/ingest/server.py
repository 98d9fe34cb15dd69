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
body too slow             408                         — (the client's deadline)
malformed body            400                         INVALID_ARGUMENT
store behind              503 + ``Retry-After``       RESOURCE_EXHAUSTED + RetryInfo
store cannot write        503 + ``Retry-After``       UNAVAILABLE
shutting down             503 + ``Retry-After``       UNAVAILABLE
========================  ==========================  ===============================

A client without the token costs little: the token is checked from the
headers (HTTP) or the metadata (gRPC, in an interceptor that answers before
the message is read), so its body is never read whole nor inflated. HTTP bodies
are read with a deadline and inflated incrementally up to the cap; connections
idle past ``--idle-timeout`` are closed, and past ``--max-connections`` (kept
below the process's file limit) the longest idle one makes room, else the new
one is closed at once. gRPC bounds its calls in progress (``--max-requests``)
and connections the same way.

SIGTERM (or SIGINT) stops the listeners, lets the requests in progress finish,
then flushes and closes the store: every span acknowledged is stored.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import os
import resource
import signal
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import duration_pb2, json_format
from google.protobuf.any_pb2 import Any as AnyMessage
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otel_obs.exporters.store_choice import Store, process_store
from otel_obs.store_location import StoreLocation

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
#: gRPC calls in progress beyond twice --max-requests that gRPC itself refuses (see
#: _start_grpc): room for the calls being refused with the retry hint.
GRPC_BACKSTOP_MARGIN = 16
#: How long shutdown waits for requests in progress, in seconds.
SHUTDOWN_GRACE_S = 10.0
#: Default for how long one HTTP request body may take to arrive, in seconds (408 past it).
DEFAULT_BODY_TIMEOUT_S = 30.0
#: Default for how long a connection may stay idle (no request in progress), in seconds.
DEFAULT_IDLE_TIMEOUT_S = 60.0
#: Default cap on connections per listener (lowered to fit the process's file limit).
DEFAULT_MAX_CONNECTIONS = 1_000
#: File descriptors kept for everything but connections: the process's own (store,
#: pipes, threads) and the sockets one accept round takes before any is refused (the
#: listen backlog, 128).
RESERVED_FDS = 192
#: Past --max-connections, an idle HTTP connection this old (seconds) makes room.
EVICT_AFTER_S = 1.0
#: gRPC's message size limit is a 32-bit signed integer: the largest --max-body-mib.
MAX_BODY_MIB = (2**31 - 1) >> 20
#: Content-Encodings an HTTP body may have (inflated here, incrementally, up to the cap).
ENCODINGS = {
    "": None,
    "identity": None,
    "gzip": 16 + zlib.MAX_WBITS,
    "deflate": 32 + zlib.MAX_WBITS,
}
_SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


@dataclass(frozen=True)
class ServeSettings:
    """Where to listen, which store to fill, and the limits (``otel-obs serve``'s options)."""

    db_path: StoreLocation
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
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    #: None: :data:`DEFAULT_MAX_CONNECTIONS`, or less to fit the file limit.
    max_connections: int | None = None

    def check(self) -> None:
        """Raise ValueError naming the bad setting (exposure without a token included)."""
        for name in ("grpc_port", "http_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"--{name.replace('_', '-')}: {port} is not a port (0-65535)")
        if self.max_body_bytes <= 0:
            raise ValueError(f"--max-body-mib must be positive, got {self.max_body_bytes >> 20}")
        if self.max_body_bytes > MAX_BODY_MIB << 20:
            raise ValueError(
                f"--max-body-mib must be at most {MAX_BODY_MIB} (gRPC's message limit is "
                f"2 GiB), got {self.max_body_bytes >> 20}"
            )
        for name in ("body_timeout_s", "idle_timeout_s"):
            value = getattr(self, name)
            if not (value > 0 and value < float("inf")):
                option = "--" + name.removesuffix("_s").replace("_", "-")
                raise ValueError(f"{option} must be a positive number of seconds, got {value}")
        if self.max_connections is not None:
            most = connections_allowed()
            if not 0 < self.max_connections <= most:
                raise ValueError(
                    f"--max-connections must be between 1 and {most} (the file limit, "
                    f"{_file_limit()}, holds both listeners' connections), "
                    f"got {self.max_connections}"
                )
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

    @property
    def connections(self) -> int:
        """Connections each listener keeps open at most."""
        if self.max_connections is not None:
            return self.max_connections
        return min(DEFAULT_MAX_CONNECTIONS, connections_allowed())


def _file_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connections_allowed() -> int:
    """Connections per listener that the process's file limit leaves room for (both
    listeners at their cap and :data:`RESERVED_FDS` still fit)."""
    return max(1, (_file_limit() - RESERVED_FDS) // 2)


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


def store_problem(db_path: StoreLocation, transcripts_dir: Path) -> str | None:
    """Why ``serve`` could not write to this store (None when it can), checked before it
    listens: a receiver that answered 200 and dropped every row would lose spans silently,
    as senders never send a 200 again. The transcripts folder must be writable too."""
    from otel_obs.exporters.engines import engine_for

    problem = engine_for(db_path).writable_problem(db_path)
    if problem:
        return f"--db {db_path}: {problem}"
    return _transcripts_problem(transcripts_dir)


def _transcripts_problem(transcripts_dir: Path) -> str | None:
    folder = Path(transcripts_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"--transcripts-dir {folder}: cannot create it: {error.strerror or error}"
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return f"--transcripts-dir {folder}: is not a writable folder"
    return None


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
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            # Bodies are inflated here, incrementally and capped, once the token is
            # checked: aiohttp would inflate whatever arrives, answered or not.
            auto_decompress=False,
            # A connection with no request in progress is closed after this long,
            # from its first byte on (keep-alive, or headers never finished).
            keepalive_timeout=s.idle_timeout_s,
        )
        await self._runner.setup()
        site = _limited_site()(
            self._runner,
            s.host.strip("[]"),
            s.http_port,
            limit=s.connections,
            refused=lambda: self.receiver.count("refused_connections"),
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.http_address = f"{_bracketed(host)}:{port}"
        self._grpc = await self._start_grpc()

    async def _start_grpc(self) -> Any:
        import grpc

        s = self.settings
        idle_ms = int(s.idle_timeout_s * 1000)
        server = grpc.aio.server(
            interceptors=[_token_check()(self.receiver)],
            # A backstop: calls past --max-requests are refused by _grpc_export
            # before their message is read, with the retry hint (RetryInfo) that a
            # Collector needs to retry a RESOURCE_EXHAUSTED; gRPC's own refusal past
            # this has none, so it only catches a flood of calls not yet refused.
            maximum_concurrent_rpcs=2 * s.max_requests + GRPC_BACKSTOP_MARGIN,
            options=[
                ("grpc.max_receive_message_length", s.max_body_bytes),
                ("grpc.so_reuseport", 0),
                ("grpc.max_allowed_incoming_connections", s.connections),
                ("grpc.max_connection_idle_ms", idle_ms),
                ("grpc.server_handshake_timeout_ms", idle_ms),
                # Ask idle clients whether they are still there; a dead peer is dropped.
                ("grpc.keepalive_time_ms", idle_ms),
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.http2.max_pings_without_data", 0),
            ],
        )
        handler = grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                # Raw bytes in: a malformed body is ours to answer (INVALID_ARGUMENT),
                # not gRPC's deserializer's (INTERNAL). A stream handler (the wire is the
                # same for a unary call): admitted or refused before the message is read.
                "Export": grpc.stream_unary_rpc_method_handler(
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

        # Everything refused here is refused from the headers: the body is not read.
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
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ENCODINGS:
            receiver.count("unsupported_media_type")
            return answer(
                415,
                code_pb2.INVALID_ARGUMENT,
                f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none",
            )
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._too_large(answer, request.content_length)
        unwritable = self._unwritable()
        if unwritable:
            receiver.count("refused_unwritable")
            return answer(
                503,
                code_pb2.UNAVAILABLE,
                unwritable,
                **{"Retry-After": str(self.settings.retry_after_s)},
            )
        loop = asyncio.get_running_loop()
        try:
            with receiver.admission():
                # Read without holding a decoding place: a slow sender holds only its
                # own admission, never the others' decoding (nor gRPC's).
                try:
                    body = await asyncio.wait_for(
                        _read_body(request, ENCODINGS[encoding], limit),
                        self.settings.body_timeout_s,
                    )
                except _TooLarge:
                    return self._too_large(answer, None)
                except asyncio.TimeoutError:
                    receiver.count("body_timeout")
                    return answer(
                        408,
                        code_pb2.DEADLINE_EXCEEDED,
                        f"the body did not arrive within {self.settings.body_timeout_s:g} s",
                        Connection="close",
                    )
                except MalformedRequest:
                    receiver.count("malformed")
                    raise
                async with self._bodies:
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

    def _unwritable(self) -> str | None:
        """Why the store cannot write now (None when it can): answered 503, not 200."""
        if self.receiver.store.stats().get("sqlite_ok", True):
            return None
        return (
            f"the store {self.settings.db_path} cannot be written now; "
            f"retry in {self.settings.retry_after_s} s"
        )

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

    async def _grpc_export(self, messages: Any, context: Any) -> Any:
        import grpc

        # The token was checked by _TokenCheck, before the message was read.
        receiver = self.receiver
        unwritable = self._unwritable()
        if unwritable:
            receiver.count("refused_unwritable")
            await context.abort(grpc.StatusCode.UNAVAILABLE, unwritable)
        loop = asyncio.get_running_loop()
        try:
            with receiver.admission():
                try:
                    body = await _one_message(messages)
                except MalformedRequest:
                    receiver.count("malformed")
                    raise
                if body is None:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no request message")
                assert body is not None  # abort() raises
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


class _TooLarge(Exception):
    """The body (inflated) went over the cap."""


async def _read_body(request: Any, wbits: int | None, limit: int) -> bytes:
    """The body, inflated as it arrives when ``wbits`` says how, never more than ``limit``
    bytes (raw or inflated: _TooLarge past it)."""
    inflater = zlib.decompressobj(wbits) if wbits is not None else None
    body = bytearray()
    received = 0
    async for chunk in request.content.iter_any():
        received += len(chunk)
        if received > limit:
            raise _TooLarge
        if inflater is None:
            body += chunk
            continue
        try:
            # At most one byte past the cap: a bomb costs the cap, not its size.
            body += inflater.decompress(chunk, limit + 1 - len(body))
        except zlib.error as error:
            raise MalformedRequest(f"the body is not valid {_encoding(wbits)}: {error}") from None
        if len(body) > limit:
            raise _TooLarge
        if inflater.eof:
            break
    if inflater is not None and not inflater.eof:
        raise MalformedRequest(f"the body is not valid {_encoding(wbits)}: it is truncated")
    return bytes(body)


def _encoding(wbits: int | None) -> str:
    return next(name for name, bits in ENCODINGS.items() if bits == wbits and name)


@functools.cache
async def _one_message(messages: Any) -> bytes | None:
    """The call's one request message (an Export call is unary; a second is malformed).
    None when none arrived: gRPC has already failed the call (a message over the cap,
    the caller gone), or the caller sent none."""
    body: bytes | None = None
    async for message in messages:
        if body is not None:
            raise MalformedRequest("an Export call carries one request message, got more")
        body = message
    return body


def _token_check() -> Any:
    import grpc

    class TokenCheck(grpc.aio.ServerInterceptor):
        """The token checked from the call's metadata before its message is read, so a
        caller without it costs no message's memory."""

        def __init__(self, receiver: Receiver) -> None:
            self._receiver = receiver

        async def intercept_service(self, continuation: Any, details: Any) -> Any:
            return _refusal_handler(self._receiver, details) or await continuation(details)

    return TokenCheck


def _refusal_handler(receiver: Receiver, details: Any) -> Any:
    """A handler that answers UNAUTHENTICATED without reading the request (None when the
    call carries the token)."""
    import grpc

    metadata = {key.lower(): value for key, value in details.invocation_metadata or ()}
    credentials = metadata.get("authorization")
    try:
        receiver.authorize(credentials if isinstance(credentials, str) else None)
    except Refused as refused:
        message = str(refused)

        # A stream handler: it answers without reading the request stream.
        async def refuse(requests: Any, context: Any) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        return grpc.stream_unary_rpc_method_handler(refuse)
    return None


@functools.cache
def _limited_site() -> Any:
    from aiohttp import web  # the 'serve' extra: imported when serve starts
    from aiohttp.web_protocol import RequestHandler

    class LimitedSite(web.TCPSite):
        """A TCP site with at most ``limit`` connections: past it, the oldest idle one
        (waiting for a request, or for its headers) open for :data:`EVICT_AFTER_S` or
        more is closed to make room, else the new one is refused (a burst of new
        connections does not push out those that have just arrived)."""

        def __init__(self, runner: Any, *args: Any, limit: int, refused: Any, **kw: Any):
            super().__init__(runner, *args, **kw)
            self._limit = limit
            self._refused = refused

        async def start(self) -> None:
            await web.BaseSite.start(self)  # registers the site with its runner
            server = self._runner.server
            assert server is not None  # the runner is set up before its sites start
            loop = asyncio.get_running_loop()
            limit, refused = self._limit, self._refused
            #: Every connection from its acceptance to its end, oldest first (the
            #: server's own list starts later, so a burst would overshoot it).
            live: dict[Any, float] = {}

            class Counted(RequestHandler):
                def connection_lost(self, exc: BaseException | None) -> None:
                    live.pop(self, None)
                    super().connection_lost(exc)

            def accept() -> Any:
                now = loop.time()
                if len(live) >= limit:
                    idle = next(
                        (c for c, t in live.items() if now - t >= EVICT_AFTER_S and _is_idle(c)),
                        None,
                    )
                    if idle is None:
                        refused()
                        return _Refusal()
                    live.pop(idle)
                    idle.force_close()
                handler = Counted(server, loop=loop, **server._kwargs)
                live[handler] = now
                return handler

            self._server = await loop.create_server(
                accept, self._host, self._port, backlog=self._backlog
            )
            self._bound_port = self._server.sockets[0].getsockname()[1]

    return LimitedSite


def _is_idle(handler: Any) -> bool:
    """True for a connection waiting for its next request (or for its headers)."""
    waiter = getattr(handler, "_waiter", None)
    return waiter is not None and not waiter.done()


class _Refusal(asyncio.Protocol):
    """A connection over the limit: closed at once."""

    def connection_made(self, transport: Any) -> None:
        transport.close()


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
        "refused_unwritable": 0,
        "refused_connections": 0,
        "body_timeout": 0,
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
    from otel_obs.exporters.engines import engine_for
    from otel_obs.queries.listings import unmapped_spans

    try:
        rows, waiting = unmapped_spans(db_path)
    except engine_for(db_path).errors:  # a store that cannot be read: its failures counted above
        return {}
    return {
        "unmapped_spans": {f"{r['scope']}: {r['name']}": r["spans"] for r in rows},
        "spans_waiting_for_parent": waiting,
    }


def serve(settings: ServeSettings) -> dict[str, Any]:
    """Run the receiver in this process until SIGTERM/SIGINT (``otel-obs serve``)."""
    settings.check()
    problem = store_problem(settings.db_path, settings.transcripts_dir)
    if problem:
        raise ValueError(problem)

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
