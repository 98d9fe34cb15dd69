"""The ``otel-obs`` command line: diagnose executions, run the 39 SQL tools, run a demo.

Each command prints a table for people, or with ``--json`` exact JSON on stdout
and nothing else, for agents. Exit status: 0 success, 1 a check found problems
(``validate``, ``errors``), 2 bad usage — an unknown tool id or parameter, a
missing store — reported in one line on stderr that names the bad value and the
valid ones. Heavy imports (the SDK, the query layer) happen inside commands so
``--help`` and ``import otel_obs`` stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from .. import settings
from .._internal_errors import raising as raising_internal_errors
from ..store_location import ServerStore, StoreLocation, store_location
from . import output as out

#: Environment variable that shows tracebacks for unexpected errors.
DEBUG_ENV = settings.DEBUG.env

app = typer.Typer(
    name="otel-obs",
    help="OpenTelemetry-native observability for AI coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
skills_app = typer.Typer(help="Agent skill files (/obs-validate …).", no_args_is_help=True)
app.add_typer(skills_app, name="skills")


class UsageProblem(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=(
            "The store: a SQLite file or a postgresql:// URL "
            "(default: $OTEL_OBS_DB or database/observability.db)."
        ),
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exact JSON on stdout (nothing else).")
]
TranscriptsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--transcripts-dir",
        help=(
            "Transcripts folder (default: $OTEL_OBS_TRANSCRIPTS_DIR, else next to --db, "
            "else transcripts)."
        ),
        show_default=False,
    ),
]
ExecArg = Annotated[str, typer.Argument(metavar="EXECUTION_ID", help="The execution id.")]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def default_db() -> StoreLocation:
    """The library's default store: ``OTEL_OBS_DB`` or ``database/observability.db``."""
    from ..queries.runner import default_db_path

    return default_db_path()


def db_location(db: str | StoreLocation | None) -> StoreLocation:
    """``--db`` (a path or a ``postgresql://`` URL), else ``OTEL_OBS_DB``, else the default."""
    if db is None:
        return default_db()
    return store_location(db, "--db")


def store_paths(
    db: str | StoreLocation | None, transcripts_dir: Path | None
) -> tuple[StoreLocation, Path]:
    """Store and transcripts folder exactly as the library resolves them.

    Arguments win, then ``OTEL_OBS_DB`` / ``OTEL_OBS_TRANSCRIPTS_DIR``, then the
    defaults; a ``--db`` without ``--transcripts-dir`` keeps the transcripts
    next to the database (``config.resolve_paths``).
    """
    from ..config import resolve_paths

    return resolve_paths(None if db is None else store_location(db, "--db"), transcripts_dir)


def existing_db(db: str | StoreLocation | None) -> StoreLocation:
    """The store to read, which must exist: reading never creates one by accident.

    A PostgreSQL store is connected to once here, so a wrong URL, password or
    database, or a database without the schema, is one line naming the server
    and the database (never the password).
    """
    from .store_reads import server_store_problem, store_problem

    path = db_location(db)
    if isinstance(path, ServerStore):
        problem = server_store_problem(path)
        if problem:
            raise UsageProblem(f"--db: {problem}")
        return path
    if not path.is_file():
        raise UsageProblem(
            f"--db: no store at {path} (run 'otel-obs demo' to create one, "
            "or give --db PATH / set OTEL_OBS_DB)"
        )
    problem = store_problem(path)
    if problem:
        raise UsageProblem(f"--db: {path} is not an otel-obs store ({problem})")
    return path


def store_with(db: str | StoreLocation | None, execution_id: str | None) -> StoreLocation:
    """The existing store, which must hold ``execution_id`` when one is given.

    The library answers an unknown id with empty results (right for a program
    asking about a run that may not have started), but on the command line an
    empty table for a mistyped id reads as "all clear", so it is a usage error.
    """
    from ..queries.listings import execution_exists

    path = existing_db(db)
    if execution_id is not None and not execution_exists(path, execution_id):
        raise UsageProblem(
            f"EXECUTION_ID: no execution {execution_id!r} in {path} "
            "(list them with 'otel-obs executions')"
        )
    return path


def skills_for(db: str | StoreLocation | None, execution_id: str | None = None) -> Any:
    """An ``ObservabilitySkills`` (read-only connections) on :func:`store_with`'s store."""
    from ..queries.runner import ObservabilitySkills

    return ObservabilitySkills(store_with(db, execution_id))


def emit(value: Any, as_json: bool, title: str | None = None) -> None:
    """JSON or a report, from the same value."""
    if as_json:
        out.print_json(value)
    else:
        out.report(value, title=title)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``k=v`` strings into a dict; the registry coerces and checks the values."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageProblem(f"--param: expected NAME=VALUE, got {pair!r}")
        params[name.strip()] = value
    return params


# --------------------------------------------------------------------------
# Executions and the diagnosis commands
# --------------------------------------------------------------------------


@app.command()
def executions(
    db: DbOption = None,
    as_json: JsonOption = False,
    task_list: Annotated[
        str | None,
        typer.Option("--task-list", help="Only executions of this task list."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
    latest: Annotated[
        bool, typer.Option("--latest", help="Print only the newest execution's id.")
    ] = False,
) -> None:
    """List executions in the store, newest first."""
    from ..queries.listings import list_executions

    rows = list_executions(existing_db(db), task_list_id=task_list, limit=1 if latest else limit)
    if latest:
        if not rows:
            raise UsageProblem(f"--latest: the store {existing_db(db)} holds no executions")
        if as_json:
            out.print_json(rows[0])
        else:
            sys.stdout.write(f"{rows[0]['id']}\n")
        return
    if as_json:
        out.print_json(rows)
    else:
        out.rows_table(rows, title="Executions", empty="(no executions in this store)")


@app.command()
def summary(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Status, duration and counts of one execution (A001)."""
    result = skills_for(db, execution_id).execution_summary(execution_id)
    emit(result or {}, as_json, title=f"Execution {execution_id}")


@app.command()
def cost(
    execution_id: ExecArg,
    db: DbOption = None,
    as_json: JsonOption = False,
    top: Annotated[int, typer.Option(help="How many tool uses to list, costliest first.")] = 10,
) -> None:
    """Tokens and cost of an execution: total, by agent (subagents nested), model, task and
    tool use (C001–C004); which cost was reported and which computed."""
    if top < 0:
        raise typer.BadParameter(f"must be 0 or more, not {top}", param_hint="--top")
    skills = skills_for(db, execution_id)
    agents = skills.cost_by_agent(execution_id)
    result = {
        "execution_id": execution_id,
        "total": _cost_total(agents),
        "by_agent": agents,
        "by_model": skills.cost_by_model(execution_id),
        "by_task": skills.cost_by_task(execution_id),
        "by_tool_use": skills.cost_by_tool_use(execution_id, limit=top) if top else [],
    }
    if as_json:
        emit(result, True)
        return
    emit([result["total"]], False, title=f"Cost of {execution_id} (USD)")
    shown = [{**row, "instance_id": "  " * row["depth"] + row["instance_id"]} for row in agents]
    emit(shown, False, title="By agent (own, then with subagents: total_*)")
    emit(result["by_model"], False, title="By model")
    emit(result["by_task"], False, title="By task")
    if top:
        emit(result["by_tool_use"], False, title=f"Deciding on tool uses (top {top})")


def _cost_total(agents: list[dict[str, Any]]) -> dict[str, Any]:
    """The execution's totals: the sum of every agent's own usage (each call once)."""

    def total(column: str) -> Any:
        values = [row[column] for row in agents if row[column] is not None]
        return round(sum(values), 6) if values else None

    return {
        "llm_calls": sum(row["llm_calls"] for row in agents),
        "input_tokens": total("input_tokens"),
        "output_tokens": total("output_tokens"),
        "cache_read_tokens": total("cache_read_tokens"),
        "cache_creation_tokens": total("cache_creation_tokens"),
        "cost_usd": total("cost_usd"),
        "reported_cost_usd": total("reported_cost_usd"),
        "computed_cost_usd": total("computed_cost_usd"),
        "unpriced": sum(row["unpriced"] for row in agents),
    }


@app.command()
def validate(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Check the data of an execution (V001–V007); exit 1 when issues are found."""
    issues = skills_for(db, execution_id).validate(execution_id)
    emit(issues, as_json, title=f"Validation issues of {execution_id}")
    if not as_json:
        out.note("valid: no issues" if not issues else f"{len(issues)} issue(s)")
    if issues:
        raise typer.Exit(1)


@app.command()
def errors(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every error of an execution in time order, root cause first marked (T001)."""
    records = skills_for(db, execution_id).find_errors(execution_id)
    emit(records, as_json, title=f"Errors of {execution_id}")
    if records:
        raise typer.Exit(1)


@app.command()
def blocked(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Security-blocked tool uses with their reasons (T002)."""
    emit(
        skills_for(db, execution_id).find_blocked(execution_id),
        as_json,
        title=f"Blocked in {execution_id}",
    )


@app.command()
def incomplete(
    execution_id: ExecArg,
    db: DbOption = None,
    as_json: JsonOption = False,
    older_than_s: Annotated[
        float | None,
        typer.Option(
            "--older-than-s", help="Only operations open at least this long (T004).", min=0
        ),
    ] = None,
) -> None:
    """Operations started and never ended (T004)."""
    skills = skills_for(db, execution_id)
    if older_than_s is None:
        result = skills.find_incomplete(execution_id)
    else:
        result = skills.find_incomplete(execution_id, older_than_s=older_than_s)
    emit(result, as_json, title=f"Incomplete operations in {execution_id}")


@app.command()
def health(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Health of a parallel execution: waves, stuck agents, conflicts (P001–P004)."""
    emit(
        skills_for(db, execution_id).parallel_health(execution_id), as_json, title="Parallel health"
    )


@app.command()
def anomalies(execution_id: ExecArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Unusual durations, error cascades, regressions, spikes, orphans, cycles (D001–D006)."""
    emit(skills_for(db, execution_id).detect_anomalies(execution_id), as_json, title="Anomalies")


@app.command()
def prune(
    db: DbOption = None,
    transcripts_dir: TranscriptsDirOption = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Remove executions started longer ago (30d, 12h, 90m).",
            show_default=False,
        ),
    ] = None,
    keep_last: Annotated[
        int | None,
        typer.Option("--keep-last", help="Keep only the N newest executions.", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")
    ] = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="Also give the space back to the file system (holds writers off while it runs).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove whole executions (every table and their transcripts), one short transaction
    each, safe while writers run; say what was removed."""
    from .prune import parse_age
    from .prune import prune as remove

    if older_than is None and keep_last is None:
        raise UsageProblem("give --older-than AGE (e.g. 30d) or --keep-last N, or both")
    if keep_last is not None and keep_last < 0:
        raise UsageProblem(f"--keep-last: must be 0 or more, got {keep_last}")
    try:
        age = parse_age(older_than) if older_than is not None else None
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    path = existing_db(db)
    folder = store_paths(path, transcripts_dir)[1]
    result = remove(
        path, folder, older_than=age, keep_last=keep_last, dry_run=dry_run, vacuum=vacuum
    )
    if as_json:
        out.print_json({**result.as_json(), "dry_run": dry_run})
        return
    verb = "would remove" if dry_run else "removed"
    out.rows_table(
        [{"table": t, "rows": n} for t, n in sorted(result.rows_by_table.items())],
        title=f"{verb} {len(result.executions)} execution(s)",
        empty="(nothing to remove)",
    )
    out.note(
        f"{verb} {result.transcript_files} transcript file(s), {result.transcript_bytes} bytes"
        + ("" if dry_run else f"; {result.freed_bytes} bytes freed in the store")
    )


@app.command()
def diff(
    execution_a: Annotated[str, typer.Argument(help="The earlier run.", show_default=False)],
    execution_b: Annotated[
        str, typer.Argument(help="The run to compare with it.", show_default=False)
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
    sigmas: Annotated[
        float, typer.Option(help="Slower or faster beyond this many standard deviations.", min=0)
    ] = 2.0,
    min_calls: Annotated[
        int, typer.Option(help="A tool is timed with at least this many calls each side.", min=1)
    ] = 3,
    min_change_ms: Annotated[
        float, typer.Option(help="A duration change smaller than this is none.", min=0)
    ] = 5.0,
) -> None:
    """What changed from run A to run B: tasks and tool uses newly failing or fixed, tasks and
    tools slower or faster beyond their spread, new blocked commands, agents added or gone,
    durations. Exit 1 when B has regressions (newly failing or blocked)."""
    from ..queries.diff import CHANGES, compare, regressions

    path = store_with(db, execution_a)
    store_with(path, execution_b)
    result = compare(
        path,
        execution_a,
        execution_b,
        sigmas=sigmas,
        min_calls=min_calls,
        min_change_ms=min_change_ms,
    )
    if as_json:
        out.print_json(result)
    else:
        durations, cost, tokens = result["duration_ms"], result["cost_usd"], result["tokens"]
        out.note(
            f"{execution_a} -> {execution_b}: duration {durations[execution_a]} ms -> "
            f"{durations[execution_b]} ms, status {result['status'][execution_a]} -> "
            f"{result['status'][execution_b]}, cost {cost[execution_a]} -> "
            f"{cost[execution_b]} USD, tokens {tokens[execution_a]} -> {tokens[execution_b]}"
        )
        for name in CHANGES:
            if result[name]:
                rows = [r if isinstance(r, dict) else {"id": r} for r in result[name]]
                out.rows_table(rows, title=name.replace("_", " "), empty="")
        if not any(result[name] for name in CHANGES):
            out.note("no changes")
    if regressions(result):
        raise typer.Exit(1)


@app.command()
def watch(
    execution_id: Annotated[
        str | None,
        typer.Argument(
            help="The execution to follow (default: the newest in the store).", show_default=False
        ),
    ] = None,
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per finding (JSON Lines).")
    ] = False,
    heartbeat_s: Annotated[
        float, typer.Option(help="An agent silent this long is stuck (P002).", min=0)
    ] = 120.0,
    timeout_s: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Stop after this many seconds (default: when it ends).", min=0
        ),
    ] = None,
) -> None:
    """Follow a live execution and print each finding as it happens: an error and its
    root cause, a failed assertion, a blocked command, a stuck agent. Exit 1 when it had
    findings, 0 when it ended without, 3 when --timeout passed first without any."""
    import json

    from ..queries.listings import list_executions
    from .watch import watch as follow

    path = existing_db(db)
    if execution_id is None:
        newest = list_executions(path, limit=1)
        if not newest:
            raise UsageProblem(f"EXECUTION_ID: the store {path} holds no executions yet")
        execution_id = newest[0]["id"]
    skills = skills_for(path, execution_id)

    def emit(finding: Any) -> None:
        if as_json:
            line = json.dumps(finding.as_json(), ensure_ascii=False)
        else:
            line = f"{finding.at or '-'}  {finding.kind:<16} {finding.summary}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        ended, found = follow(
            skills, execution_id, emit, heartbeat_s=heartbeat_s, timeout_s=timeout_s
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not as_json:
        state = "ended" if ended else "still running"
        out.note(f"{execution_id}: {state}, {found} finding(s)")
    raise typer.Exit(1 if found else 0 if ended else 3)


@app.command()
def unmapped(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Spans that made no row, by instrumentation scope and span name (nothing is ignored
    in silence: a framework whose agents or tools are missing shows up here)."""
    from ..queries.listings import unmapped_spans

    rows, waiting = unmapped_spans(existing_db(db))
    if as_json:
        out.print_json({"unmapped": rows, "waiting_for_parent": waiting})
        return
    out.rows_table(rows, title="Unmapped spans", empty="(every span made rows)")
    out.note(f"{waiting} span(s) of other instrumentations wait for their parent")


@app.command("trace-task")
def trace_task(
    task_id: Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id.")],
    execution: Annotated[
        str | None,
        typer.Option("--execution", "-e", help="Only this execution (task ids recur)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The complete execution path of one task (I001)."""
    rows = skills_for(db).trace_task(task_id, execution_id=execution)
    emit(rows, as_json, title=f"Task {task_id}")


@app.command()
def tools(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The catalogue of the 39 SQL tools (no store needed)."""
    from ..queries.runner import ObservabilitySkills

    rows = ObservabilitySkills.tools()
    if as_json:
        out.print_json(rows)
    else:
        out.rows_table(
            [
                {
                    "id": r["id"],
                    "family": r["family"],
                    "title": r["title"],
                    "parameters": ", ".join(
                        p["name"] + ("" if p["required"] else "?") for p in r["parameters"]
                    ),
                }
                for r in rows
            ],
            title="SQL tools",
        )


@app.command()
def tool(
    tool_id: Annotated[str, typer.Argument(metavar="TOOL_ID", help="A tool id, e.g. V001.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A parameter as NAME=VALUE (repeatable)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run any SQL tool by id with its parameters."""
    from .store_reads import check_tool_call

    params = parse_params(param or [])
    check_tool_call(tool_id, params)
    rows = skills_for(db).run(tool_id.upper(), **params)
    emit(rows, as_json, title=tool_id.upper())


@app.command()
def tail(
    execution_id: ExecArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new entries.")
    ] = False,
    transcripts_dir: TranscriptsDirOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Print an execution's JSONL transcript: seq, time, instance, type, task, summary.

    With ``--json`` each entry is printed as one JSON object per line (JSON Lines).
    The file is found as the library writes it: ``--transcripts-dir``, else
    ``OTEL_OBS_TRANSCRIPTS_DIR``, else ``transcripts`` next to ``--db``, else ``transcripts``.
    """
    import json

    from .tail import format_entry, read_entries, transcript_path

    path = transcript_path(store_paths(db, transcripts_dir)[1], execution_id)
    if not follow and not path.is_file():
        raise UsageProblem(
            f"EXECUTION_ID: no transcript for {execution_id!r} at {path} "
            "(give --transcripts-dir or set OTEL_OBS_TRANSCRIPTS_DIR)"
        )

    def skipped(why: str) -> None:
        sys.stderr.write(f"otel-obs: skipped {path}: {why}\n")

    try:
        for entry in read_entries(path, follow=follow, on_skip=skipped):
            if as_json:
                line = json.dumps(entry, ensure_ascii=False)
            else:
                line = format_entry(entry)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


@app.command()
def report(
    execution_id: ExecArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file to write (default: report-EXECUTION_ID.html).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="An earlier run: the report also shows what changed since (as otel-obs diff).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a self-contained HTML report: timeline, findings, tool charts."""
    from ..report import write_report

    store = store_with(db, execution_id)
    if compare is not None:
        store_with(store, compare)
    path = write_report(
        store, execution_id, output or default_report_path(execution_id), compare_with=compare
    )
    if as_json:
        out.print_json({"report": str(path), "bytes": path.stat().st_size})
    else:
        sys.stdout.write(f"{path}\n")


def default_report_path(execution_id: str) -> Path:
    """``report-<execution id>.html`` in the working directory, the id made file-safe."""
    import re

    return Path(f"report-{re.sub(r'[^A-Za-z0-9._-]', '_', execution_id)}.html")


@app.command("mcp")
def mcp_server(
    db: DbOption = None,
    http: Annotated[
        bool,
        typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1 instead of stdio."),
    ] = False,
    port: Annotated[
        int, typer.Option(help="The --http port (on 127.0.0.1).", min=1, max=65535)
    ] = 8765,
    session_idle_timeout: Annotated[
        float,
        typer.Option(help="--http: seconds a session may go without a request before it closes."),
    ] = 300.0,
    max_sessions: Annotated[
        int,
        typer.Option(help="--http: sessions open at once; past it the longest idle one is closed."),
    ] = 100,
) -> None:
    """Serve the SQL tools and the spec's methods as an MCP server (stdio by default)."""
    path = existing_db(db)
    try:
        from ..mcp_server.server import check_session_limits, serve_http, serve_stdio
    except ImportError as error:
        raise UsageProblem(
            f"mcp: the MCP server needs the 'mcp' package ({error}); "
            "install it with: pip install 'otel-obs[mcp]'"
        ) from None
    if http:
        check_session_limits(session_idle_timeout, max_sessions)
        sys.stderr.write(f"otel-obs: MCP over streamable HTTP at http://127.0.0.1:{port}/mcp\n")
        serve_http(
            path, port, session_idle_timeout_s=session_idle_timeout, max_sessions=max_sessions
        )
    else:
        serve_stdio(path)


# --------------------------------------------------------------------------
# Skills and demo
# --------------------------------------------------------------------------


@skills_app.command("install")
def skills_install(
    target: Annotated[Path, typer.Option("--dir", help="Where agent skills live.")] = Path(
        ".claude/skills"
    ),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Write this store into the skills' commands, a server's URL without its "
            "password (default: they use $OTEL_OBS_DB or database/observability.db when they "
            "run).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the /obs-* agent skill files, and the MCP server into Claude Code's .mcp.json.

    The .mcp.json goes to the project root when --dir is ``<root>/.claude/skills``,
    else into --dir; other servers in it are kept. ``--json`` lists the skill files.
    """
    from ..mcp_server.client_config import write_claude_config
    from .skill_files import install

    store = None if db is None else store_location(db, "--db")
    written = install(target, store)
    config = write_claude_config(target, store)
    if as_json:
        out.print_json([str(p) for p in written])
    else:
        out.rows_table(
            [{"skill": p.parent.name, "file": str(p)} for p in written]
            + [{"skill": "(MCP server for Claude Code)", "file": str(config)}],
            title="Installed",
        )


@app.command()
def demo(
    workers: Annotated[int, typer.Option(help="Worker processes per wave.", min=1, max=16)] = 3,
    seed: Annotated[int, typer.Option(help="Makes the run reproducible.")] = 7,
    db: DbOption = None,
    transcripts_dir: TranscriptsDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate a multi-agent build (waves of worker processes) into the store."""
    from ..demo import run_demo
    from .store_reads import unwritable_store_problem

    db_path, transcripts = store_paths(db, transcripts_dir)
    problem = unwritable_store_problem(db_path)
    if problem:
        raise UsageProblem(f"--db: cannot record into {db_path}: {problem}")
    result = run_demo(
        workers=workers,
        seed=seed,
        db_path=db_path,
        transcripts_dir=transcripts,
        show_progress=not as_json,
    )
    if as_json:
        out.print_json(result)
    else:
        from ..demo import print_result

        print_result(result)


@app.command()
def serve(
    db: DbOption = None,
    transcripts_dir: TranscriptsDirOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback needs --token.")
    ] = "127.0.0.1",
    grpc_port: Annotated[int, typer.Option(help="OTLP/gRPC port (0: any free port).")] = 4317,
    http_port: Annotated[int, typer.Option(help="OTLP/HTTP port (0: any free port).")] = 4318,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="OTEL_OBS_SERVE_TOKEN",
            help="Bearer token every request must carry (Authorization header / gRPC metadata).",
            show_default=False,
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host without a token.")
    ] = False,
    max_body_mib: Annotated[
        int, typer.Option(help="Largest request body, in MiB (413 over).")
    ] = 16,
    max_queue: Annotated[
        int, typer.Option(help="Queued spans past which requests get 503 / RESOURCE_EXHAUSTED.")
    ] = 10_000,
    max_requests: Annotated[
        int,
        typer.Option(
            help="Requests in progress at once (read, decoded or queued); more get 503 / "
            "RESOURCE_EXHAUSTED. With --max-body-mib, bounds what waiting requests hold."
        ),
    ] = 16,
    retry_after: Annotated[int, typer.Option(help="Retry hint of a refusal, in seconds.")] = 1,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds an HTTP request body may take to arrive (408 past it).")
    ] = 30.0,
    idle_timeout: Annotated[
        float,
        typer.Option(help="Seconds a connection may stay without a request before it is closed."),
    ] = 60.0,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Connections per listener (default 1000, lowered to fit the file limit); "
            "past it the longest idle one is closed, else the new one.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Receive OTLP traces (gRPC and HTTP) into the store until SIGTERM."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        raise UsageProblem("serve needs the 'serve' extra: pip install 'otel-obs[serve]'")
    from ..ingest.server import ServeSettings
    from ..ingest.server import serve as run_server

    db_path, transcripts = store_paths(db, transcripts_dir)
    run_server(
        ServeSettings(
            db_path=db_path,
            transcripts_dir=transcripts,
            host=host,
            grpc_port=grpc_port,
            http_port=http_port,
            token=token or None,
            insecure=insecure,
            max_body_bytes=max_body_mib << 20,
            max_queue=max_queue,
            max_requests=max_requests,
            retry_after_s=retry_after,
            body_timeout_s=body_timeout,
            idle_timeout_s=idle_timeout,
            max_connections=max_connections,
        )
    )


@app.command("import")
def import_transcripts(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", help="JSONL transcripts, or folders holding them."),
    ],
    db: DbOption = None,
    transcripts_dir: TranscriptsDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read JSONL transcripts into the store (created if missing; nothing duplicated)."""
    from ..ingest.import_command import run_import
    from .store_reads import unwritable_store_problem

    db_path, transcripts = store_paths(db, transcripts_dir)
    problem = unwritable_store_problem(db_path)
    if problem:
        raise UsageProblem(f"--db: cannot import into {db_path}: {problem}")
    code = run_import(paths, db_path, transcripts, as_json=as_json)
    if code:
        raise typer.Exit(code)


@app.command()
def move(
    source: Annotated[
        str,
        typer.Argument(metavar="SOURCE", help="The store to copy: a SQLite file or a URL."),
    ],
    dest: Annotated[
        str,
        typer.Argument(
            metavar="DEST", help="Where to copy it: a SQLite file or a postgresql:// URL."
        ),
    ],
    batch_rows: Annotated[
        int, typer.Option(help="Rows per batch (one transaction each).", min=1)
    ] = 5000,
    as_json: JsonOption = False,
) -> None:
    """Copy a store from SQLite to PostgreSQL or back (either a path or a URL): every
    table, in batches, the destination's schema created; a row already there is kept,
    so running it twice adds nothing. Progress on stderr."""
    from .move import MoveProblem, move_store, store_of

    def progress(table: str, done: int, total: int) -> None:
        sys.stderr.write(f"otel-obs: move: {table}: {done}/{total} rows\n")

    try:
        result = move_store(
            store_of(source, "SOURCE"),
            store_of(dest, "DEST"),
            batch_rows=batch_rows,
            progress=progress,
        )
    except MoveProblem as problem:
        raise UsageProblem(str(problem)) from None
    summary = result.as_json()
    if as_json:
        out.print_json(summary)
        return
    out.rows_table(summary["tables"], title=f"Moved {result.source} -> {result.dest}")
    out.note(
        f"{summary['rows_read']} row(s) read, {summary['rows_added']} added "
        f"({summary['rows_read'] - summary['rows_added']} already there)"
        + (f"; {result.made_safe} value(s) made safe" if result.made_safe else "")
    )


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def _fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"otel-obs: error: {message}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends in one line on stderr and a meaningful exit status."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="otel-obs", standalone_mode=False)
    except UsageProblem as problem:
        _fail(str(problem))
    except typer.TyperException as error:  # usage errors: unknown option, missing argument …
        ctx = getattr(error, "ctx", None)
        message = error.format_message()
        if type(error).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stderr.write(ctx.get_help() + "\n")
            sys.exit(2)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _fail(message.replace("\n", " ") + hint, getattr(error, "exit_code", 2))
    except typer.Abort:
        _fail("aborted", 130)
    except (ValueError, FileNotFoundError) as error:
        _fail(str(error).replace("\n", " "))
    except TimeoutError as error:  # a tool stopped at OTEL_OBS_TOOL_TIMEOUT_MS
        _fail(str(error).replace("\n", " "), 1)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as error:  # no tracebacks for users unless asked for
        if _debug() or raising_internal_errors():  # the test suite sees every bug
            raise
        _fail(f"{type(error).__name__}: {error} (set {DEBUG_ENV}=1 for a traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _debug() -> bool:
    """``OTEL_OBS_DEBUG``: on for any value it does not read as off."""
    try:
        return bool(settings.DEBUG.resolve())
    except ValueError:
        return True


if __name__ == "__main__":  # pragma: no cover
    main()
