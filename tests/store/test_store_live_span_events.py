"""A live span whose events grow while the store snapshots it loses nothing."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace import TracerProvider

from otel_obs.exporters.span_record import Recorder


def test_a_snapshot_of_a_span_gaining_events_on_another_thread_never_fails():
    span = TracerProvider().get_tracer("t").start_span("task T1")
    for i in range(50):
        span.add_event(f"e{i}", {"i": i})
    stop = threading.Event()

    def add_events() -> None:
        n = 0
        while not stop.is_set():
            span.add_event("more", {"n": n})
            n += 1

    adder = threading.Thread(target=add_events)
    adder.start()
    recorder = Recorder()
    try:
        for _ in range(2000):
            wire = recorder.wire(span)  # what the sender does with a queued live span
            assert len(wire[5]) >= 50
    finally:
        stop.set()
        adder.join()
        span.end()
