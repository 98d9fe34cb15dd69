"""Fuzz the producers far longer than the test suite does.

The property tests in ``tests/producers/test_producers_fuzz.py`` (arbitrary producer
calls leave a sound store) and ``tests/producers/test_redaction_properties.py``
(generated secrets reach no sink) run in CI with a fixed, fast Hypothesis
profile. This runs the same properties with the ``long`` profile (2,000
examples each, a fresh random seed unless given), where rarer inputs turn up.

    python benchmarks/fuzz_producers.py [--seed N] [--examples N] [--redaction]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="Hypothesis seed (default: random)")
    parser.add_argument(
        "--examples", type=int, help="examples per property (default: the long profile's)"
    )
    parser.add_argument(
        "--redaction", action="store_true", help="also run the redaction properties"
    )
    args = parser.parse_args(argv)
    if args.examples is not None and args.examples < 1:
        parser.error(f"--examples must be at least 1, got {args.examples}")
    tests = ["tests/producers/test_producers_fuzz.py"]
    if args.redaction:
        tests.append("tests/producers/test_redaction_properties.py")
    command = [sys.executable, "-m", "pytest", "-q", *tests, "--hypothesis-show-statistics"]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    env = {**os.environ, "HYPOTHESIS_PROFILE": "long"}
    if args.examples is not None:
        env["FUZZ_EXAMPLES"] = str(args.examples)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
