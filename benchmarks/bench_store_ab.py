"""The agent's cost per tool use, this tree against a baseline tree, alternated in one run.

Runs ``benchmarks/bench_store.py`` (``--big 0``: the short runs only) from a
baseline tree and from this one in turn, ``--rounds`` times each, the order
swapped every round (base, new; new, base; ...), so that a machine whose
speed drifts favours neither. Each run of ``bench_store.py`` measures its
own bare span pair next to each of its runs; this script reads its table and
prints, per writer mode and tree, the medians over the rounds: the bare pair,
the agent thread's wall and CPU time per tool use and their ratios to the
bare pair, and tool uses per second until flushed; then new / base.

The baseline is another checkout with its own environment (the package is
installed in editable mode, so each tree needs its own interpreter), e.g.::

    git worktree add ../base main
    (cd ../base && python3 -m venv .venv && .venv/bin/pip install -e ".[test]")
    python benchmarks/bench_store_ab.py --base ../base [--base-python ../base/.venv/bin/python]

Target (issue: the agent's hot path): the process writer's agent thread at
most 2× the bare pair, on wall and on CPU time.

    python benchmarks/bench_store_ab.py --base PATH [--rounds 2] [--n 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0
#: The columns of bench_store.py's table, as read here.
COLUMNS = ("writer", "n", "bare", "agent", "wall_x", "cpu", "cpu_x", "per_s")


def run_tree(python: str, tree: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """One run of ``bench_store.py`` in ``tree``: its table's rows by writer mode."""
    command = [
        python,
        str(tree / "benchmarks" / "bench_store.py"),
        "--n",
        str(args.n),
        "--big",
        "0",
        "--repeat",
        str(args.repeat),
        "--writers",
        args.writers,
    ]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True).stdout
    rows: dict[str, dict[str, float]] = {}
    writers = args.writers.split(",")
    for line in out.splitlines():
        fields = line.split()
        if fields[:1] == ["sqlite"]:  # a tree whose table starts with the engine
            fields = fields[1:]
        if len(fields) >= len(COLUMNS) and fields[0] in writers:
            numbers = [float(f) for f in fields[1 : len(COLUMNS)]]
            rows[fields[0]] = dict(zip(COLUMNS[1:], numbers, strict=True))
    if not rows:
        raise SystemExit(f"no table in the output of {command}:\n{out}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the baseline tree")
    parser.add_argument(
        "--base-python", help="its interpreter (default: BASE/.venv/bin/python)", default=None
    )
    parser.add_argument("--python", default=sys.executable, help="this tree's interpreter")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree")
    parser.add_argument("--n", type=int, default=20_000, help="tool uses per run")
    parser.add_argument("--repeat", type=int, default=3, help="bench_store.py's --repeat")
    parser.add_argument("--writers", default="process,thread")
    args = parser.parse_args()
    base = args.base.resolve()
    trees: dict[str, tuple[str, Path]] = {
        "base": (args.base_python or str(base / ".venv" / "bin" / "python"), base),
        "new": (args.python, ROOT),
    }
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        order = ["base", "new"] if round_ % 2 == 0 else ["new", "base"]
        for name in order:
            python, tree = trees[name]
            for writer, row in run_tree(python, tree, args).items():
                runs.setdefault((writer, name), []).append(row)
            print(f"round {round_ + 1}: {name} done", file=sys.stderr)

    header = (
        f"{'writer':<8} {'tree':<5} {'runs':>4} {'bare µs':>8} {'wall µs':>8} {'× bare':>7}"
        f" {'CPU µs':>7} {'× bare':>7} {'tool uses/s':>12}"
    )
    print(f"bench_store.py --n {args.n} --big 0 --repeat {args.repeat}, {args.rounds} rounds")
    print(header)
    print("-" * len(header))
    medians: dict[tuple[str, str], dict[str, Any]] = {}
    for writer in args.writers.split(","):
        for name in ("base", "new"):
            rows = runs.get((writer, name), [])
            if not rows:
                continue
            m = {key: statistics.median(r[key] for r in rows) for key in COLUMNS[2:]}
            medians[writer, name] = m
            print(
                f"{writer:<8} {name:<5} {len(rows):>4} {m['bare']:>8.2f} {m['agent']:>8.2f}"
                f" {m['wall_x']:>7.2f} {m['cpu']:>7.2f} {m['cpu_x']:>7.2f} {m['per_s']:>12.0f}"
            )
        if (writer, "base") in medians and (writer, "new") in medians:
            b, n = medians[writer, "base"], medians[writer, "new"]
            print(
                f"{writer:<8} {'new/base':<10} {'':>8} {n['agent'] / b['agent']:>8.2f}"
                f" {n['wall_x'] / b['wall_x']:>7.2f} {n['cpu'] / b['cpu']:>7.2f}"
                f" {n['cpu_x'] / b['cpu_x']:>7.2f} {n['per_s'] / b['per_s']:>12.2f}"
            )
    print()
    new = medians.get(("process", "new"))
    if new is not None:
        for what, key in (("wall", "wall_x"), ("CPU", "cpu_x")):
            ok = new[key] <= TARGET
            print(
                f"{'PASS' if ok else 'FAIL'}  process writer, agent {what}"
                f" ≤ {TARGET:.2f}× bare ({new[key]:.2f}×)"
            )


if __name__ == "__main__":
    main()
