"""What the OTLP receiver does with a request, whatever transport brought it.

Both front ends (gRPC and HTTP, see :mod:`.server`) ask the same three
questions in the same order — may this caller send (token), can the store take
more now (backpressure), is the body an OTLP trace request (decoding) — and
hand the records to the store through the one exporter path, so they answer
alike and count alike.

Backpressure, not loss: a request is refused as a whole, before its body is
read, while the store's queue holds more than ``max_queue`` items or while
``max_requests`` requests are already in progress (being read, decoded or
queued). Both bounds matter: the first stops the queue from growing, the second
what waiting requests hold (a gRPC request arrives whole, an HTTP one fills its
connection's buffer), whatever the number of senders. The sender (an OTLP
exporter, a Collector's ``retry_on_failure``) tries again after the hint.

A success answer means the spans are committed: a request that is accepted is
queued whole (the exporter waits for room rather than dropping), and answered
only once the store has written everything queued up to it (one flush marker
per request; the writer commits the requests that wait together in one
transaction). A SIGKILL of ``serve`` then loses nothing it acknowledged. When
the store cannot commit them in ``commit_timeout_s``, or drops rows meanwhile,
the request is refused like a busy one: the sender sends it again, and a
redelivered span changes nothing.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SpanExportResult

from otel_obs.exporters.exporter import SqliteSpanExporter

from .decode import Decoded

#: Default for how many queued items make the receiver refuse (503 / RESOURCE_EXHAUSTED).
DEFAULT_MAX_QUEUE = 10_000
#: Default for how many requests may be in progress at once (more are refused the same way).
DEFAULT_MAX_REQUESTS = 16
#: What the refusal tells the sender to wait, in seconds (HTTP Retry-After, gRPC RetryInfo).
DEFAULT_RETRY_AFTER_S = 1
#: How long a request waits for its spans to be committed before it is refused (retried).
DEFAULT_COMMIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Outcome:
    """The answer to one request: accepted spans, rejected spans and why."""

    accepted: int
    rejected: int
    reason: str


class Refused(Exception):
    """A request the receiver will not take; ``kind`` says which answer it gets."""

    def __init__(self, kind: str, message: str, counter: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "unauthorized" | "busy" | "closing"
        #: The count it adds to (:attr:`Receiver.counts`): its kind's, unless it says which.
        self.counter = counter or f"refused_{kind}"


class Receiver:
    """Takes decoded requests into one store; counts everything it answered.

    ``store`` is a store of either kind (:mod:`otel_obs.exporters.store_choice`); the receiver owns
    it and closes it in :meth:`close`.
    """

    def __init__(
        self,
        store: Any,
        *,
        token: str | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        retry_after_s: int = DEFAULT_RETRY_AFTER_S,
        commit_timeout_s: float = DEFAULT_COMMIT_TIMEOUT_S,
    ) -> None:
        if max_queue <= 0:
            raise ValueError(f"max_queue must be a positive integer, got {max_queue!r}")
        if max_requests <= 0:
            raise ValueError(f"max_requests must be a positive integer, got {max_requests!r}")
        self.store = store
        self.retry_after_s = retry_after_s
        self._commit_timeout_s = commit_timeout_s
        self._exporter = SqliteSpanExporter(store)
        self._token = token.encode() if token else None
        self._max_queue = max_queue
        self._max_requests = max_requests
        self._lock = threading.Lock()
        self._closing = False
        self._admitted = 0
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self.counts: dict[str, int] = {
            "requests": 0,
            "spans_accepted": 0,
            "spans_rejected": 0,
            "refused_busy": 0,
            "refused_max_requests": 0,
            "refused_unauthorized": 0,
            "refused_closing": 0,
            "refused_not_committed": 0,
            "malformed": 0,
            "too_large": 0,
            "unsupported_media_type": 0,
            # Received texts cut to their caps (see decode.Decoded.capped): ids and span
            # names, payloads and other obs.* texts, and the characters that went.
            "ids_capped": 0,
            "texts_capped": 0,
            "capped_chars": 0,
        }

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def authorize(self, credentials: str | None) -> None:
        """Check an ``Authorization`` value (``Bearer <token>``) when a token is set."""
        if self._token is None:
            return
        given = b""
        if credentials:
            scheme, _, value = credentials.strip().partition(" ")
            if scheme.lower() == "bearer":
                given = value.strip().encode()
        if not hmac.compare_digest(given, self._token):
            self.count("refused_unauthorized")
            raise Refused("unauthorized", "missing or wrong bearer token")

    @contextmanager
    def admission(self) -> Iterator[None]:
        """A place among the requests in progress for as long as the block runs.

        Refused (before the body is read) while closing, while ``max_requests``
        requests hold a place, or while the store is behind.
        """
        depth = self.store.stats().get("queue_depth", 0)
        with self._lock:
            refused = self._refusal(depth)
            if refused is None:
                self._admitted += 1
            else:
                self.counts[refused.counter] += 1
        if refused is not None:
            raise refused
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def _refusal(self, depth: int) -> Refused | None:
        if self._closing:
            return Refused("closing", "the receiver is shutting down")
        if self._admitted >= self._max_requests:
            return Refused(
                "busy",
                f"{self._admitted} requests in progress (limit {self._max_requests}); "
                f"retry in {self.retry_after_s} s",
                counter="refused_max_requests",
            )
        if depth > self._max_queue:
            return Refused(
                "busy",
                f"the store is behind ({depth} items queued, limit {self._max_queue}); "
                f"retry in {self.retry_after_s} s",
            )
        return None

    def take(self, decoded: Decoded) -> Outcome:
        """Queue the records of one admitted request (blocking while the queue is full)."""
        with self._lock:
            if self._closing:
                self.counts["refused_closing"] += 1
                raise Refused("closing", "the receiver is shutting down")
            self._in_flight += 1
        accepted = 0
        try:
            if decoded.records:
                self._commit(decoded)
            accepted = len(decoded.records)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.counts["requests"] += 1
                self.counts["spans_accepted"] += accepted
                self.counts["spans_rejected"] += decoded.rejected
                self.counts["ids_capped"] += decoded.ids_capped
                self.counts["texts_capped"] += decoded.texts_capped
                self.counts["capped_chars"] += decoded.capped_chars
                self._idle.notify_all()
        return Outcome(len(decoded.records), decoded.rejected, decoded.reason)

    def _commit(self, decoded: Decoded) -> None:
        """Queue the records and wait until the store has committed them (see the module
        docstring); Refused when it cannot, so that nothing is acknowledged and lost."""
        dropped = self.store.stats().get("dropped_rows", 0)
        if self._exporter.export(decoded.records) != SpanExportResult.SUCCESS:
            raise Refused("closing", "the store is closed")  # nothing acknowledged
        committed = self.store.flush(self._commit_timeout_s)
        if committed and self.store.stats().get("dropped_rows", 0) == dropped:
            return
        raise Refused(
            "busy",
            "the store could not commit the spans"
            + ("" if committed else f" within {self._commit_timeout_s:g} s")
            + f"; retry in {self.retry_after_s} s",
            counter="refused_not_committed",
        )

    def close(self, timeout_s: float = 30.0) -> bool:
        """Refuse new requests, wait for those being queued, then flush and close the store."""
        with self._lock:
            self._closing = True
            self._idle.wait_for(lambda: self._in_flight == 0, timeout_s)
        return bool(self.store.close(timeout_s))


__all__ = [
    "DEFAULT_COMMIT_TIMEOUT_S",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_REQUESTS",
    "DEFAULT_RETRY_AFTER_S",
    "Outcome",
    "Receiver",
    "Refused",
]
