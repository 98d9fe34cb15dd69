"""The store written by a separate process: the agent's process only snapshots and ships.

In one process, everything the store does in Python (mapping, JSONL) holds the
GIL the agent's threads need, so the agent's cost and the store's throughput
limit each other. A :class:`ProcessStore` has the interface of every store
(:class:`.queue_front.QueueFront`), but its consumer thread (the sender) only
turns queued items into frames (:mod:`.wire`) and writes them to a pipe. A
writer process (:mod:`.writer_process`) reads them and hands them to a
:class:`.writer.StoreWriter`: same mapping, same batches, same sequence
numbering inside the write transaction, so every invariant of the store holds
unchanged. A batch stays with the agent until the writer acknowledges it.

Failure never reaches the agent. If the writer process cannot start or dies
(its pipe breaks or closes), the failure is counted, and the store hands over
to the replacement it was given (see :mod:`.store_choice`: a thread store), into
which every unacknowledged batch is put again first: re-delivery is harmless
(ingest is idempotent), loss is not. The writer process never outlives the
agent: when the agent's process ends — even by SIGKILL — the pipe's write end
closes, the writer sees end-of-file, writes what it has received, and exits.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import json
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from otel_obs._internal_errors import internal_errors
from otel_obs.redaction import add_writer_counts, current_rules
from otel_obs.store_location import CHILD_URL_ENV, ServerStore, StoreArg, StoreLocation

from .items import FlushMarker, Item, Op
from .queue_front import QueueFront, Replacement
from .wire import FrameReader, dumps_batch, dumps_items, frame, loads_message, spans_in
from .writer import writer_stats

logger = logging.getLogger(__name__)

#: The sender takes the queue once this many items wait (or every flush
#: interval): spans then leave the agent's process within milliseconds, before
#: the cyclic collector has promoted them to its oldest generation, where each
#: full collection would scan them all again.
SEND_ITEMS = 512
#: The pipe buffer asked for (1 MiB, Linux's default limit for unprivileged processes).
PIPE_BYTES = 1 << 20
#: How often a sender waiting for room in the pipe also takes new spans off the queue.
WRITABLE_POLL_S = 0.005
#: How long ``close`` waits for the writer process to exit after end-of-file.
EXIT_TIMEOUT_S = 30.0


class ProcessStore(QueueFront):
    """A store whose mapping and writing run in a writer process (see the module docstring).

    ``settings``: the store settings of :data:`otel_obs.settings.STORE_SETTINGS`
    by name (None or absent: the variable, else the default).
    """

    def __init__(
        self,
        db_path: StoreArg,
        transcripts_dir: str | os.PathLike[str],
        *,
        replacement: Replacement | None = None,
        **settings: int | None,
    ) -> None:
        self._init_queue(
            db_path,
            transcripts_dir,
            settings,
            wake_items=SEND_ITEMS,
            replacement=replacement,
        )
        self._lock = threading.Lock()
        self._batch_no = 0
        #: Batches sent and not yet acknowledged, by number (put again on a fail-over).
        self._unacked: dict[int, bytes] = {}
        self._waiting: dict[int, FlushMarker] = {}
        self._next_token = 0
        self._writer_stats: dict[str, Any] = {}
        self._stats: dict[str, Any] = {
            "items": 0,
            **self._queue_stats(),
            "mapping_errors": 0,
            "batches_sent": 0,
            "writer_process_failures": 0,
        }
        self._proc: subprocess.Popen[bytes] | None = None
        #: The pipe to the writer process, non-blocking, and the frames waiting for it.
        self._fd: int | None = None
        self._outgoing: collections.deque[tuple[memoryview, int]] = collections.deque()
        self._outgoing_items = 0
        #: The writer process failed and nothing took over: what is put is refused.
        self._lost = False
        #: The redaction rules last sent to the writer process (see _send_rules).
        self._rules_sent: Any = None
        #: Names this store's writer process in the redaction counts (see _read_replies).
        self._counts_key = object()
        try:
            self._proc = _spawn(self.db_path, self.transcripts_dir, self.settings)
            if self._proc.stdin is not None:
                self._fd = self._proc.stdin.fileno()
                os.set_blocking(self._fd, False)
        except (OSError, ValueError) as exc:
            self._fail_over(f"cannot start the writer process: {exc}")
        self._reader = threading.Thread(
            target=self._read_replies, name="otel-obs-writer-replies", daemon=True
        )
        if self._proc is not None:
            self._reader.start()
        self._thread = threading.Thread(
            target=self._run, name=f"otel-obs-sender:{self.db_path.name}", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------
    # agent side: the interface of Store
    # ------------------------------------------------------------------

    def _drop_inherited(self) -> None:
        # The child's copies of the pipe's ends: closed, so the parent's writer
        # process still sees end-of-file when the parent is done. The process
        # itself is the parent's to end.
        proc = self._proc
        for stream in (proc.stdin, proc.stdout) if proc is not None else ():
            try:
                if stream is not None:
                    stream.close()  # through its file object, which owns the descriptor
            except OSError:
                pass
        self._fd = None
        self._proc = None
        self._outgoing.clear()
        self._unacked.clear()
        self._waiting.clear()
        if self._delegate is not None:
            self._delegate._drop_inherited()  # noqa: SLF001 - the parent's fallback, in the child
            self._delegate = None

    def _joined(self, span: Any) -> Any:
        return self._recorder.wire(span, ended=True)  # what the sender would send

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued before this call is in SQLite and JSONL."""
        if not self._thread.is_alive():
            fallback = self._delegate
            return fallback.flush(timeout_s) if fallback is not None else not self._queue
        # Through the queue even after a fail-over: what still waits here goes to
        # the fallback store first (the sender hands it over, then flushes it).
        with self._lock:
            self._next_token += 1
            marker = FlushMarker(self._next_token)
        self._queue.append((Op.FLUSH, marker))
        self._wake.set()
        done = marker.event.wait(timeout_s)
        fallback = self._delegate
        if fallback is not None:
            # The writer process failed while we waited: the fallback has it all now.
            return fallback.flush(timeout_s)
        return done

    def _close(self, timeout_s: float) -> bool:
        """Flush, end the writer process (end-of-file on its pipe), stop."""
        deadline = time.monotonic() + timeout_s

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        done = self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        self._thread.join(left())
        self._end_process(left())
        if self._delegate is not None:
            done = self._delegate.close(left()) and done
        return done

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid (None when it could not start)."""
        return self._proc.pid if self._proc is not None else None

    def stats(self) -> dict[str, Any]:
        """The writer process's counters (as of the last batch it wrote) with the agent side's."""
        out = writer_stats()
        for source in (self._writer_stats, self._delegate.stats() if self._delegate else {}):
            for key, value in source.items():
                if key == "failures_by_kind":
                    for kind, n in value.items():
                        out[key][kind] = out[key].get(kind, 0) + n
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    out[key] = out.get(key, 0) + value
        for key, value in self._stats.items():
            if key != "items":
                out[key] = out.get(key, 0) + value
        failures = self._stats["writer_process_failures"]
        if failures:
            out["failures"] += failures
            out["failures_by_kind"]["writer_process"] = failures
        # The fallback's queue too (summed above): a receiver sees a store falling behind.
        out["queue_depth"] = out.get("queue_depth", 0) + len(self._queue)
        out["sqlite_ok"] = (
            self._delegate.stats()["sqlite_ok"]
            if self._delegate is not None
            else bool(self._writer_stats.get("sqlite_ok", True))
        )
        out["writer"] = "thread" if self._delegate is not None else "process"
        return out

    # ------------------------------------------------------------------
    # sender thread
    # ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            if self._outgoing:
                # The pipe is full: wait for it, and keep turning queued spans
                # into bytes meanwhile (see _drain).
                self._wait_writable(WRITABLE_POLL_S)
            else:
                self._wake.wait(self._interval_s)
            self._wake.clear()
            with internal_errors("store.sender"):  # a bug must not stop the sender
                self._drain()
            if self._stopping and not self._queue and not self._outgoing:
                break

    def _drain(self) -> None:
        """Send what is queued, as far as the pipe takes it; pickle the rest ahead.

        While the writer process is behind, the pipe fills; the batches the
        sender pickles then wait here as bytes (no work for the cyclic
        collector) instead of as spans in the queue, up to ``queue_capacity``
        items, beyond which the queue itself fills and ``put`` waits.
        """
        queue = self._queue
        self._pump()
        while queue and self._outgoing_items < self._capacity:
            items = self._take(self._batch_items)
            if self._delegate is not None:
                self._hand_to_fallback(items)
                continue
            # Not paired here (items.coalesce): tool spans come joined already
            # (QueueFront.put_end), and the writer pairs what frames bring together.
            batch: list[Item] = []
            for item in items:
                if item[0] is not Op.FLUSH:
                    batch.append(item)
                    continue
                if batch:
                    self._send_batch(batch)
                    batch = []
                self._send_flush(item[1])
            if batch:
                self._send_batch(batch)

    def _send_rules(self) -> None:
        """Tell the writer process the redaction rules in force, when they changed.

        It redacts the tool payloads the agent's thread left raw
        (``otel_obs.deferred_payloads``), and must do so by the agent's rules
        (``configure_redaction``), not by its own environment's.
        """
        rules = current_rules()
        if rules is self._rules_sent:
            return
        self._rules_sent = rules
        message = ("rules", list(rules.extra_patterns), list(rules.allow_patterns))
        self._write(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def _send_batch(self, batch: list[Any]) -> None:
        self._send_rules()  # before the batch: its payloads are redacted by them
        with self._lock:
            self._batch_no += 1
            number = self._batch_no
        try:
            payload = dumps_batch(self._recorder, number, batch)
        except (pickle.PicklingError, TypeError, AttributeError):  # what pickle says of a value
            batch = self._picklable(batch)
            payload = dumps_batch(self._recorder, number, batch)
        with self._lock:
            fallback = self._delegate
            if fallback is None:
                # Kept as the frame until acknowledged (a fail-over decodes it):
                # bytes are no work for the cyclic collector, the records would be.
                self._unacked[number] = payload
        if fallback is not None:
            self._hand_to_fallback(batch)
            return
        self._stats["items"] += len(batch)
        self._stats["batches_sent"] += 1
        self._write(payload, len(batch))

    def _picklable(self, batch: list[Any]) -> list[Any]:
        """The items of ``batch`` that can be pickled; the others are counted as mapping errors."""
        kept = []
        for item in spans_in(batch):
            with internal_errors("store.pickle") as caught:
                dumps_items(self._recorder, item)
            if caught.error is not None:
                self._stats["mapping_errors"] += 1
                continue
            kept.append(item)
        return kept

    def _send_flush(self, marker: FlushMarker) -> None:
        with self._lock:
            if self._delegate is None:
                self._waiting[marker.token] = marker
        if self._delegate is not None:
            self._hand_to_fallback([(Op.FLUSH, marker)])
            return
        self._write(pickle.dumps(("flush", marker.token), pickle.HIGHEST_PROTOCOL))

    def _write(self, payload: bytes, items: int = 0) -> None:
        """Queue a frame for the pipe and write what the pipe takes now (never blocks)."""
        if self._fd is None or self._delegate is not None:
            self._fail_over("the writer process is gone")
            return
        self._outgoing.append((memoryview(frame(payload)), items))
        self._outgoing_items += items
        self._pump()

    def _pump(self) -> None:
        """Write queued frames until the pipe is full (the pipe is non-blocking)."""
        outgoing, fd = self._outgoing, self._fd
        if self._delegate is not None:
            # Failed over: every frame here is also unacknowledged, so the
            # fallback store has its items already.
            outgoing.clear()
            self._outgoing_items = 0
            return
        while outgoing and fd is not None:
            chunk, items = outgoing[0]
            try:
                written = os.write(fd, chunk)
            except BlockingIOError:
                return
            except (OSError, ValueError) as exc:
                self._fail_over(f"writing to the writer process failed: {exc}")
                return
            if written < len(chunk):
                outgoing[0] = (chunk[written:], items)
                continue
            outgoing.popleft()
            self._outgoing_items -= items

    def _wait_writable(self, timeout_s: float) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            select.select([], [fd], [], timeout_s)
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------------
    # replies
    # ------------------------------------------------------------------

    def _read_replies(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        # From the descriptor, not through the buffered file object: a read
        # blocked in that object holds its lock, which a forked child would
        # inherit held and then hang on (or die at exit) closing the object.
        reader = FrameReader(self._proc.stdout.fileno())
        while True:
            messages = reader.messages(sys.maxsize)
            if messages is None:
                break
            for message in messages:
                kind = message[0]
                if kind == "ack":
                    self._unacked.pop(message[1], None)
                elif kind == "stats":
                    self._writer_stats = message[1]
                    add_writer_counts(self._counts_key, message[1].get("redaction"))
                elif kind == "flushed":
                    self._writer_stats = message[2]
                    # Before the flush returns: what the writer redacted and cut is counted.
                    add_writer_counts(self._counts_key, message[2].get("redaction"))
                    marker = self._waiting.pop(message[1], None)
                    if marker is not None:
                        marker.set()
        if not self._stopping:
            self._fail_over("the writer process ended")

    # ------------------------------------------------------------------
    # failure: an in-process store takes over
    # ------------------------------------------------------------------

    def _fail_over(self, reason: str) -> None:
        with self._lock:
            if self._delegate is not None:
                return
            pending = [loads_message(self._unacked[n])[2] for n in sorted(self._unacked)]
            self._unacked.clear()
            if self._lost:
                self._stats["lost_items"] += sum(len(batch) for batch in pending)
                return  # failed over before, with nothing to take over
            self._stats["writer_process_failures"] += 1
            logger.warning("otel-obs store: %s; writing from this process instead", reason)
            fallback = self._make_replacement("failed")
            if fallback is None:
                self._lost = True
                # Nothing takes over: what was sent is lost (counted), later puts are refused.
                self._stats["lost_items"] += sum(len(batch) for batch in pending)
                self._stopping = True
                self._fd = None
            else:
                for batch in pending:
                    for item in batch:
                        fallback.put(item, block=True)
                self._delegate = fallback
            waiting = list(self._waiting.values())
            self._waiting.clear()
        if waiting and fallback is not None:
            fallback.flush()
        for marker in waiting:
            marker.set()
        self._room.set()

    def _hand_to_fallback(self, items: list[Any]) -> None:
        assert self._delegate is not None
        for item in spans_in(items):
            if item[0] is Op.FLUSH:
                self._delegate.flush()
                item[1].set()
            else:
                self._delegate.put(item, block=True)

    def _end_process(self, timeout_s: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end-of-file: the writer writes what it has and exits
        except OSError:
            pass
        try:
            proc.wait(min(timeout_s, EXIT_TIMEOUT_S))
        except subprocess.TimeoutExpired:
            # A writer that stopped progressing (a hung disk): what it had not
            # written is lost, and counted, rather than waited for without end.
            proc.kill()
            proc.wait()
            with self._lock:
                lost = sum(len(loads_message(p)[2]) for p in self._unacked.values())
                self._unacked.clear()
            self._stats["lost_items"] += lost + self._outgoing_items
            logger.warning(
                "otel-obs writer process %d did not exit in time; killed it (%d items lost)",
                proc.pid,
                lost + self._outgoing_items,
            )
        self._reader.join(1)
        if proc.stdout is not None:
            proc.stdout.close()


# ----------------------------------------------------------------------
# the pipe
# ----------------------------------------------------------------------


def _spawn(
    db: StoreLocation, transcripts: Path, settings: dict[str, int]
) -> subprocess.Popen[bytes]:
    config = json.dumps({"db": str(db), "transcripts": str(transcripts), **settings})
    env = writer_environment()
    if isinstance(db, ServerStore):
        # The URL may hold a password: through the environment, never the command line.
        env[CHILD_URL_ENV] = db.url
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_obs.exporters.writer_process", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
        start_new_session=False,
        env=env,
    )
    if proc.stdin is not None:
        _grow_pipe(proc.stdin.fileno())
    return proc


#: Where ``opentelemetry-instrument`` puts its ``sitecustomize`` (a PYTHONPATH entry).
_AUTO_INSTRUMENTATION = os.path.join("opentelemetry", "instrumentation", "auto_instrumentation")


def writer_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The writer process's environment: the agent's, without auto-instrumentation.

    Under ``opentelemetry-instrument`` the agent's ``PYTHONPATH`` starts with
    the directory of its ``sitecustomize``, which would boot the distro (and
    instrument, and configure exporters) in the writer too. The writer only
    writes SQLite and JSONL: that entry is removed and ``OTEL_SDK_DISABLED``
    is set, so nothing in it traces or exports.
    """
    env = dict(os.environ if environ is None else environ)
    entries = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    kept = [p for p in entries if not os.path.normpath(p).endswith(_AUTO_INSTRUMENTATION)]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        env.pop("PYTHONPATH", None)
    env["OTEL_SDK_DISABLED"] = "true"
    return env


def _grow_pipe(fd: int) -> None:
    """Let the pipe hold what the sender sends while the writer commits (Linux; else as is).

    With the default 64 KiB a busy writer blocks the sender after a few
    hundred tool uses, and the spans wait in the agent's queue instead.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except OSError:
        pass  # above the system's limit: the default size still works


__all__ = ["ProcessStore"]
