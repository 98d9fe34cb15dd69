"""The pipe between an agent's process store and its writer process: messages and frames.

Frames are length-prefixed (:data:`HEADER`). Agent → writer: ``("batch", n,
items)`` and ``("flush", token)``; writer → agent: ``("ack", n)`` once batch
``n`` is written, ``("stats", stats)`` after each write and ``("flushed",
token, stats)``.

A batch's items are the queue's items (:mod:`.items`) with each span as its
wire tuple (:meth:`.span_record.Recorder.wire`). A batch whose items are all
span operations goes as ``marshal`` data (:func:`dumps_batch`): each item
becomes (op as an int, wire tuple, further arguments), all plain tuples,
dicts, strings and numbers, which ``marshal`` writes and reads faster than
``pickle`` (no per-container call into Python, no memo). Both ends run the
same interpreter (the writer process is started with ``sys.executable``), so
the format cannot differ. Any other batch (rows mapped elsewhere, values
marshal cannot hold) is pickled as it is (:func:`dumps_items`): the pickler
turns each span into its wire tuple as it writes it. :func:`loads_message`
reads either, with spans as :class:`.span_record.SpanRecord` s.
"""

from __future__ import annotations

import io
import marshal
import os
import pickle
import select
import struct
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otel_obs._internal_errors import internal_errors

from .items import OPS, Item, Op
from .span_record import Recorder, SpanRecord, is_wire, record_from_wire

#: A frame's length prefix.
HEADER = struct.Struct("!I")
#: The first byte of a marshalled frame (a pickle starts with its PROTO opcode, 0x80).
MARSHAL_TAG = b"M"
_MARSHAL_VERSION = 4  # shares repeated objects (a batch's one resource dict) by reference
#: The ops whose items carry a span (second element) that marshal can send as its wire tuple.
_SPAN_OPS = frozenset({Op.START, Op.END, Op.START_END, Op.EVENT, Op.SPAN})


class SpanPickler(pickle.Pickler):
    """Pickles items unchanged, except that each SDK span goes as its wire tuple."""

    def __init__(self, file: Any, recorder: Recorder) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._wire = recorder.wire

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, ReadableSpan):
            return (record_from_wire, (self._wire(obj),))
        return NotImplemented


def dumps_items(recorder: Recorder, message: Any) -> bytes:
    """``message`` pickled with every SDK span in it as a record (see :class:`SpanPickler`)."""
    buffer = io.BytesIO()
    SpanPickler(buffer, recorder).dump(message)
    return buffer.getvalue()


def dumps_batch(recorder: Recorder, number: int, batch: list[Item]) -> bytes:
    """``("batch", number, batch)`` for the pipe: marshalled when every item allows it.

    An item allows it when its op carries a span and its span and further
    arguments are plain data; otherwise the batch is pickled
    (:func:`dumps_items`), which raises for what cannot be sent at all.
    """
    try:
        wired = _wired(recorder, batch)
        return MARSHAL_TAG + marshal.dumps(("batch", number, wired), _MARSHAL_VERSION)
    except (KeyError, TypeError, ValueError):
        return dumps_items(recorder, ("batch", number, spans_in(batch)))


def _wired(recorder: Recorder, batch: list[Item]) -> list[tuple[Any, ...]]:
    wire, span_ops = recorder.wire, _SPAN_OPS
    out = []
    for item in batch:
        op, span = item[0], item[1]
        if op not in span_ops:
            raise TypeError(f"not a span operation: {op!r}")
        if is_wire(span):  # a process store's joined tool use
            out.append((int(op), span, *item[2:]))
            continue
        if not isinstance(span, ReadableSpan | SpanRecord):
            raise TypeError(f"not a span: {type(span).__name__}")
        out.append((int(op), wire(span), *item[2:]))
    return out


def spans_in(items: list[Item]) -> list[Item]:
    """``items`` with each span queued as its wire tuple turned back into a record.

    A process store's queue holds joined tool uses as wire tuples (see
    ``ProcessStore._joined``); a store mapping in this process, or a pickled
    batch, needs them as spans.
    """
    return [
        (item[0], record_from_wire(item[1]), *item[2:])
        if len(item) > 1 and is_wire(item[1]) and item[0] in _SPAN_OPS
        else item
        for item in items
    ]


def loads_message(payload: bytes | memoryview) -> Any:
    """A message from :func:`dumps_batch` or :func:`dumps_items` (spans as records)."""
    if payload[:1] != MARSHAL_TAG:
        return pickle.loads(payload)
    message = marshal.loads(payload[1:])
    if message[0] != "batch":
        return message
    ops, record = OPS, record_from_wire
    return (
        "batch",
        message[1],
        [(ops[wired[0]], record(wired[1]), *wired[2:]) for wired in message[2]],
    )


def send(stream: Any, message: Any) -> None:
    """Write one pickled message as a frame (the writer's replies)."""
    payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def frame(payload: bytes) -> bytes:
    """``payload`` with its length prefix."""
    return HEADER.pack(len(payload)) + payload


class FrameReader:
    """Reads frames from a pipe, taking every complete frame already there.

    The writer's cost per batch (a transaction, a commit, the JSONL appends) is
    largely fixed, so while it writes one batch the next frames queue up in the
    pipe, and :meth:`messages` hands them over together: under load the
    batches grow to fit it, instead of staying as small as the sender sent them.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False

    def messages(self, max_items: int) -> list[Any] | None:
        """At least one message (waiting for it), plus all complete ones already sent.

        Stops adding once the batches taken hold ``max_items`` items. None at
        end-of-file, or at a frame that cannot be read (a torn or corrupt one).
        """
        out: list[Any] = []
        items = 0
        while True:
            message = self._next_complete()
            if message is _TORN:
                self._eof = True
                break
            if message is not None:
                out.append(message)
                if message[0] == "batch":
                    items += len(message[2])
                    if items >= max_items:
                        break
                continue
            if self._eof or (out and not self._readable()):
                break
            if not self._fill():
                break
        return out or None

    def _readable(self) -> bool:
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _fill(self) -> bool:
        try:
            chunk = os.read(self._fd, 1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _next_complete(self) -> Any:
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            return None
        size = HEADER.unpack_from(buffer)[0]
        end = HEADER.size + size
        if len(buffer) < end:
            return None
        # A whole frame that does not decode: the stream cannot be trusted past it.
        with internal_errors("store.frame"):
            message = loads_message(memoryview(buffer)[HEADER.size : end])
            del buffer[:end]
            return message
        return _TORN


_TORN = object()


__all__ = [
    "FrameReader",
    "HEADER",
    "MARSHAL_TAG",
    "SpanPickler",
    "dumps_batch",
    "dumps_items",
    "frame",
    "loads_message",
    "send",
    "spans_in",
]
