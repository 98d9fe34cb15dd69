"""Size and browser load-to-render time of the HTML report of a large execution.

One execution of 50 agents (5 waves of 10) and 50,000 tool uses (100 tasks of
500 tool uses, with skills, locks, assertions, errors and blocked commands) is
generated straight into the real schema by ``bench_tools``' generator, the
report is built, and Debian's Chromium (headless, through Playwright) loads it:
the time from navigation start until the page has rendered is
``performance.now()`` after two animation frames.

Targets: the file under 10 MB, rendered in under 2 s; building it is shown too.

    python benchmarks/bench_report.py [--db PATH] [--out report.html] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tools  # noqa: E402  (the generator of the tools' benchmark)

from otel_obs.report import write_report  # noqa: E402
from otel_obs.report.browser import find_chromium, open_report  # noqa: E402

# 5 waves × 10 agents = 50 agents; 5 × 20 tasks × 500 tool uses = 50,000 tool uses.
SHAPE = {"WAVES": 5, "AGENTS_PER_WAVE": 10, "TASKS_PER_WAVE": 20, "TOOL_USES_PER_TASK": 500}
TARGET_MB = 10.0
TARGET_RENDER_MS = 2000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(tempfile.gettempdir()) / "otel-obs-bench" / "bench-report.db",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    out = args.out or args.db.with_suffix(".html")

    args.db.parent.mkdir(parents=True, exist_ok=True)
    if not args.db.exists():
        for name, value in SHAPE.items():
            setattr(bench_tools, name, value)
        print(f"generating the execution into {args.db} …", file=sys.stderr)
        bench_tools.generate(args.db, executions=1)
    execution_id = "exec-000"

    started = time.perf_counter()
    write_report(args.db, execution_id, out)
    build_s = time.perf_counter() - started
    size_mb = out.stat().st_size / 1e6
    print(f"report: {out}")
    print(f"build:  {build_s:.2f} s")
    print(f"size:   {size_mb:.2f} MB (target < {TARGET_MB:g} MB)")

    chromium = find_chromium()
    if chromium is None:
        print("render: skipped, no Chromium (apt-get install chromium, or set $CHROMIUM)")
        return 1 if size_mb >= TARGET_MB else 0
    times, problems = [], []
    for _ in range(args.repeat):
        with open_report(out, chromium) as opened:
            times.append(opened.render_ms)
            problems += opened.problems
    render_ms = statistics.median(times)
    print(
        f"render: {render_ms:.0f} ms load-to-render, median of {args.repeat} "
        f"(target < {TARGET_RENDER_MS:g} ms); runs: {', '.join(f'{t:.0f}' for t in times)}"
    )
    if problems:
        print("console problems:\n  " + "\n  ".join(problems))
    return 0 if size_mb < TARGET_MB and render_ms < TARGET_RENDER_MS and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
