"""The writer process: reads a process store's frames from stdin and writes them.

Started by :class:`.process_store.ProcessStore` as ``python -m
otel_obs.exporters.writer_process CONFIG_JSON``. The batches waiting in the
pipe together are written as one (see :class:`.wire.FrameReader`); each is
acknowledged once written, and a flush is answered once everything before it
is. At end-of-file — the agent closed the pipe, or its process ended, even by
SIGKILL — it writes what it received and exits.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from otel_obs import redaction, settings
from otel_obs.redaction import configure_redaction, current_rules
from otel_obs.store_location import CHILD_URL_ENV

from .wire import FrameReader, send
from .writer import StoreWriter


def serve(config: dict[str, Any], stream_in: Any, stream_out: Any) -> None:
    """Write what arrives on ``stream_in`` until end-of-file, then close the store."""
    batch_items = settings.BATCH_ITEMS.resolve(config.get("batch_items"))
    writer = StoreWriter(
        os.environ.pop(CHILD_URL_ENV, "") or config["db"],
        config["transcripts"],
        busy_timeout_ms=config.get("busy_timeout_ms"),
        retry_window_ms=config.get("retry_window_ms"),
        dedicated=True,
    )
    writer.open()
    # The rule set is built once, while the agent starts (its detect-secrets part takes
    # some 0.1 s), not when the first payload left raw arrives: the agent's rules then
    # cost only their own compilation (see the "rules" message below).
    current_rules()
    reader = FrameReader(stream_in.fileno())
    replies_ok = True
    # Unpickling and mapping a batch allocate many containers and free them all
    # when it is written: the cyclic collector, left on, would rescan the growing
    # batch again and again (most of the writer's time). Collect once per batch.
    gc.freeze()
    gc.disable()
    while True:
        messages = reader.messages(batch_items)
        if messages is None:
            break
        items: list[Any] = []
        written: list[int] = []
        replies: list[Any] = []
        for message in messages:
            kind = message[0]
            if kind == "batch":
                items.extend(message[2])
                written.append(message[1])
            elif kind == "flush":
                if items:
                    _write(writer, items)
                    items = []
                replies.extend(("ack", number) for number in written)
                written = []
                replies.append(("flushed", message[1], _stats(writer)))
            elif kind == "rules":
                # The agent's redaction rules, for the payloads it left raw: what
                # was sent before them is written by the rules it was sent under.
                if items:
                    _write(writer, items)
                    items = []
                configure_redaction(message[1], message[2])
        if items:
            _write(writer, items)
        replies.extend(("ack", number) for number in written)
        if written:
            # The counters as of this write, so the agent's stats() lag by a batch at most.
            replies.append(("stats", _stats(writer)))
        del messages, items
        gc.collect(1)
        if replies_ok:
            try:
                for reply in replies:
                    send(stream_out, reply)
            except OSError:
                replies_ok = False  # the agent is gone: keep writing what it sent
    writer.close()


def _stats(writer: StoreWriter) -> dict[str, Any]:
    """The writer's counters, with what redaction did here (the agent adds it to its own)."""
    return {**writer.stats(), "redaction": redaction.stats()}


def _write(writer: StoreWriter, items: list[Any]) -> None:
    """Write ``items``; after a passing fault, wait for the batch to be written or given up.

    Nothing more is read meanwhile, so the agent's queue absorbs the outage
    (and only a full queue drops, counted).
    """
    writer.write_items(items)
    while writer.pending:
        time.sleep(writer.retry_in())
        writer.retry()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit("usage: python -m otel_obs.exporters.writer_process CONFIG_JSON")
    # Ctrl-C goes to the whole process group; the writer ends on end-of-file
    # instead, after writing what the agent sent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="otel-obs writer: %(message)s")
    serve(json.loads(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
