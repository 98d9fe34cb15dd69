"""``otel-obs import``'s front: a progress bar while it reads, the report after.

Kept apart from :mod:`.jsonl_import` so the import itself stays a plain
function (tests and tools call it), and the command line only decides how it
looks: a bar on stderr, a table or exact JSON on stdout, and malformed lines as
``file:line: reason`` on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from otel_obs.store_location import StoreLocation

from .jsonl_import import MAX_REPORTED_PROBLEMS, ImportReport, import_jsonl


def report_dict(report: ImportReport, db_path: StoreLocation) -> dict[str, Any]:
    """The report as plain data (``--json``)."""
    return {
        "db": str(db_path),
        "files": report.files,
        "executions": sorted(report.executions),
        "read": report.read,
        "added": report.added,
        "skipped": report.skipped,
        "rows": report.rows,
        "malformed": report.malformed,
        "truncated": report.truncated,
        "problems": report.problems,
        "storage_failures": report.storage or None,
    }


def run_import(
    paths: Sequence[Path], db_path: StoreLocation, transcripts_dir: Path, *, as_json: bool
) -> int:
    """Import, show progress and the report; exit status 1 when lines were malformed or
    the store could not take everything."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from otel_obs.cli import output as out

    console = Console(stderr=True)
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("import", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = import_jsonl(paths, db_path, transcripts_dir, progress=progress)
    for problem in report.problems:
        sys.stderr.write(f"otel-obs: skipped {problem}\n")
    hidden = report.malformed - min(report.malformed, MAX_REPORTED_PROBLEMS)
    if hidden:
        sys.stderr.write(f"otel-obs: … and {hidden} more malformed lines\n")
    if report.storage:
        sys.stderr.write(f"otel-obs: warning: {report.storage}\n")
    if as_json:
        out.print_json(report_dict(report, db_path))
    else:
        summary = report_dict(report, db_path)
        summary.pop("problems")
        if not report.storage:
            summary.pop("storage_failures")
        summary["executions"] = len(report.executions)
        out.record_table(summary, title="Imported")
    return 1 if report.malformed or report.storage else 0


__all__ = ["report_dict", "run_import"]
