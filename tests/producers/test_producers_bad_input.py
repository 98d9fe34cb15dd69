"""Values no JSON encoder takes (cycles, deep nesting, tuple keys, odd types) are stored
safely, never raised into the agent; a result that cannot be read still ends its tool use."""

from __future__ import annotations

import datetime
import decimal
import json

import pytest
from opentelemetry.trace import StatusCode
from producer_support import Traced

from otel_obs import conventions as c
from otel_obs.redaction import CYCLE_MARKER, DEPTH_MARKER, MAX_DEPTH, dumps
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter


def make_writer(traced: Traced) -> TranscriptWriter:
    return TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)


def deep(levels: int) -> dict:
    root = node = {}
    for _ in range(levels):
        node["n"] = {}
        node = node["n"]
    return root


def depth_of(value) -> int:
    depth = 0
    while isinstance(value, dict) and "n" in value:
        value, depth = value["n"], depth + 1
    return depth


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def cyclic() -> dict:
    value: dict = {"command": "ls", "items": [1, 2]}
    value["self"] = value
    value["items"].append(value["items"])
    return value


def test_a_cyclic_tool_input_is_stored_with_a_marker(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    tools.log_end(tools.log_start({"id": "t1", "name": "Bash", "input": cyclic()}), {})
    writer.close()
    stored = json.loads(traced.one(c.KIND_TOOL).attributes[c.TOOL_INPUT])
    assert stored == {"command": "ls", "items": [1, 2, CYCLE_MARKER], "self": CYCLE_MARKER}


def test_a_very_deep_value_is_cut_at_the_depth_limit(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    tools.log_end(tools.log_start({"id": "t1", "name": "Bash", "input": deep(50_000)}), {})
    writer.write({"entry_type": "decision", "details": {"tree": deep(50_000)}})
    writer.close()
    stored = json.loads(traced.one(c.KIND_TOOL).attributes[c.TOOL_INPUT])
    assert depth_of(stored) == MAX_DEPTH  # the last step lands on the marker
    node = stored
    for _ in range(MAX_DEPTH - 1):
        node = node["n"]
    assert node == {"n": DEPTH_MARKER}
    [(_, attrs)] = traced.events("obs.decision")
    assert DEPTH_MARKER in attrs[c.ENTRY_DETAILS]


def test_tuple_keys_and_odd_types_are_stored_by_their_text(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    odd = {
        ("a", 1): "tuple key",
        "when": datetime.date(2026, 1, 2),
        "amount": decimal.Decimal("1.5"),
        "set": {3},
        "bytes": b"\x00\xff",
        "nan": float("nan"),
        "bad": Unprintable(),
        "complex": 1j,
    }
    tools.log_end(tools.log_start({"id": "t1", "name": "Bash", "input": odd}), {})
    writer.write({"entry_type": "decision", "details": {("x", 2): "top-level tuple key"}})
    writer.close()
    stored = json.loads(traced.one(c.KIND_TOOL).attributes[c.TOOL_INPUT])
    assert stored["('a', 1)"] == "tuple key"
    assert stored["when"] == "2026-01-02"
    assert stored["amount"] == "1.5"
    assert stored["set"] == [3]
    assert stored["nan"] is None
    assert stored["bad"] == "<unprintable Unprintable>"
    assert stored["complex"] == "1j"
    [(_, attrs)] = traced.events("obs.decision")
    assert json.loads(attrs[c.ENTRY_DETAILS]) == {"('x', 2)": "top-level tuple key"}


def test_dumps_never_raises():
    assert json.loads(dumps(cyclic()))["self"] == CYCLE_MARKER
    assert json.loads(dumps({1: {None: [float("inf")]}})) == {"1": {"null": [None]}}


class BrokenResult:
    """A result whose fields raise when read."""

    @property
    def content(self):
        raise RuntimeError("result gone")

    is_error = False


class RecursiveContent:
    """Content blocks that nest into themselves."""

    def __init__(self) -> None:
        self.blocks: list = []
        self.blocks.append(self.blocks)


@pytest.mark.parametrize(
    "result",
    [
        # Reading it raises: an internal error (counted, logged), provoked here.
        pytest.param(BrokenResult(), marks=pytest.mark.internal_errors_allowed),
        {"content": RecursiveContent().blocks, "is_error": True},
    ],
    ids=["raising", "cyclic"],
)
def test_a_result_that_cannot_be_read_still_ends_the_tool_use(traced, result):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    tool_id = tools.log_start({"id": "t1", "name": "Bash", "input": {"command": "ls"}})
    tools.log_end(tool_id, result)  # no exception
    assert not writer._runtime.tool_is_open(tool_id)
    writer.close()
    tool = traced.one(c.KIND_TOOL)
    assert c.CLOSED_BY not in tool.attributes  # ended by log_end, not by close()
    assert tool.attributes[c.TOOL_RESULT_STATUS] == "error"
    assert tool.status.status_code is StatusCode.ERROR


def test_lone_surrogates_nul_and_huge_integers_reach_a_sound_store(tmp_path):
    from fuzz_support import store_problems
    from sink_support import Sinks

    sinks = Sinks(tmp_path / "store")
    try:
        writer = TranscriptWriter("exec-u", "agent\x00\ud800", pipeline=sinks.pipeline)
        tools = ToolUseLogger(writer)
        with writer.task("T\ud800", "title \udfff"):
            tid = tools.log_start(
                {"id": "t\x00", "name": "Bash\ud800", "input": {"\ud800": "\x00", "n": 2**70}}
            )
            tools.log_end(tid, {"content": "out \ud800 \x00 \u2028", "is_error": True})
            writer.write({"entry_type": "decision", "summary": "s\ud800", "details": {"k": 2**70}})
        writer.close()
        sinks.flush()
        assert store_problems(sinks.db, sinks.transcripts, "exec-u") == []
        [(instance,)] = sinks.sqlite_rows("SELECT instance_id FROM transcript_entries LIMIT 1")
        assert instance == "agent\ufffd\ufffd"
        assert writer.stats["storage_errors"] == 0
    finally:
        sinks.close()


def test_ids_do_not_repeat_when_the_agent_seeds_the_global_random_module():
    import random

    from otel_obs.transcript_writer import new_id

    random.seed(42)
    first = new_id()
    random.seed(42)
    assert new_id() != first
