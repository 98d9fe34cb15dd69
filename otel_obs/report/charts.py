"""Small inline SVG charts: tool usage by outcome (I002) and duration percentiles (A005).

Plain horizontal bars, one row per tool, drawn server-side: a handful of nodes
per tool, readable without any script. Tools beyond ``MAX_TOOLS`` are counted
in a note rather than drawn.
"""

from __future__ import annotations

from html import escape
from typing import Any

Row = dict[str, Any]

MAX_TOOLS = 30
_LABEL_W = 120.0
_BAR_W = 420.0
_ROW_H = 18.0


def _frame(rows: int, body: str, label: str, extra_h: float = 0.0) -> str:
    height = rows * _ROW_H + 6 + extra_h
    return (
        f'<svg class="chart" viewBox="0 0 {_LABEL_W + _BAR_W + 110:.0f} {height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}">'
        f"{body}</svg>"
    )


def _more(total: int) -> str:
    hidden = total - MAX_TOOLS
    return f'<p class="note">{hidden} more tool(s) not drawn.</p>' if hidden > 0 else ""


def tool_usage_chart(rows: list[Row]) -> str:
    """Uses per tool, split into done / error / blocked (I002)."""
    if not rows:
        return '<p class="empty">No tool uses.</p>'
    shown = sorted(rows, key=lambda r: -int(r["uses"] or 0))[:MAX_TOOLS]
    most = max(int(r["uses"] or 0) for r in shown) or 1
    body: list[str] = []
    for i, row in enumerate(shown):
        y = 3 + i * _ROW_H
        x = _LABEL_W
        body.append(
            f'<text x="{_LABEL_W - 6:.0f}" y="{y + 12:.0f}" text-anchor="end">'
            f"{escape(str(row['tool'])[:18])}</text>"
        )
        for outcome, key in (
            ("done", "done_count"),
            ("error", "error_count"),
            ("blocked", "blocked_count"),
        ):
            count = int(row[key] or 0)
            if count:
                width = count / most * _BAR_W
                body.append(
                    f'<rect class="o-{outcome}" x="{x:.1f}" y="{y:.0f}" width="{width:.1f}" '
                    f'height="{_ROW_H - 4:.0f}"><title>{count} {outcome}</title></rect>'
                )
                x += width
        body.append(
            f'<text class="value" data-tool="{escape(str(row["tool"]))}" x="{x + 4:.1f}" '
            f'y="{y + 12:.0f}">{int(row["uses"] or 0)}</text>'
        )
    return _frame(len(shown), "".join(body), "tool usage") + _more(len(rows))


def percentile_chart(rows: list[Row]) -> str:
    """p50 / p90 / p99 per tool as nested bars on one scale (A005)."""
    if not rows:
        return '<p class="empty">No finished tool uses.</p>'
    shown = sorted(rows, key=lambda r: -float(r["p99_ms"] or 0))[:MAX_TOOLS]
    longest = max(float(r["p99_ms"] or 0) for r in shown) or 1.0
    body: list[str] = []
    for i, row in enumerate(shown):
        y = 3 + i * _ROW_H
        body.append(
            f'<text x="{_LABEL_W - 6:.0f}" y="{y + 12:.0f}" text-anchor="end">'
            f"{escape(str(row['tool'])[:18])}</text>"
        )
        for name, cls in (("p99_ms", "p99"), ("p90_ms", "p90"), ("p50_ms", "p50")):
            value = float(row[name] or 0)
            body.append(
                f'<rect class="{cls}" x="{_LABEL_W:.0f}" y="{y:.0f}" '
                f'width="{max(value / longest * _BAR_W, 0.5):.1f}" height="{_ROW_H - 4:.0f}">'
                f"<title>{cls} {value:.1f} ms</title></rect>"
            )
        body.append(
            f'<text class="value" x="{_LABEL_W + _BAR_W + 4:.0f}" y="{y + 12:.0f}">'
            f"p50 {float(row['p50_ms'] or 0):.0f} · p99 {float(row['p99_ms'] or 0):.0f} ms</text>"
        )
    return _frame(len(shown), "".join(body), "duration percentiles") + _more(len(rows))
