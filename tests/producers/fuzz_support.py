"""Strategies and a driver for fuzzing the public producer API (tests and benchmarks).

Each generated program is a list of producer calls with arbitrary arguments:
any Unicode (lone surrogates, NUL, U+2028), huge and deeply nested values,
objects JSON has no form for, and arguments of the wrong type. A call may
refuse its input with ``ValueError`` (pydantic's ``ValidationError`` is one);
anything else escaping a producer is a bug. After the program, the store must
be sound: ``PRAGMA integrity_check``, ObservabilitySkills ``validate``, and
every JSONL line equal to its SQLite row.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from otel_obs import conventions as c
from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.queries.runner import ObservabilitySkills
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

SPECIAL = ["\x00", "\u2028", "\u2029", "\ud800", "\udfff", "\ufeff", "\U0001f600", "", " "]

#: Any code point, lone surrogates included, with the awkward ones favoured.
chars = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(["\x00", "\u2028", "\ud800", "\udc00", '"', "\\", "\n"]),
)
texts = st.one_of(
    st.text(chars, max_size=40),
    st.sampled_from(SPECIAL),
    st.integers(10_000, 70_000).map(lambda n: "é-" * n),  # huge
)
huge_ints = st.integers(min_value=-(2**80), max_value=2**80)


class Opaque:
    """An object JSON has no form for, whose text is awkward too."""

    def __repr__(self) -> str:
        return "Opaque(\ud800)"

    __str__ = __repr__


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for n in range(levels):
        value = {"n": value} if n % 2 else [value]
    return value


def cyclic(n: int) -> Any:
    value: dict[str, Any] = {"n": n}
    value["self"] = value
    return value


leaves = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=20),
    st.builds(Opaque),
    st.builds(datetime.datetime.fromtimestamp, st.integers(0, 2**31)),
    st.decimals(allow_nan=True),
    st.builds(complex, st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
)
keys = st.one_of(texts, huge_ints, st.tuples(texts, st.integers()), st.none(), st.booleans())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=12,
)
big_values = st.one_of(
    values,
    st.integers(200, 20_000).map(deep),
    st.integers().map(cyclic),
)
maybe_text = st.one_of(texts, st.none(), huge_ints, values)

#: Every entry type but tool_use: a tool_use entry written by hand names no tool use,
#: and validate (V002) rightly says so; ToolUseLogger writes the real ones.
ENTRY_TYPES = [t for t in c.ENTRY_TYPES if t != "tool_use"] + ["not-a-type"]

entries = st.one_of(
    st.fixed_dictionaries(
        {"entry_type": st.sampled_from(ENTRY_TYPES)},
        optional={
            "summary": maybe_text,
            "details": st.one_of(st.dictionaries(keys, big_values, max_size=3), values),
            "task_id": maybe_text,
            "category": maybe_text,
            "token_estimate": st.one_of(huge_ints, st.none()),
            "duration_ms": st.floats(allow_nan=True, allow_infinity=True),
            "skill_ref": st.one_of(st.none(), values),
        },
    ),
    values,
)
blocks = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(texts, st.just("Write"), st.just("Bash"), values)},
        optional={"id": maybe_text, "input": big_values},
    ),
    values,
)
results = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"content": big_values, "is_error": st.one_of(st.booleans(), values)}
    ),
    values,
)
skill_refs = st.one_of(
    st.fixed_dictionaries(
        {"skill_name": maybe_text},
        optional={"skill_file": maybe_text, "line_number": huge_ints, "section_title": maybe_text},
    ),
    values,
)

#: (name, arguments) of one producer call; the driver below runs it.
calls = st.one_of(
    st.tuples(st.just("write"), entries),
    st.tuples(st.just("tool"), blocks, results),
    st.tuples(st.just("tool_start_only"), blocks),
    st.tuples(st.just("tool_end"), maybe_text, results),
    st.tuples(st.just("blocked"), blocks, maybe_text),
    st.tuples(st.just("task"), maybe_text, maybe_text),
    st.tuples(st.just("phase"), maybe_text),
    st.tuples(st.just("skill"), skill_refs, st.sampled_from(["success", "failed", "bogus"]), texts),
    st.tuples(st.just("chain"), maybe_text, maybe_text, maybe_text),
    st.tuples(st.just("error"), maybe_text, maybe_text),
)
programs = st.lists(calls, min_size=1, max_size=8)


class Agent:
    """One writer and its producers on a real store, driven by generated calls."""

    def __init__(self, pipeline: Any, execution_id: str, instance_id: str, cwd: Path) -> None:
        self.execution_id = execution_id
        self.writer = TranscriptWriter(execution_id, instance_id, pipeline=pipeline)
        self.tools = ToolUseLogger(self.writer)
        self.skills = SkillTracer(self.writer, self.tools)
        self.recorder = AssertionRecorder(self.writer, execution_id, cwd=cwd, timeout_s=5)
        self.refused = 0

    def run(self, program: list[tuple[Any, ...]]) -> None:
        for name, *args in program:
            self.call(getattr(self, "_" + name), *args)
        self.writer.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except ValueError:  # the caller's mistake, named (ValidationError is one)
            self.refused += 1

    def _write(self, entry: Any) -> None:
        self.writer.write(entry)

    def _tool(self, block: Any, result: Any) -> None:
        self.tools.log_end(self.tools.log_start(block), result)

    def _tool_start_only(self, block: Any) -> None:
        self.tools.log_start(block)  # left open: close() ends it

    def _tool_end(self, tool_id: Any, result: Any) -> None:
        self.tools.log_end(tool_id, result)

    def _blocked(self, block: Any, reason: Any) -> None:
        self.tools.log_blocked(self.tools.log_start(block), reason)

    def _task(self, task_id: Any, title: Any) -> None:
        with self.writer.task(task_id, title):
            self.writer.write({"entry_type": "decision", "summary": "inside"})

    def _phase(self, name: Any) -> None:
        with self.writer.phase(name):
            pass

    def _skill(self, ref: Any, status: str, error: str) -> None:
        trace_id = self.skills.trace_start(ref)
        self.skills.trace_end(trace_id, status, error)

    def _chain(self, task_id: Any, description: Any, category: Any) -> None:
        chain_id = self.recorder.start_chain(task_id, description)
        self.recorder.assert_custom(task_id, category, description, ["true"])
        self.recorder.end_chain(chain_id)

    def _error(self, message: Any, error_type: Any) -> None:
        self.writer._runtime.record_error(message, error_type)


#: Validation checks that judge what the agent did, not whether the store is sound:
#: a generated program may well take a lock it never releases.
AGENT_BEHAVIOUR_CHECKS = frozenset({"V004"})


def store_problems(db: Path, transcripts: Path, execution_id: str) -> list[str]:
    """What is wrong with the store for ``execution_id`` (empty: sound)."""
    problems: list[str] = []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        instances = conn.execute(
            "SELECT count(*) FROM build_agent_instances WHERE execution_id = ?", (execution_id,)
        ).fetchone()[0]
        if instances != 1:
            problems.append(f"{instances} agent instances stored, not 1")
        rows = [
            dict(r)
            for r in conn.execute(
                "SELECT * FROM transcript_entries WHERE execution_id = ? ORDER BY sequence",
                (execution_id,),
            )
        ]
    finally:
        conn.close()
    with ObservabilitySkills(db) as skills:
        problems += [
            f"validate {i.check_id}: {i.description}"
            for i in skills.validate(execution_id)
            if i.check_id not in AGENT_BEHAVIOUR_CHECKS
        ]
    lines = []
    for path in transcripts.rglob("transcript.jsonl"):
        # split on newlines only: str.splitlines also splits on \x1c, \x85, ...
        for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
            record = json.loads(line)
            if record.get("execution_id") == execution_id:
                lines.append(record)
    lines.sort(key=lambda r: r["sequence"])
    expected = [
        {
            **row,
            "details": json.loads(row["details"]) if row["details"] is not None else None,
            "skill_ref": json.loads(row["skill_ref"]) if row["skill_ref"] is not None else None,
        }
        for row in rows
    ]
    if lines != expected:
        problems.append(f"JSONL ({len(lines)} lines) differs from SQLite ({len(rows)} rows)")
    return problems
