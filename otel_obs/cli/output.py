"""How the command line prints results: exact JSON for agents, Rich tables for people.

Every command computes plain data first (dicts, lists, pydantic models) and
hands it to one of these functions, so the JSON an agent parses and the table a
person reads always come from the same values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..queries.jsonable import to_jsonable

#: Cells longer than this are cut in tables (never in JSON).
CELL_MAX = 80


def print_json(value: Any) -> None:
    """Write ``value`` as JSON to stdout, and nothing else (agents parse it)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"


#: Width when stdout is not a terminal: wide enough that piped tables never fold ids.
PIPE_WIDTH = 1000


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def rows_table(
    rows: Sequence[Mapping[str, Any]],
    title: str | None = None,
    columns: Iterable[str] | None = None,
    empty: str = "(no rows)",
) -> None:
    """Print rows as a table; the columns are the union of the rows' keys, in order."""
    from rich.table import Table

    console = _console()
    plain = [to_jsonable(r) for r in rows]
    if not plain:
        if title:
            console.print(f"[bold]{title}[/bold]")
        console.print(empty)
        return
    names: list[str] = list(columns) if columns is not None else []
    if columns is None:
        for row in plain:
            for key in row:
                if key not in names:
                    names.append(key)
    table = Table(title=title, title_justify="left", show_lines=False)
    for name in names:
        table.add_column(name, overflow="fold")
    for row in plain:
        table.add_row(*(_cell(row.get(name)) for name in names))
    console.print(table)


def record_table(record: Mapping[str, Any], title: str | None = None) -> None:
    """Print one record as a two-column (field, value) table."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in to_jsonable(record).items():
        table.add_row(key, _cell(value))
    _console().print(table)


def note(text: str, markup: bool = True) -> None:
    """A line for people after a table (stdout; never printed in JSON mode)."""
    _console().print(text, markup=markup, highlight=False)


def report(value: Any, title: str | None = None) -> None:
    """Print a report object: its scalar fields as a record, its lists as tables.

    Reports (parallel health, anomalies) are objects whose lists hold rows of
    different checks; showing each list as its own titled table keeps them
    readable without a renderer per report type.
    """
    plain = to_jsonable(value)
    if isinstance(plain, list):
        rows_table([r if isinstance(r, dict) else {"value": r} for r in plain], title=title)
        return
    if not isinstance(plain, dict):
        note(str(plain))
        return
    scalars = {k: v for k, v in plain.items() if not isinstance(v, (list, dict))}
    if scalars or title:
        record_table(scalars, title=title)
    for key, item in plain.items():
        if isinstance(item, dict):
            record_table(item, title=key)
        elif isinstance(item, list):
            if all(isinstance(x, dict) for x in item):
                rows_table(item, title=key)
            else:
                note(f"[bold]{key}[/bold]")
                for x in item:
                    note(f"  • {_cell(x)}", markup=False)
                if not item:
                    note("  (none)")
