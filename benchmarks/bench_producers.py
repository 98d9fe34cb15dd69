"""Cost of a tool use on the agent's thread: log_start + log_end against a bare span pair.

Target: ``ToolUseLogger.log_start`` + ``log_end`` costs at most 3× a bare
OpenTelemetry ``start_span`` + ``end`` on the same provider. Two providers are
measured:

- ``batch``: a ``BatchSpanProcessor`` with an exporter that drops everything
  (the cost of tracing alone);
- ``store``: the real local store pipeline (``get_pipeline`` on a temporary
  database), where the transcript processor's on_start/on_end count too.

    python benchmarks/bench_producers.py [--n 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_obs.config import get_pipeline
from otel_obs.pipeline import Pipeline
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

BLOCK_INPUT = {"file_path": "src/components/Button.tsx", "offset": 0, "limit": 200}
RESULT = {"content": "export function Button() { return null }\n" * 5, "is_error": False}


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def per_call_us(fn: Callable[[int], None], n: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean microseconds per call of ``fn``."""
    fn(min(n, 1000))  # warm up
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(n)
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def measure(pipeline: Pipeline, n: int, repeat: int) -> tuple[float, float]:
    tracer = pipeline.tracer
    writer = TranscriptWriter("bench", "agent-1", pipeline=pipeline)
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "task_start", "task_id": "T1"})

    def bare(count: int) -> None:
        for _ in range(count):
            tracer.start_span("execute_tool Read").end()

    def logged(count: int) -> None:
        for i in range(count):
            tool_id = tools.log_start({"id": f"toolu_{i}", "name": "Read", "input": BLOCK_INPUT})
            tools.log_end(tool_id, RESULT)

    bare_us = per_call_us(bare, n, repeat)
    logged_us = per_call_us(logged, n, repeat)
    writer.close()
    return bare_us, logged_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 20))
    results = {"batch": measure(Pipeline(provider), args.n, args.repeat)}
    provider.shutdown()

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = get_pipeline(Path(tmp) / "obs.db", Path(tmp) / "transcripts")
        results["store"] = measure(pipeline, args.n, args.repeat)
        pipeline.shutdown()

    print(
        f"{'provider':<8} {'bare span µs':>13} {'log_start+end µs':>17} {'ratio':>6}  target ≤ 3.0"
    )
    for name, (bare_us, logged_us) in results.items():
        ratio = logged_us / bare_us
        print(f"{name:<8} {bare_us:>13.2f} {logged_us:>17.2f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
