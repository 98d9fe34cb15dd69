"""The SQL tool registry: every shipped tool loads, and a malformed one fails loudly."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from otel_obs.exporters import schema
from otel_obs.queries import registry
from otel_obs.queries.registry import ToolDefinitionError, get_tool, load_tools, load_tools_from

FAMILY_COUNTS = {
    "validation": 7,
    "troubleshooting": 6,
    "investigation": 7,
    "aggregation": 6,
    "parallel": 7,
    "anomaly": 6,
    "cost": 5,
}
QUERIES_DIR = Path(registry.__file__).parent


def test_the_specs_39_tools_and_the_5_cost_tools_load_with_their_families():
    tools = load_tools()
    expected_ids = {
        f"{letter}{n:03d}"
        for letter, family in registry.FAMILIES.items()
        for n in range(1, FAMILY_COUNTS[family] + 1)
    }
    assert set(tools) == expected_ids
    for tool_id, tool in tools.items():
        assert tool.id == tool_id
        assert tool.family == registry.FAMILIES[tool_id[0]]
        assert Path(tool.source).name.startswith(f"{tool_id}_")
        assert tool.title and tool.purpose


def test_every_tool_returns_the_columns_its_header_names(tmp_path):
    conn = sqlite3.connect(tmp_path / "store.db")
    schema.migrate(conn)
    for tool in load_tools().values():
        probe = {p.name: p.default_value() for p in tool.params}
        cursor = conn.execute(tool.sql, probe)
        assert tuple(d[0] for d in cursor.description) == tool.returns, tool.id


def test_every_tool_file_in_the_folder_is_loaded():
    on_disk = {p.name.split("_", 1)[0] for p in QUERIES_DIR.glob("*.sql")}
    assert on_disk == set(load_tools())


GOOD_HEADER = """\
-- id: T099
-- title: A test tool
-- family: troubleshooting
-- param: execution_id text
-- param: window int = 5
-- returns: id, n
-- purpose: Proves the parser.
"""
GOOD_SQL = "SELECT id, :window AS n FROM transcript_entries WHERE execution_id = :execution_id\n"


def write_tool(folder: Path, text: str, name: str = "T099_test_tool.sql") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_well_formed_file_parses(tmp_path):
    path = write_tool(tmp_path, GOOD_HEADER + GOOD_SQL)
    tools = load_tools_from([path])
    tool = tools["T099"]
    assert tool.param_names == ("execution_id", "window")
    assert tool.params[1].default == 5 and not tool.params[1].required
    assert tool.returns == ("id", "n")


def test_continuation_lines_extend_a_header_value(tmp_path):
    text = GOOD_HEADER.replace("-- purpose: Proves the parser.\n", "") + (
        "-- purpose: Proves the parser\n--   over two lines.\n" + GOOD_SQL
    )
    tool = load_tools_from([write_tool(tmp_path, text)])["T099"]
    assert tool.purpose == "Proves the parser over two lines."


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda h, s: h.replace("-- id: T099\n", "") + s, "header lacks id"),
        (lambda h, s: h.replace("T099", "X99") + s, "is not a family letter"),
        (lambda h, s: h.replace("troubleshooting", "validation") + s, "does not match id"),
        (lambda h, s: h.replace("window int", "window integer") + s, "unknown type 'integer'"),
        (lambda h, s: h.replace("= 5", "= five") + s, "bad default"),
        (lambda h, s: h.replace("int = 5", "int? = 5") + s, "both optional and defaulted"),
        (lambda h, s: h + "-- colour: blue\n" + s, "unknown header key 'colour'"),
        (lambda h, s: h.replace("-- title:", "--title") + s, "is not '-- key: value'"),
        (lambda h, s: h.replace("-- title: A test tool", "-- title:") + s, "'title' is empty"),
        (lambda h, s: h + "-- title: again\n" + s, "'title' repeated"),
        (lambda h, s: h + "-- param: limit int = 3\n" + s, "unused in the SQL: limit"),
        (lambda h, s: h + s.replace(":window", ":other"), "undeclared parameter(s): other"),
        (lambda h, s: h + s.replace(":window", "?"), "bind with :name only"),
        (lambda h, s: h + s + "; DELETE FROM tool_uses", "more than one statement"),
        (lambda h, s: h + "DELETE FROM tool_uses WHERE :window AND :execution_id", "SELECT"),
        (lambda h, s: h, "no SQL after the header"),
        (lambda h, s: h.replace("id, n", "id, n, extra") + s, "differs from the SELECT's"),
        (lambda h, s: h.replace("id, n", "id, n-1") + s, "non-identifiers"),
        (lambda h, s: h + s.replace("transcript_entries", "no_such_table"), "does not run"),
    ],
)
def test_a_malformed_tool_fails_naming_file_and_problem(tmp_path, mutate, problem):
    path = write_tool(tmp_path, mutate(GOOD_HEADER, GOOD_SQL))
    with pytest.raises(ToolDefinitionError) as caught:
        load_tools_from([path])
    message = str(caught.value)
    assert "T099_test_tool.sql" in message
    assert problem in message


def test_a_file_named_for_another_id_is_refused(tmp_path):
    path = write_tool(tmp_path, GOOD_HEADER + GOOD_SQL, name="T098_wrong.sql")
    with pytest.raises(ToolDefinitionError, match="must start with 'T099_'"):
        load_tools_from([path])


def test_two_files_with_one_id_are_refused(tmp_path):
    first = write_tool(tmp_path, GOOD_HEADER + GOOD_SQL, name="T099_a.sql")
    second = write_tool(tmp_path, GOOD_HEADER + GOOD_SQL, name="T099_b.sql")
    with pytest.raises(ToolDefinitionError, match="already defined"):
        load_tools_from([first, second])


def test_a_colon_inside_a_string_is_not_a_parameter(tmp_path):
    sql = GOOD_SQL.replace("SELECT id,", "SELECT strftime('%H:%M', timestamp) AS id,")
    assert load_tools_from([write_tool(tmp_path, GOOD_HEADER + sql)])["T099"]


def test_unknown_tool_id_lists_the_valid_ids():
    with pytest.raises(ValueError, match="unknown tool id 'Z001'") as caught:
        get_tool("Z001")
    assert "V001" in str(caught.value) and "D006" in str(caught.value)


def test_binding_refuses_missing_and_unknown_parameters():
    tool = get_tool("T003")
    with pytest.raises(ValueError, match="needs parameter 'execution_id'.*window int = 5"):
        tool.bind({})
    with pytest.raises(ValueError, match="no parameter 'windw'.*valid parameters: execution_id"):
        tool.bind({"execution_id": "x", "windw": 3})


def test_binding_coerces_and_defaults():
    tool = get_tool("T003")
    assert tool.bind({"execution_id": "x"}) == {"execution_id": "x", "window": 5}
    assert tool.bind({"execution_id": "x", "window": "7"})["window"] == 7
    with pytest.raises(ValueError, match="'window' must be int, got 'seven'"):
        tool.bind({"execution_id": "x", "window": "seven"})
    with pytest.raises(ValueError, match="must be int"):
        tool.bind({"execution_id": "x", "window": 2.5})


def test_timestamps_bind_in_the_store_format():
    tool = get_tool("T004")
    store_format = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    before = datetime.now(timezone.utc)
    bound = tool.bind({"execution_id": "x"})
    assert store_format.match(bound["now"])
    now = datetime.fromisoformat(bound["now"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= now <= datetime.now(timezone.utc)
    aware = datetime(2026, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert tool.bind({"execution_id": "x", "now": aware})["now"] == "2026-01-02T03:04:05.123456Z"
    naive_text = "2026-01-02T03:04:05"
    assert tool.bind({"execution_id": "x", "now": naive_text})["now"] == (
        "2026-01-02T03:04:05.000000Z"
    )
    with pytest.raises(ValueError, match="'now' must be timestamp"):
        tool.bind({"execution_id": "x", "now": "yesterday"})


def test_optional_parameters_bind_null():
    assert get_tool("V007").bind({}) == {"execution_id": None}


def test_an_include_line_is_the_shared_fragment_and_an_unknown_one_is_refused() -> None:
    """``-- include: NAME`` stands for ``queries/NAME.cte``: the cost tools share one
    counting rule; a name with no fragment is refused, naming it and the known ones."""
    from otel_obs.queries.registry import parse_tool

    sql = "WITH\n-- include: ids\nSELECT id, :window AS n FROM e WHERE :execution_id IS NOT NULL\n"
    tool = parse_tool(GOOD_HEADER + sql, "T099_x.sql", {"ids": "e AS (SELECT 'a' AS id)"})
    assert tool.sql.startswith("WITH\ne AS (SELECT 'a' AS id)\nSELECT id")
    with pytest.raises(ToolDefinitionError, match="unknown include 'nope'; fragments: ids"):
        parse_tool(GOOD_HEADER + "WITH\n-- include: nope\nSELECT 1", "T099_x.sql", {"ids": ""})
    shared = [t for t in load_tools().values() if "counted AS MATERIALIZED" in t.sql]
    assert sorted(t.id for t in shared) == ["C001", "C002", "C003"]
