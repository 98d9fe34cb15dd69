"""``otel-obs report``: one self-contained HTML file showing an execution.

:mod:`.data` reads the store (the SQL tools' answers and the timeline rows,
read-only), :mod:`.timeline` lays out the lanes and aggregates what is too
small to see, :mod:`.charts` draws the tool charts, :mod:`.page` assembles the
file.
"""

from __future__ import annotations

from pathlib import Path

from ..store_location import ServerStore, store_location
from .data import ReportData, collect
from .page import render
from .timeline import Timeline, build_timeline

__all__ = ["ReportData", "Timeline", "build_report", "write_report"]


def build_report(
    db_path: Path | str | ServerStore, execution_id: str, compare_with: str | None = None
) -> str:
    """The report of ``execution_id`` in the store at ``db_path``, as HTML text; with
    ``compare_with``, what changed since that earlier run too."""
    data = collect(db_path, execution_id)
    if compare_with is not None:
        from ..queries.diff import compare

        data.comparison = compare(store_location(db_path, "db_path"), compare_with, execution_id)
    return render(data, build_timeline(data.timeline))


def write_report(
    db_path: Path | str | ServerStore,
    execution_id: str,
    out: Path | str,
    compare_with: str | None = None,
) -> Path:
    """Write the report to ``out`` (its folder is created) and return the path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(db_path, execution_id, compare_with), encoding="utf-8")
    return path
