"""Cost of redaction on the agent's thread: this tree's rules against a baseline's.

Redaction runs on every text a producer hands on, on the agent's thread, so a
text holding no secret must cost what it cost before the rule set grew. This
script loads ``otel_obs/redaction.py`` and ``otel_obs/secret_rules.py`` as they
are at a git revision (``--baseline``, default ``main``) next to the ones of
this tree, and times both in the same run, interleaved, on:

- a short text (a shell command), and a short one that holds a trigger word;
- 16 KB of tool output without a secret: a source file, and a log full of
  commit hashes, UUIDs, URLs and upper-case words (where the shapes of tokens
  without a fixed prefix could fire);
- ``safe_json`` of a typical tool input (a ``Bash`` command, an ``Edit``);
- 16 KB with a secret in it (the cost a text with a trigger may pay).

Each case is timed in ``--samples`` samples of enough calls for about 20 ms;
the median per call is printed with the ratio new / baseline. Target: within
10% of the baseline on the texts without a secret.

    python benchmarks/bench_redaction.py [--baseline main] [--samples 15]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.10

SHORT = "cd src && ls -la otel_obs/exporters && git status --short"
SHORT_TRIGGER = "grep -rn 'passing' tests/ | head -20"

_SOURCE_LINES = [
    "def build_index(rows: list[dict[str, Any]], *, limit: int = 100) -> dict[str, int]:",
    '    """Map each name to its position, keeping the first of equal names."""',
    "    index: dict[str, int] = {}",
    "    for position, row in enumerate(rows[:limit]):",
    '        name = row.get("name") or f"row-{position}"',
    "        index.setdefault(name, position)",
    "    return index",
    "",
    "class ScheduleWindow:",
    "    def __init__(self, start: float, end: float) -> None:",
    "        if end < start:",
    '            raise ValueError(f"window ends before it starts: {start} > {end}")',
    "        self.start, self.end = start, end",
    "",
]
_LOG_LINES = [
    "commit 3f9c2a7b1e4d5f60718293a4b5c6d7e8f9012345",
    "Merge: 1a2b3c4 5d6e7f8",
    "Date:   Mon Jan 5 08:00:00 2026 +0000",
    "    Fix ordering of DEFAULT_TIMEOUT and MAX_RETRIES in the HTTP client (ACME-1234)",
    "GET https://example.com/api/v2/items/9f8e7d6c-5b4a-3210-fedc-ba9876543210 200 OK",
    "INFO  scheduler: job 6ba7b810-9dad-11d1-80b4-00c04fd430c8 ASSIGNED to worker-07",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "WARNING: ASCII fallback for CSV export; see https://docs.example.org/export#csv",
    "",
]


def sixteen_kb(lines: list[str]) -> str:
    block = "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(lines * 400, 1))
    return block[:16_384]


SOURCE_16K = sixteen_kb(_SOURCE_LINES)
LOG_16K = sixteen_kb(_LOG_LINES)
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
SECRET_16K = SOURCE_16K[:8_000] + f"\ndeploy --key={STRIPE}\n" + SOURCE_16K[8_000:16_300]
BASH_INPUT = {
    "command": "python -m pytest tests/test_scheduler.py -q -x --timeout 60",
    "description": "Run the scheduler tests",
    "timeout": 120000,
}
EDIT_INPUT = {
    "file_path": "/home/dev/project/src/scheduler/window.py",
    "old_string": "\n".join(_SOURCE_LINES[8:13]),
    "new_string": "\n".join(_SOURCE_LINES[8:13]).replace("end < start", "end <= start"),
    "replace_all": False,
}


def load_baseline(revision: str, into: Path) -> ModuleType:
    """``otel_obs.redaction`` as it is at ``revision``, as a package of its own.

    Its ``settings`` is this tree's (the variables it reads are the same).
    """
    package = into / "_redaction_baseline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        "import sys\nimport otel_obs.settings\nsys.modules[__name__] = otel_obs.settings\n"
    )
    for name in ("redaction.py", "secret_rules.py"):
        try:
            source = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{revision}:otel_obs/{name}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except subprocess.CalledProcessError as exc:
            sys.exit(f"cannot read otel_obs/{name} at {revision!r}: {exc.stderr.strip()}")
        (package / name).write_text(source)
    sys.path.insert(0, str(into))
    return importlib.import_module("_redaction_baseline.redaction")


def per_call(fn: Callable[[], Any]) -> float:
    """Seconds per call of ``fn`` over about 20 ms."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= 0.02:
            return elapsed / calls
        calls *= 2 if elapsed < 0.005 else 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()

    from otel_obs import redaction as new

    with tempfile.TemporaryDirectory() as tmp:
        old = load_baseline(args.baseline, Path(tmp))
        cases: list[tuple[str, bool, Callable[[Any], Callable[[], Any]]]] = [
            ("short text", True, lambda m: lambda: m.redact_text(SHORT)),
            ("short text, trigger word", False, lambda m: lambda: m.redact_text(SHORT_TRIGGER)),
            ("16 KB source", True, lambda m: lambda: m.redact_text(SOURCE_16K)),
            ("16 KB log (hashes, URLs)", True, lambda m: lambda: m.redact_text(LOG_16K)),
            ("safe_json Bash input", True, lambda m: lambda: m.safe_json(BASH_INPUT, 16_384)),
            ("safe_json Edit input", True, lambda m: lambda: m.safe_json(EDIT_INPUT, 16_384)),
            ("16 KB with a Stripe key", False, lambda m: lambda: m.redact_text(SECRET_16K)),
        ]
        for module in (old, new):  # rules built, library read: not part of a call's cost
            module.redact_text(SECRET_16K)
        print(f"baseline: {args.baseline}; {args.samples} samples, medians per call")
        print(f"{'case':<28} {'baseline':>11} {'this tree':>11} {'ratio':>7}")
        failed = []
        for name, no_secret, make in cases:
            timings: dict[str, list[float]] = {"old": [], "new": []}
            fns = {"old": make(old), "new": make(new)}
            for _ in range(args.samples):
                for which in ("old", "new"):
                    timings[which].append(per_call(fns[which]))
            before = statistics.median(timings["old"])
            after = statistics.median(timings["new"])
            ratio = after / before
            mark = ""
            if no_secret and ratio > TARGET_RATIO:
                mark = "  over target"
                failed.append(name)
            print(f"{name:<28} {before * 1e6:>9.2f}µs {after * 1e6:>9.2f}µs {ratio:>6.2f}x{mark}")
        leaked = STRIPE in new.redact_text(SECRET_16K)
        print(f"Stripe key redacted by this tree: {not leaked}")
        if failed:
            print(f"over {TARGET_RATIO:.2f}x the baseline without a secret: {', '.join(failed)}")


if __name__ == "__main__":
    main()
