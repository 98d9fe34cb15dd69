"""The timeline: one lane per agent instance, grouped by wave, drawn as inline SVG.

Task bars carry their tool uses inside them, coloured by outcome; failed
assertions and error entries are marked above the bars, lock holds below.

A browser stays fast only with a bounded number of SVG nodes, so what is too
small to see is aggregated rather than drawn: a tool use narrower than
``MIN_MARK_W`` (and, past a per-lane budget, any tool use) goes into a cell of
``CELL_W`` units that shows how many tool uses of each outcome it holds.
Problems (errors, blocked, incomplete) are drawn one by one first, so the bars
that matter stay clickable. Every tool use is counted exactly once, drawn or
in a cell; :class:`Timeline` says how many went where.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

Row = dict[str, Any]

#: Plot width in SVG units (the SVG scales to the page), lane label column, lane height.
PLOT_W = 1200.0
LABEL_W = 170.0
LANE_H = 24.0
WAVE_H = 18.0
AXIS_H = 22.0
#: A tool use narrower than this is aggregated; cells are this wide.
MIN_MARK_W = 1.5
CELL_W = 3.0
#: Individually drawn marks over all lanes (split evenly between lanes).
MARK_BUDGET = 8000
#: Longest text kept for one details field.
FIELD_MAX = 240

OUTCOMES = ("done", "error", "blocked", "incomplete")
#: Which outcome colours a cell holding several: the worst one.
_SEVERITY = {"error": 3, "blocked": 2, "incomplete": 1, "done": 0}
_TASK_OUTCOME = {
    "completed": "done",
    "skipped": "done",
    "failed": "error",
    "blocked": "blocked",
}


def tool_outcome(status: str | None) -> str:
    """A tool use's outcome class: its result status, or incomplete while it has none."""
    return status if status in ("done", "error", "blocked") else "incomplete"


def task_outcome(status: str | None) -> str:
    """A task's outcome class: completed and skipped are done, unfinished ones incomplete."""
    return _TASK_OUTCOME.get(status or "", "incomplete")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text if len(text) <= FIELD_MAX else text[: FIELD_MAX - 1] + "…"


def _ms(value: Any) -> str | None:
    return None if value is None else f"{float(value):.1f} ms"


def _details(**fields: Any) -> dict[str, str]:
    """The non-empty fields, as short text (what the details panel lists)."""
    return {k.replace("_", " "): t for k, v in fields.items() if (t := _text(v)) is not None}


@dataclass
class Lane:
    """One agent instance (or the tool uses that name none)."""

    instance_id: str | None
    wave: int | None
    marks: list[str] = field(default_factory=list)


@dataclass
class Timeline:
    """The drawn SVG, the details of every clickable mark, and what was aggregated."""

    svg: str
    details: dict[str, dict[str, str]]
    #: mark id by what a findings row names: ("tool", id), ("task", id), ("assertion", id) …
    anchors: dict[tuple[str, str], str]
    tool_uses: int
    drawn: int
    aggregated: int
    cells: int
    duration_ms: float


class _Scale:
    def __init__(self, end_ms: float) -> None:
        self.end_ms = max(end_ms, 1.0)

    def x(self, ms: float | None) -> float:
        value = 0.0 if ms is None else max(0.0, min(float(ms), self.end_ms))
        return LABEL_W + value / self.end_ms * PLOT_W


def _end_of(rows: Iterable[Row], *keys: str) -> float:
    ends = [float(r[k]) for r in rows for k in keys if r.get(k) is not None]
    return max(ends, default=0.0)


def build_timeline(rows: dict[str, list[Row]]) -> Timeline:
    """Lay out the timeline rows (times in ms since the start) as SVG with details."""
    end_ms = max(
        _end_of(rows["tool_uses"], "start_ms", "end_ms"),
        _end_of(rows["tasks"], "start_ms", "end_ms"),
        _end_of(rows["waves"], "start_ms", "end_ms"),
        _end_of(rows["instances"], "start_ms", "end_ms"),
        _end_of(rows["assertion_failures"], "at_ms"),
        _end_of(rows["error_entries"], "at_ms"),
        _end_of(rows["lock_events"], "at_ms"),
    )
    scale = _Scale(end_ms)
    lanes = _lanes(rows)
    lane_of = {lane.instance_id: index for index, lane in enumerate(lanes)}
    details: dict[str, dict[str, str]] = {}
    anchors: dict[tuple[str, str], str] = {}
    marks: dict[int, list[str]] = defaultdict(list)

    def lane_index(instance_id: Any) -> int:
        return lane_of.get(instance_id, lane_of.get(None, 0))

    # Tasks: the background bar of their lane.
    for n, task in enumerate(rows["tasks"]):
        mid = f"tk{n}"
        outcome = task_outcome(task["status"])
        x0 = scale.x(task["start_ms"])
        x1 = scale.x(task["end_ms"] if task["end_ms"] is not None else scale.end_ms)
        marks[lane_index(task["instance_id"])].append(
            f'<rect id="{mid}" class="task o-{outcome}" data-k="task" x="{x0:.1f}" y="2" '
            f'width="{max(x1 - x0, 1.0):.1f}" height="{LANE_H - 6:.0f}"/>'
        )
        details[mid] = _details(
            kind="task",
            task=task["id"],
            title=task["title"],
            outcome=outcome,
            status=task["status"],
            duration=_ms(task["duration_ms"]),
            agent=task["instance_id"],
            wave=task["wave_number"],
            action=task["action"],
            file=task["file"],
            error=task["error"],
        )
        anchors[("task", str(task["id"]))] = mid

    # Tool uses: drawn one by one where visible and within budget, else in cells.
    budget = max(1, MARK_BUDGET // max(len(lanes), 1))
    by_lane: dict[int, list[tuple[int, Row]]] = defaultdict(list)
    for n, use in enumerate(rows["tool_uses"]):
        by_lane[lane_index(use["instance_id"])].append((n, use))
    drawn = aggregated = cells = 0
    for index, uses in by_lane.items():
        ranked = sorted(
            uses,
            key=lambda item: (
                -_SEVERITY[tool_outcome(item[1]["result_status"])],
                -_width(item[1], scale),
            ),
        )
        counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        individual: list[str] = []
        shown = 0
        for n, use in ranked:
            outcome = tool_outcome(use["result_status"])
            width = _width(use, scale)
            problem = outcome != "done"
            if shown < budget and (problem or width >= MIN_MARK_W):
                mid = f"tu{n}"
                x0 = scale.x(use["start_ms"])
                individual.append(
                    f'<rect id="{mid}" class="tool o-{outcome}" data-k="tool" x="{x0:.1f}" '
                    f'y="7" width="{max(width, MIN_MARK_W):.1f}" height="{LANE_H - 14:.0f}"/>'
                )
                skill = use["skill_name"]
                where = use["skill_file"]
                if where and use["line_number"] is not None:
                    where = f"{where}:{use['line_number']}"
                details[mid] = _details(
                    kind="tool use",
                    tool=use["tool"],
                    outcome=outcome,
                    duration=_ms(use["duration_ms"]),
                    task=use["task_id"],
                    agent=use["instance_id"],
                    input=use["input_summary"],
                    output=use["output_summary"],
                    error=use["error_message"],
                    block_reason=use["block_reason"],
                    file_path=use["file_path"],
                    skill=skill,
                    skill_file_line=where,
                    id=use["id"],
                )
                anchors[("tool", str(use["id"]))] = mid
                shown += 1
            else:
                cell = int((scale.x(use["start_ms"]) - LABEL_W) // CELL_W)
                counts[cell][OUTCOMES.index(outcome)] += 1
                aggregated += 1
        drawn += shown
        for cell, tally in sorted(counts.items()):
            worst = max(
                (o for o, c in zip(OUTCOMES, tally, strict=True) if c), key=lambda o: _SEVERITY[o]
            )
            marks[index].append(
                f'<rect class="cell o-{worst}" data-k="cell" data-c="{",".join(map(str, tally))}" '
                f'x="{LABEL_W + cell * CELL_W:.1f}" y="7" width="{CELL_W:.1f}" '
                f'height="{LANE_H - 14:.0f}"/>'
            )
            cells += 1
        # Worst last, so an error is never hidden under a done bar.
        marks[index].extend(reversed(individual))

    # Failed assertions and error entries above the bars; lock holds below them.
    for n, failure in enumerate(rows["assertion_failures"]):
        mid = f"as{n}"
        x = scale.x(failure["at_ms"])
        marks[lane_index(failure["instance_id"])].append(
            f'<path id="{mid}" class="assert" data-k="assertion" d="M{x:.1f} 0l4 5l-4 5l-4 -5z"/>'
        )
        details[mid] = _details(
            kind="failed assertion",
            category=failure["category"],
            description=failure["description"],
            task=failure["task_id"],
            agent=failure["instance_id"],
            evidence=failure["evidence"],
            id=failure["id"],
        )
        anchors[("assertion", str(failure["id"]))] = mid
    for n, entry in enumerate(rows["error_entries"]):
        mid = f"er{n}"
        x = scale.x(entry["at_ms"])
        marks[lane_index(entry["instance_id"])].append(
            f'<rect id="{mid}" class="entry o-error" data-k="error" x="{x - 1:.1f}" y="0" '
            f'width="2" height="6"/>'
        )
        details[mid] = _details(
            kind="error entry",
            summary=entry["summary"],
            task=entry["task_id"],
            agent=entry["instance_id"],
            id=entry["id"],
        )
        anchors[("entry", str(entry["id"]))] = mid
    for n, hold in enumerate(_lock_holds(rows["lock_events"])):
        mid = f"lk{n}"
        x0 = scale.x(hold["from_ms"])
        x1 = scale.x(hold["to_ms"] if hold["to_ms"] is not None else scale.end_ms)
        orphan = " orphan" if hold["to_ms"] is None else ""
        marks[lane_index(hold["instance_id"])].append(
            f'<rect id="{mid}" class="lock{orphan}" data-k="lock" x="{x0:.1f}" '
            f'y="{LANE_H - 4:.0f}" width="{max(x1 - x0, 1.0):.1f}" height="3"/>'
        )
        details[mid] = _details(
            kind="lock hold",
            file=hold["file_path"],
            agent=hold["instance_id"],
            task=hold["task_id"],
            held=_ms(None if hold["to_ms"] is None else hold["to_ms"] - hold["from_ms"]),
            released="no (never released)" if hold["to_ms"] is None else "yes",
        )

    svg = _svg(lanes, marks, rows["waves"], scale)
    return Timeline(
        svg=svg,
        details=details,
        anchors=anchors,
        tool_uses=len(rows["tool_uses"]),
        drawn=drawn,
        aggregated=aggregated,
        cells=cells,
        duration_ms=end_ms,
    )


def _width(use: Row, scale: _Scale) -> float:
    end = use["end_ms"] if use["end_ms"] is not None else scale.end_ms
    return scale.x(end) - scale.x(use["start_ms"])


def _lanes(rows: dict[str, list[Row]]) -> list[Lane]:
    """One lane per instance, ordered by wave; a last lane for rows that name no instance."""
    lanes: dict[Any, Lane] = {}
    for instance in rows["instances"]:
        lanes[instance["id"]] = Lane(instance["id"], instance["wave_number"])
    for kind in ("tasks", "tool_uses", "assertion_failures", "error_entries", "lock_events"):
        for row in rows[kind]:
            key = row.get("instance_id")
            if key not in lanes:
                lanes[key] = Lane(key, row.get("wave_number"))
    return sorted(
        lanes.values(),
        key=lambda lane: (
            lane.instance_id is None,
            lane.wave is None,
            lane.wave or 0,
            str(lane.instance_id),
        ),
    )


def _lock_holds(events: list[Row]) -> list[Row]:
    """Acquires paired in order with the releases of the same instance and file."""
    open_: dict[tuple[Any, Any], list[Row]] = defaultdict(list)
    holds: list[Row] = []
    for event in events:
        key = (event["instance_id"], event["file_path"])
        if event["event_type"] == "lock_acquire":
            hold = {
                "instance_id": event["instance_id"],
                "file_path": event["file_path"],
                "task_id": event["task_id"],
                "from_ms": event["at_ms"],
                "to_ms": None,
            }
            open_[key].append(hold)
            holds.append(hold)
        elif open_[key]:
            open_[key].pop(0)["to_ms"] = event["at_ms"]
    return holds


def _svg(lanes: list[Lane], marks: dict[int, list[str]], waves: list[Row], scale: _Scale) -> str:
    parts: list[str] = []
    y = AXIS_H
    current_wave: Any = object()
    for index, lane in enumerate(lanes):
        if lane.wave != current_wave:
            current_wave = lane.wave
            label = "no wave" if lane.wave is None else f"wave {lane.wave}"
            band = ""
            wave = next((w for w in waves if w["wave_number"] == lane.wave), None)
            if wave is not None:
                x0 = scale.x(wave["start_ms"])
                x1 = scale.x(wave["end_ms"] if wave["end_ms"] is not None else scale.end_ms)
                band = (
                    f'<rect class="waveband" x="{x0:.1f}" y="{y + 4:.0f}" '
                    f'width="{max(x1 - x0, 1.0):.1f}" height="{WAVE_H - 8:.0f}"/>'
                )
            parts.append(
                f'<g class="wave"><text x="4" y="{y + WAVE_H - 5:.0f}">{escape(label)}</text>'
                f"{band}</g>"
            )
            y += WAVE_H
        name = "(no agent)" if lane.instance_id is None else str(lane.instance_id)
        parts.append(
            f'<g class="lane" data-agent="{escape(name)}" transform="translate(0 {y:.0f})">'
            f'<rect class="laneband" x="{LABEL_W}" y="0" width="{PLOT_W}" height="{LANE_H - 2}"/>'
            f'<text x="4" y="{LANE_H - 9:.0f}">{escape(name[:26])}</text>'
            + "".join(marks.get(index, ()))
            + "</g>"
        )
        y += LANE_H
    height = y + 4
    axis = [
        f'<line class="axis" x1="{LABEL_W}" y1="{AXIS_H - 4}" x2="{LABEL_W + PLOT_W}" '
        f'y2="{AXIS_H - 4}"/>'
    ]
    for step in range(6):
        ms = scale.end_ms * step / 5
        x = scale.x(ms)
        anchor = "end" if step == 5 else "middle" if step else "start"
        axis.append(
            f'<text class="tick" x="{x:.1f}" y="{AXIS_H - 8}" text-anchor="{anchor}">'
            f"{_clock(ms)}</text>"
        )
    return (
        f'<svg id="timeline-svg" viewBox="0 0 {LABEL_W + PLOT_W + 8:.0f} {height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline">'
        + "".join(axis)
        + "".join(parts)
        + "</svg>"
    )


def _clock(ms: float) -> str:
    """An axis label: milliseconds, seconds or minutes, whichever reads best."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"
