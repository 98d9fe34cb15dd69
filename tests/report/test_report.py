"""``otel-obs report``: the HTML says what the SQL tools say.

The report of the session's demo store is written through the real command
line, parsed with the standard library's HTML parser, and every count in it
is compared with the answer of ``ObservabilitySkills`` on the same store.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from demo_store import DemoStore, demo_store

from otel_obs.queries.runner import ObservabilitySkills
from otel_obs.report.timeline import LABEL_W, PLOT_W, build_timeline


class Page(HTMLParser):
    """Elements by id, tables by ``data-table`` with their body rows, header stats."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, dict[str, str]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.row_attrs: dict[str, list[dict[str, str]]] = {}
        self.stats: dict[str, str] = {}
        self.sections: list[str] = []
        self.scripts: list[str] = []
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None
        self._stat: str | None = None
        self._script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.by_id[attrs["id"]] = {"tag": tag, **attrs}
        if tag in ("section", "header") and "id" in attrs:
            self.sections.append(attrs["id"])
        if "data-table" in attrs:
            self.tables[attrs["data-table"]] = attrs
            self.rows.setdefault(attrs["data-table"], [])
            self.row_attrs.setdefault(attrs["data-table"], [])
            self._table = attrs["data-table"] if tag == "table" else None
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._table and self._in_body:
            self.rows[self._table].append([])
            self.row_attrs[self._table].append(attrs)
        if tag == "td" and self._table and self._in_body:
            self._cell = []
        if tag == "a" and self._table and self._in_body and "data-go" in attrs:
            self.row_attrs[self._table][-1]["go"] = attrs["data-go"]
        if tag == "div" and "data-field" in attrs:
            self._stat = attrs["data-field"]
        if tag == "script":
            self._script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.rows[self._table][-1].append("".join(self._cell))
            self._cell = None
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._table = None
        if tag == "div":
            self._stat = None
        if tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._stat and self._stat not in self.stats and data.strip():
            self.stats[self._stat] = data.strip()
        if self._script:
            self.scripts[-1] += data

    def count(self, tag: str, cls: str) -> int:
        return sum(1 for t, a in self.tags if t == tag and cls in a.get("class", "").split())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


@pytest.fixture(scope="module")
def report(demo: DemoStore) -> tuple[Page, str]:
    out = demo.root / "out" / "report.html"
    proc = demo.cli("report", demo.execution_id, "--db", str(demo.db), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    return Page(text), text


@pytest.fixture(scope="module")
def skills(demo: DemoStore):
    with ObservabilitySkills(demo.db) as s:
        yield s


def test_every_section_is_present(report: tuple[Page, str]):
    page, _ = report
    assert page.sections == [
        "summary",
        "timeline",
        "validation",
        "errors",
        "blocked",
        "incomplete",
        "health",
        "anomalies",
        "charts",
    ]
    assert "timeline-svg" in page.by_id and "details" in page.by_id


def test_header_numbers_are_the_summary_tools(report, skills, demo: DemoStore):
    page, _ = report
    summary = skills.execution_summary(demo.execution_id)
    for field in ("status", "tasks", "tool_uses", "errors", "blocked"):
        assert page.stats[field] == str(summary[field]), field
    assert page.stats["agents"] == str(len(skills.agent_lifecycle(demo.execution_id)))
    assert page.stats["agents"] == str(len(demo.plan.instances))
    passed, failed = summary["assertions_passed"], summary["assertions_failed"]
    assert failed >= 1  # the demo plants a failing assertion
    assert page.stats["pass_rate"] == f"{round(100 * passed / (passed + failed), 1):g}%"


def test_findings_tables_hold_the_tools_answers(report, skills, demo: DemoStore):
    page, _ = report
    eid = demo.execution_id
    health = skills.parallel_health(eid)
    anomalies = skills.detect_anomalies(eid)
    expected = {
        "validation": len(skills.validate(eid)),
        "errors": len(skills.find_errors(eid)),
        "blocked": len(skills.find_blocked(eid)),
        "incomplete": len(skills.find_incomplete(eid)),
        "wave_progress": len(health.wave_progress),
        "stuck_agents": len(health.stuck_agents),
        "file_conflicts": len(health.file_conflicts),
        "wave_efficiency": len(health.wave_efficiency),
        "unusual_durations": len(anomalies.unusual_durations),
        "error_cascades": len(anomalies.error_cascades),
        "assertion_regressions": len(anomalies.assertion_regressions),
        "activity_spikes": len(anomalies.activity_spikes),
        "orphaned_resources": len(anomalies.orphaned_resources),
        "circular_waits": len(anomalies.circular_waits),
    }
    assert expected["errors"] > 0 and expected["blocked"] == 1
    if health.issues:
        issues = next(a for t, a in page.tags if "issues" in a.get("class", "").split())
        assert int(issues["data-count"]) == len(health.issues)
    for name, n in expected.items():
        assert int(page.tables[name]["data-count"]) == n, name
        assert len(page.rows[name]) == n, name


def test_errors_root_cause_first_and_rows_link_to_their_marks(report, skills, demo):
    page, _ = report
    errors = skills.find_errors(demo.execution_id)
    rows, attrs = page.rows["errors"], page.row_attrs["errors"]
    assert [r[1] for r in rows] == [e.source for e in errors]
    assert attrs[0].get("class") == "root" and all("class" not in a for a in attrs[1:])
    for error, row_attrs in zip(errors, attrs, strict=True):
        target = page.by_id[row_attrs["go"]]
        if error.source == "tool":
            assert target["class"] == "tool o-error"
        elif error.source == "assertion":
            assert target["class"] == "assert"
        else:
            assert target["data-k"] in ("error", "task")
    (blocked,) = page.row_attrs["blocked"]
    assert page.by_id[blocked["go"]]["class"] == "tool o-blocked"


def test_timeline_counts_every_tool_use_once(report, skills, demo):
    page, text = report
    summary = skills.execution_summary(demo.execution_id)
    counts = page.by_id["timeline-counts"]
    drawn, aggregated = int(counts["data-drawn"]), int(counts["data-aggregated"])
    assert int(counts["data-tool-uses"]) == summary["tool_uses"] == drawn + aggregated
    assert page.count("rect", "tool") == drawn
    cells = [a["data-c"] for t, a in page.tags if "cell" in a.get("class", "").split()]
    tallies = [list(map(int, c.split(","))) for c in cells]
    assert sum(map(sum, tallies)) == aggregated
    by_outcome = Counter()
    for _, a in page.tags:
        classes = a.get("class", "").split()
        if "tool" in classes:
            by_outcome[classes[1][2:]] += 1
    for tally in tallies:
        for outcome, n in zip(("done", "error", "blocked", "incomplete"), tally, strict=True):
            by_outcome[outcome] += n
    usage = skills.tool_usage_stats(demo.execution_id)
    assert by_outcome["error"] == sum(r["error_count"] for r in usage)
    assert by_outcome["blocked"] == sum(r["blocked_count"] for r in usage)
    assert by_outcome["done"] == sum(r["done_count"] for r in usage)
    # One task bar per started task, one lane per agent, failed assertions marked.
    conn = sqlite3.connect(f"{demo.db.as_uri()}?mode=ro", uri=True)
    started = conn.execute(
        "SELECT COUNT(*) FROM tasks WHERE execution_id = ? AND started_at IS NOT NULL",
        (demo.execution_id,),
    ).fetchone()[0]
    conn.close()
    assert page.count("rect", "task") == started == len(demo.plan.tasks)
    lanes = [a["data-agent"] for t, a in page.tags if "lane" in a.get("class", "").split()]
    assert lanes == [w.instance_id for w in demo.plan.instances]
    assert page.count("path", "assert") == summary["assertions_failed"]
    assert page.count("rect", "lock") >= 1  # the demo holds locks (one never released)
    # The details of every drawn mark are embedded for the click handler.
    details = json.loads(page.scripts[0])
    assert {i for i in page.by_id if re.fullmatch(r"tu\d+", i)} <= set(details)


def test_tool_chart_shows_the_usage_tool(report, skills, demo):
    page, _ = report
    values = {a["data-tool"] for t, a in page.tags if "data-tool" in a}
    assert values == {r["tool"] for r in skills.tool_usage_stats(demo.execution_id)}


def test_report_is_self_contained(report):
    _, text = report
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert re.search(r"<script[^>]+src=", text) is None


def test_demo_wrote_its_report(demo: DemoStore):
    path = Path(demo.result["report"])
    assert path.is_file() and path.parent.name == demo.execution_id
    assert demo.execution_id in path.read_text(encoding="utf-8")


def test_report_of_an_unknown_execution_is_a_usage_error(demo: DemoStore, tmp_path: Path):
    proc = demo.cli("report", "no-such-exec", "--db", str(demo.db), "-o", str(tmp_path / "r"))
    assert proc.returncode == 2 and "no-such-exec" in proc.stderr
    assert not (tmp_path / "r").exists()


def _rows(lanes: int, uses: int, errors_every: int) -> dict[str, list[dict]]:
    """Timeline rows of a long run: ``uses`` tool uses of 1 ms per lane over 100 s."""
    tool_uses = []
    for lane in range(lanes):
        for i in range(uses):
            start = i * 100_000 / uses
            tool_uses.append(
                {
                    "id": f"u{lane}-{i}",
                    "instance_id": f"a{lane}",
                    "wave_number": 1 + lane % 3,
                    "task_id": f"T{lane}",
                    "tool": "Read",
                    "input_summary": "x" * 400,
                    "output_summary": None,
                    "result_status": "error" if i % errors_every == 0 else "done",
                    "error_message": None,
                    "block_reason": None,
                    "file_path": None,
                    "duration_ms": 1.0,
                    "start_ms": start,
                    "end_ms": start + 1.0,
                    "skill_name": None,
                    "skill_file": None,
                    "line_number": None,
                }
            )
    empty: list[dict] = []
    return {
        "instances": [{"id": f"a{n}", "wave_number": 1 + n % 3} for n in range(lanes)],
        "waves": empty,
        "tasks": empty,
        "tool_uses": tool_uses,
        "assertion_failures": empty,
        "error_entries": empty,
        "lock_events": empty,
    }


def test_tool_uses_too_small_to_see_are_aggregated_and_counted():
    timeline = build_timeline(_rows(lanes=10, uses=2000, errors_every=20))
    assert timeline.tool_uses == 20_000
    assert timeline.drawn + timeline.aggregated == 20_000
    # Only the errors are visible on their own: 100 per lane, every one clickable.
    assert timeline.drawn == 10 * 100
    assert timeline.svg.count('class="tool o-error"') == 1000
    assert timeline.svg.count('class="tool o-done"') == 0
    cells = re.findall(r'data-c="([\d,]+)"', timeline.svg)
    assert len(cells) == timeline.cells <= 10 * 1200 / 3
    assert sum(sum(map(int, c.split(","))) for c in cells) == timeline.aggregated
    # Long summaries are cut in the details.
    assert all(len(d.get("input", "")) <= 240 for d in timeline.details.values())


def test_a_lane_past_its_mark_budget_aggregates_the_rest():
    timeline = build_timeline(_rows(lanes=1, uses=20_000, errors_every=1))
    assert timeline.drawn == 8000  # the whole budget, one lane
    assert timeline.aggregated == 12_000
    cells = re.findall(r'data-c="([\d,]+)"', timeline.svg)
    assert sum(int(c.split(",")[1]) for c in cells) == 12_000


def test_recorded_text_cannot_break_out_of_the_page():
    from otel_obs.report.data import ReportData
    from otel_obs.report.page import render

    evil = "</script><script>alert(1)</script><!--<img src=x onerror=alert(2)>"
    rows = _rows(lanes=1, uses=3, errors_every=1)
    for use in rows["tool_uses"]:
        use["input_summary"] = evil
        use["instance_id"] = evil
    rows["instances"] = []
    data = ReportData(
        execution_id=evil,
        summary={"execution_id": evil, "status": evil},
        agents=[],
        validation=[],
        errors=[{"source": "tool", "id": "u0-0", "message": evil, "is_root_cause": True}],
        blocked=[],
        incomplete=[],
        health={"is_healthy": False, "issues": [evil]},
        anomalies={},
        tool_usage=[
            {"tool": evil, "uses": 3, "done_count": 0, "error_count": 3, "blocked_count": 0}
        ],
        percentiles=[],
    )
    text = render(data, build_timeline(rows))
    page = Page(text)
    assert "alert" not in "".join(page.scripts[1:])  # only our own script runs
    assert len(page.scripts) == 2
    assert not [a for t, a in page.tags if t == "img"]
    details = json.loads(page.scripts[0])
    assert details["tu0"]["input"] == evil  # shown as text, whole


def test_unfinished_work_and_unreleased_locks_run_to_the_end():
    rows = _rows(lanes=1, uses=4, errors_every=1000)
    rows["tool_uses"][1].update(result_status=None, end_ms=None, duration_ms=None)
    rows["tasks"] = [
        {
            "id": "T1",
            "title": "t",
            "action": None,
            "file": None,
            "status": "in_progress",
            "instance_id": "a0",
            "wave_number": 1,
            "duration_ms": None,
            "error": None,
            "start_ms": 0.0,
            "end_ms": None,
        },
    ]
    rows["lock_events"] = [
        {
            "id": "l1",
            "event_type": "lock_acquire",
            "instance_id": "a0",
            "task_id": "T1",
            "file_path": "a.py",
            "at_ms": 10.0,
        },
        {
            "id": "l2",
            "event_type": "lock_acquire",
            "instance_id": "a0",
            "task_id": "T1",
            "file_path": "b.py",
            "at_ms": 20.0,
        },
        {
            "id": "l3",
            "event_type": "lock_release",
            "instance_id": "a0",
            "task_id": "T1",
            "file_path": "a.py",
            "at_ms": 30_000.0,
        },
    ]
    timeline = build_timeline(rows)
    page = Page(timeline.svg)
    (open_use,) = [a for t, a in page.tags if a.get("class") == "tool o-incomplete"]
    (task,) = [a for t, a in page.tags if a.get("class") == "task o-incomplete"]
    plot_end = LABEL_W + PLOT_W  # the right edge of the plot
    assert float(task["x"]) + float(task["width"]) == pytest.approx(plot_end)
    assert float(open_use["x"]) + float(open_use["width"]) == pytest.approx(plot_end)
    holds = {
        timeline.details[a["id"]]["file"]: a for t, a in page.tags if "lock" in a.get("class", "")
    }
    assert holds["b.py"]["class"] == "lock orphan"
    assert float(holds["b.py"]["x"]) + float(holds["b.py"]["width"]) == pytest.approx(plot_end)
    assert holds["a.py"]["class"] == "lock"
    assert timeline.details[holds["a.py"]["id"]]["held"] == "29990.0 ms"
