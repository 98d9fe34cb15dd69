"""The report page: header, timeline, findings tables and charts in one HTML file.

Everything is inline (CSS, the SVG, a few lines of script, the details of the
clickable marks as JSON), so the file works opened from disk and fetches
nothing. Findings rows link to their mark on the timeline; the script only
selects marks and fills the details panel, so the page is readable without it.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from .charts import percentile_chart, tool_usage_chart
from .data import ReportData
from .timeline import Timeline

Row = dict[str, Any]

#: Rows shown per findings table; the rest are counted in a note.
ROW_CAP = 200
CELL_MAX = 160


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.1f}"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return escape(text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…")


def anchor_for(row: Row, anchors: dict[tuple[str, str], str], *hints: tuple[str, Any]) -> str:
    """The timeline mark a findings row is about: the hints first, then what the row names."""
    candidates = [
        *hints,
        ("tool", row.get("tool_use_id")),
        ("assertion", row.get("assertion_id")),
        ("task", row.get("task_id")),
        ("task", row.get("current_task_id")),
        ("task", row.get("task_a")),
    ]
    for kind, key in candidates:
        if key is not None and (kind, str(key)) in anchors:
            return anchors[(kind, str(key))]
    return ""


def table(
    name: str,
    rows: list[Row],
    columns: list[str],
    anchors: dict[tuple[str, str], str],
    hints: Any = None,
    empty: str = "None found.",
) -> str:
    """A findings table: ``data-table`` names it, ``data-count`` holds all its rows."""
    head = f'<table data-table="{name}" data-count="{len(rows)}">'
    if not rows:
        return f'<p class="empty" data-table="{name}" data-count="0">{escape(empty)}</p>'
    out = [head, "<thead><tr><th></th>"]
    out += [f"<th>{escape(c)}</th>" for c in columns]
    out.append("</tr></thead><tbody>")
    for row in rows[:ROW_CAP]:
        target = anchor_for(row, anchors, *(hints(row) if hints else ()))
        link = f'<a href="#{target}" data-go="{target}">show</a>' if target else ""
        cls = ' class="root"' if row.get("is_root_cause") else ""
        out.append(f"<tr{cls}><td>{link}</td>")
        out += [f"<td>{_cell(row.get(c))}</td>" for c in columns]
        out.append("</tr>")
    out.append("</tbody></table>")
    if len(rows) > ROW_CAP:
        out.append(f'<p class="note">{len(rows) - ROW_CAP} more row(s) not shown.</p>')
    return "".join(out)


def _error_hint(row: Row) -> tuple[tuple[str, Any], ...]:
    kinds: dict[str | None, str] = {"tool": "tool", "assertion": "assertion", "entry": "entry"}
    kind = kinds.get(row.get("source"))
    return ((kind, row.get("id")),) if kind else ()


def _incomplete_hint(row: Row) -> tuple[tuple[str, Any], ...]:
    kinds: dict[str | None, str] = {"tool_use": "tool", "task": "task"}
    kind = kinds.get(row.get("kind"))
    return ((kind, row.get("id")),) if kind else ()


def _validation_hint(row: Row) -> tuple[tuple[str, Any], ...]:
    details = row.get("details") or {}
    return (("tool", details.get("tool_use_id")), ("task", details.get("task_id")))


def _stat(field: str, label: str, value: Any) -> str:
    shown = "—" if value is None or value == "" else value
    return (
        f'<div class="stat" data-field="{field}"><b>{escape(str(shown))}</b>'
        f"<span>{escape(label)}</span></div>"
    )


def _duration(ms: Any) -> str | None:
    if ms is None:
        return None
    seconds = float(ms) / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def header(data: ReportData) -> str:
    s = data.summary
    rate = data.assertion_pass_rate
    stats = [
        _stat("status", "status", s.get("status")),
        _stat("duration", "duration", _duration(s.get("duration_ms"))),
        _stat("agents", "agents", len(data.agents)),
        _stat("tasks", "tasks", s.get("tasks")),
        _stat("tool_uses", "tool uses", s.get("tool_uses")),
        _stat("errors", "errors", s.get("errors")),
        _stat("blocked", "blocked", s.get("blocked")),
        _stat("pass_rate", "assertion pass rate", None if rate is None else f"{rate:g}%"),
    ]
    return (
        f'<header id="summary"><h1>Execution <code>{escape(data.execution_id)}</code></h1>'
        f'<div class="stats">{"".join(stats)}</div></header>'
    )


def timeline_section(timeline: Timeline) -> str:
    note = (
        f"{timeline.tool_uses} tool use(s): {timeline.drawn} drawn one by one, "
        f"{timeline.aggregated} too small to see aggregated into {timeline.cells} cell(s)."
    )
    legend = "".join(
        f'<span class="key o-{o}"></span>{o}' for o in ("done", "error", "blocked", "incomplete")
    )
    return (
        '<section id="timeline"><h2>Timeline</h2>'
        f'<p class="legend">{legend}<span class="key assert"></span>failed assertion'
        f'<span class="key lock"></span>lock held</p>'
        f'<p class="note" id="timeline-counts" data-tool-uses="{timeline.tool_uses}" '
        f'data-drawn="{timeline.drawn}" data-aggregated="{timeline.aggregated}">'
        f"{escape(note)} Click a bar for its details.</p>"
        f'<div class="scroll">{timeline.svg}</div></section>'
    )


def findings(data: ReportData, anchors: dict[tuple[str, str], str]) -> str:
    h, a = data.health, data.anomalies
    parts = [
        _section(
            "validation",
            "Validation",
            table(
                "validation",
                data.validation,
                ["check_id", "severity", "description"],
                anchors,
                _validation_hint,
                "No issues: the data is consistent.",
            ),
        ),
        _section(
            "errors",
            "Errors (root cause first)",
            table(
                "errors",
                data.errors,
                ["source", "timestamp", "task_id", "name", "message"],
                anchors,
                _error_hint,
            ),
        ),
        _section(
            "blocked",
            "Blocked",
            table(
                "blocked",
                data.blocked,
                ["tool", "input_summary", "block_reason", "task_id", "instance_id"],
                anchors,
            ),
        ),
        _section(
            "incomplete",
            "Incomplete",
            table(
                "incomplete",
                data.incomplete,
                ["kind", "id", "name", "task_id", "instance_id", "age_s"],
                anchors,
                _incomplete_hint,
            ),
        ),
        _section(
            "health",
            "Parallel health",
            (
                '<p class="verdict">healthy</p>'
                if h.get("is_healthy")
                else _issues(h.get("issues", []))
            )
            + "".join(
                f"<h3>{escape(key.replace('_', ' '))}</h3>"
                + table(key, h.get(key, []), _columns(h.get(key, [])), anchors)
                for key in ("wave_progress", "stuck_agents", "file_conflicts", "wave_efficiency")
            ),
        ),
        _section(
            "anomalies",
            "Anomalies",
            "".join(
                f"<h3>{escape(key.replace('_', ' '))}</h3>"
                + table(key, a.get(key, []), _columns(a.get(key, [])), anchors)
                for key in (
                    "unusual_durations",
                    "error_cascades",
                    "assertion_regressions",
                    "activity_spikes",
                    "orphaned_resources",
                    "circular_waits",
                )
            ),
        ),
    ]
    return "".join(parts)


def charts(data: ReportData) -> str:
    return _section(
        "charts",
        "Tools",
        '<div class="charts"><div><h3>Uses by outcome (I002)</h3>'
        f"{tool_usage_chart(data.tool_usage)}</div>"
        "<div><h3>Duration percentiles (A005)</h3>"
        f"{percentile_chart(data.percentiles)}</div></div>",
    )


def _issues(issues: list[str]) -> str:
    """The health verdict's sentences, capped like a table (the rest counted)."""
    items = "".join(f"<li>{escape(i)}</li>" for i in issues[:ROW_CAP])
    more = (
        f'<p class="note">{len(issues) - ROW_CAP} more issue(s) not shown.</p>'
        if len(issues) > ROW_CAP
        else ""
    )
    return f'<ul class="issues" data-count="{len(issues)}">{items}</ul>{more}'


def _columns(rows: list[Row], limit: int = 7) -> list[str]:
    names: list[str] = []
    for row in rows:
        for key in row:
            if key not in names and key != "execution_id":
                names.append(key)
    return names[:limit]


def cost(data: ReportData) -> str:
    """Tokens and cost of the model calls, by agent (subagents nested) and by model; nothing
    when the run made none the store knows of."""
    used = any(row.get("input_tokens") or row.get("cost_usd") for row in data.cost_by_agent)
    if not used and not data.cost_by_model:
        return ""  # every agent listed with nothing: the run made no model call we know of
    return _section(
        "cost",
        "Tokens and cost",
        "<h3>By agent (C001)</h3>"
        + table("cost-by-agent", data.cost_by_agent, _columns(data.cost_by_agent, 9), {})
        + "<h3>By model (C003)</h3>"
        + table("cost-by-model", data.cost_by_model, _columns(data.cost_by_model, 9), {}),
    )


def comparison(data: ReportData) -> str:
    """What changed since the earlier run the report was asked to compare with."""
    found = data.comparison
    if found is None:
        return ""
    from ..queries.diff import CHANGES

    parts = []
    for name in CHANGES:
        rows = [r if isinstance(r, dict) else {"id": r} for r in found[name]]
        if rows:
            parts.append(f"<h3>{escape(name.replace('_', ' '))}</h3>")
            parts.append(table(f"diff-{name}", rows, _columns(rows), {}))
    durations = found["duration_ms"]
    head = (
        f"<p>Against {escape(found['a'])}: duration {_cell(durations.get(found['a']))} ms → "
        f"{_cell(durations.get(found['b']))} ms.</p>"
    )
    body = "".join(parts) or '<p class="empty" data-table="diff" data-count="0">No changes.</p>'
    return _section("comparison", f"Changes since {found['a']}", head + body)


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{body}</section>'


def render(data: ReportData, timeline: Timeline) -> str:
    """The whole page."""
    # No "<" at all inside the script element: neither "</script>" nor "<!--" in a
    # recorded tool input can end it early or change how it is parsed.
    details = json.dumps(timeline.details, ensure_ascii=False, separators=(",", ":"))
    details = details.replace("<", "\\u003c")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>otel-obs report {escape(data.execution_id)}</title>"
        f"<style>{_CSS}</style></head><body>"
        + header(data)
        + timeline_section(timeline)
        + findings(data, timeline.anchors)
        + cost(data)
        + comparison(data)
        + charts(data)
        + '<aside id="details" hidden><button id="details-close" type="button">×</button>'
        '<h3 id="details-title"></h3><dl id="details-body"></dl></aside>'
        f'<script type="application/json" id="details-data">{details}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5rem 12rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde}
h3{font-size:.95rem;margin:1rem 0 .3rem}code{font-size:.95em}
.stats{display:flex;flex-wrap:wrap;gap:.6rem}
.stat{background:#fff;border:1px solid #dde;border-radius:6px;padding:.4rem .8rem;min-width:6rem}
.stat b{display:block;font-size:1.2rem}.stat span{color:#667;font-size:.8rem}
.scroll{overflow-x:auto;background:#fff;border:1px solid #dde;border-radius:6px}
#timeline-svg{width:100%;min-width:900px;display:block}
svg text{font-size:11px;fill:#334}svg .tick{fill:#667}.axis{stroke:#99a}
.laneband{fill:#f3f4f7}.wave text{font-weight:600}.waveband{fill:#dfe3ee}
.o-done{fill:#3a9d5d}.o-error{fill:#d64545}.o-blocked{fill:#e09a1a}.o-incomplete{fill:#8a8fa3}
.task{opacity:.28;cursor:pointer}.tool,.entry,.assert,.lock,.cell{cursor:pointer}
.cell{opacity:.55}.assert{fill:#8b0000}.lock{fill:#6a4fc9}.lock.orphan{fill:#c02cb0}
.sel{stroke:#111;stroke-width:1.5px;opacity:1}
.p99{fill:#c8d3ea}.p90{fill:#8ea6d6}.p50{fill:#3f63b5}.chart{width:100%;max-width:680px}
.charts{display:flex;flex-wrap:wrap;gap:2rem}
table{border-collapse:collapse;background:#fff;margin:.3rem 0;font-size:.85rem}
th,td{border:1px solid #dde;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#eef0f5}tr.root td{background:#fde8e8;font-weight:600}
.empty,.note{color:#667}.verdict{color:#3a9d5d;font-weight:600}
.legend .key{display:inline-block;width:12px;height:12px;margin:0 .3rem 0 .9rem;
vertical-align:middle;border-radius:2px}
.key.o-done{background:#3a9d5d}.key.o-error{background:#d64545}
.key.o-blocked{background:#e09a1a}.key.o-incomplete{background:#8a8fa3}
.key.assert{background:#8b0000}.key.lock{background:#6a4fc9}
#details{position:fixed;right:1rem;bottom:1rem;width:min(34rem,90vw);max-height:50vh;
overflow:auto;background:#fff;border:1px solid #99a;border-radius:8px;padding:.6rem 1rem;
box-shadow:0 4px 18px #0003}
#details dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0}
#details dt{color:#667}#details dd{margin:0;word-break:break-word}
#details-close{float:right;border:0;background:none;font-size:1.2rem;cursor:pointer}
"""

_JS = """
(function(){
var D=JSON.parse(document.getElementById('details-data').textContent);
var box=document.getElementById('details'),title=document.getElementById('details-title'),
body=document.getElementById('details-body'),picked=null,OUT=['done','error','blocked',
'incomplete'];
function show(heading,fields){
 title.textContent=heading;body.textContent='';
 Object.keys(fields).forEach(function(k){
  var dt=document.createElement('dt'),dd=document.createElement('dd');
  dt.textContent=k;dd.textContent=fields[k];body.appendChild(dt);body.appendChild(dd);});
 box.hidden=false;}
function pick(el){
 if(picked)picked.classList.remove('sel');picked=el;el.classList.add('sel');
 if(el.dataset.k==='cell'){var c=el.dataset.c.split(','),f={};
  OUT.forEach(function(o,i){if(+c[i])f[o]=c[i];});
  show('tool uses too small to draw',f);return;}
 var d=D[el.id]||{};show(d.kind||el.dataset.k,d);}
document.addEventListener('click',function(e){
 var go=e.target.closest('[data-go]');
 if(go){e.preventDefault();var el=document.getElementById(go.dataset.go);
  if(el){pick(el);el.scrollIntoView({block:'center',inline:'center'});}return;}
 var mark=e.target.closest('[data-k]');if(mark){pick(mark);return;}
 if(e.target.id==='details-close')box.hidden=true;});
})();
"""
