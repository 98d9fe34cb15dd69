"""The store's shape: module imports without cycles, one concern per module, the SDK fast path."""

from __future__ import annotations

import ast
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from otel_obs.exporters import _sdk_access

EXPORTERS = Path(__file__).resolve().parents[2] / "exporters"
#: What exporters/ may use of the public package: the vocabulary and the settings.
# _internal_errors: the one path of an unexpected exception (stdlib only).
# store_location: where a store is (a SQLite path or a PostgreSQL URL), which settings
# resolve and the writer opens.
ALLOWED_FROM_OTEL_OBS = {
    "conventions",
    "redaction",
    "tool_facts",
    "settings",
    "store_location",
    "_internal_errors",
}


def imports_of(path: Path) -> set[str]:
    """Modules ``path`` imports, as dotted names relative to otel_obs (``exporters.x``, ``y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = "exporters" + (f".{node.module}" if node.module else "")
                names = [f"exporters.{a.name}" for a in node.names] if not node.module else [base]
                found.update(names)
            elif node.module and node.module.startswith("otel_obs"):
                rest = node.module.split(".")[1:]
                if not rest:
                    found.update(a.name for a in node.names)
                else:
                    found.add(".".join(rest))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("otel_obs."):
                    found.add(".".join(alias.name.split(".")[1:]))
    return found


def graph() -> dict[str, set[str]]:
    return {
        f"exporters.{p.stem}": imports_of(p) for p in EXPORTERS.glob("*.py") if p.stem != "__init__"
    }


def test_exporters_use_only_the_vocabulary_and_settings_of_the_package():
    for module, imported in graph().items():
        outside = {name.split(".")[0] for name in imported if not name.startswith("exporters")}
        assert outside <= ALLOWED_FROM_OTEL_OBS, (module, outside - ALLOWED_FROM_OTEL_OBS)


def test_no_import_cycle_among_exporters_modules():
    edges = {m: {i for i in deps if i.startswith("exporters.")} for m, deps in graph().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, module, target]))
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


def test_the_cycle_check_finds_a_cycle(tmp_path: Path):
    # The walk above must be able to fail: two modules importing each other.
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("from .a import y\n")
    assert imports_of(tmp_path / "a.py") == {"exporters.b"}
    assert imports_of(tmp_path / "b.py") == {"exporters.a"}


def test_each_exporters_module_opens_with_a_one_line_statement_of_its_concern():
    for path in EXPORTERS.glob("*.py"):
        if path.stem == "__init__":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.name} has no docstring"
        first = doc.splitlines()[0]
        assert first.endswith(".") and len(first) <= 100, (path.name, first)


def test_the_installed_sdk_still_takes_the_fast_path():
    # The store reads SDK spans' private fields (see _sdk_access). If an SDK
    # release renames them, everything still works through the public
    # properties, only slower: this test is how that is noticed.
    assert _sdk_access.fast_path_available()


def test_the_fast_and_the_fallback_reads_agree():
    tracer = TracerProvider().get_tracer("t")
    span = tracer.start_span("s", attributes={"a": 1, "b": "x"})
    span.add_event("e", {"k": "v"})

    class Public:
        """The same span seen only through its public properties."""

        attributes = span.attributes
        events = span.events

    assert dict(_sdk_access.own_attributes(span)) == dict(_sdk_access.own_attributes(Public()))
    assert _sdk_access.attributes_copy(span) == _sdk_access.attributes_copy(Public())
    assert [e.name for e in _sdk_access.events_of(span)] == [
        e.name for e in _sdk_access.events_of(Public())
    ]
    span.end()


# --- The query side: what queries/ may import, and who may import it ---------

ROOT = EXPORTERS.parent
QUERIES = ROOT / "queries"
#: What queries/ may use outside itself: the settings, the one internal-error path,
#: and the schema (to compile every tool against an empty store when the tools load);
#: where a store is (store_location: a path or a PostgreSQL server) and the engines'
#: connections (exporters.engines: the PostgreSQL one with its driver check and JIT off),
#: to read a store on a server. Never the writer.
ALLOWED_FROM_QUERIES = {
    "settings",
    "_internal_errors",
    "exporters.schema",
    "store_location",
    "exporters.engines",
}
#: The producers and their runtime, which queries/ must never import.
PRODUCERS = {
    "transcript_writer",
    "tool_use_logger",
    "skill_tracer",
    "assertion_recorder",
    "config",
    "pipeline",
    "span_stack",
    "propagation",
}
#: Who may import queries/: the readers of the store (the top package's lazy names
#: and the old ``otel_obs.readonly`` path aside, which name it as strings or re-export).
#: ``serve`` (ingest) reads what spans made no row for its exit statistics.
QUERY_USERS = {"cli", "mcp_server", "report", "demo", "readonly", "ingest"}


def module_imports(path: Path, module: str) -> set[str]:
    """What the module ``module`` (at ``path``) imports, as names dotted under otel_obs.

    ``module`` is dotted under otel_obs too (``queries.runner``; a package's
    ``__init__`` is the package's name, the top one's ``__init__``). Relative
    imports are resolved against it; ``from x import y`` counts as ``x.y``, so
    importing a module and importing a name from it are both seen.
    """
    if module == "__init__":
        package: list[str] = []
    elif path.stem == "__init__":
        package = module.split(".")
    else:
        package = module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                parts = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "otel_obs":
                parts = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                found.add(".".join([*parts, alias.name]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("otel_obs."):
                    found.add(".".join(alias.name.split(".")[1:]))
    return found


def package_modules() -> dict[str, set[str]]:
    """Every module of the installed package, by dotted name under otel_obs, with its imports."""
    modules: dict[str, set[str]] = {}
    for top, prefix in ((ROOT / "otel_obs", ""), (EXPORTERS, "exporters."), (QUERIES, "queries.")):
        for path in top.rglob("*.py"):
            rel = path.relative_to(top).with_suffix("").parts
            name = prefix + ".".join(p for p in rel if p != "__init__")
            name = name.rstrip(".") or "__init__"
            modules[name] = module_imports(path, name)
    return modules


def _within(name: str, allowed: set[str]) -> bool:
    return any(name == a or name.startswith(a + ".") for a in allowed)


def test_queries_import_neither_the_producers_nor_the_store_writer():
    queries = {m: deps for m, deps in package_modules().items() if m.startswith("queries")}
    assert {"queries.runner", "queries.registry", "queries.results"} <= set(queries)
    for module, imported in queries.items():
        outside = {name for name in imported if not _within(name, {"queries"})}
        assert not {n for n in outside if _within(n, PRODUCERS)}, (module, outside)
        assert not {n for n in outside if _within(n, {"exporters"})} - {
            n for n in outside if _within(n, {"exporters.schema", "exporters.engines"})
        }, (module, outside)
        assert all(_within(n, ALLOWED_FROM_QUERIES) for n in outside), (module, outside)


def test_only_the_readers_of_the_store_import_queries():
    for module, imported in package_modules().items():
        if module.startswith("queries") or module == "__init__":
            continue
        if any(_within(name, {"queries"}) for name in imported):
            assert module.split(".")[0] in QUERY_USERS, module


def test_the_import_rules_see_a_forbidden_import(tmp_path: Path):
    # The checks above must be able to fail: a query module importing a producer
    # (relative) and the store writer (absolute) is seen as doing so.
    (tmp_path / "bad.py").write_text(
        "from ..transcript_writer import TranscriptWriter\n"
        "from otel_obs.exporters.writer import StoreWriter\n"
        "from . import registry\n"
    )
    found = module_imports(tmp_path / "bad.py", "queries.bad")
    assert found == {
        "transcript_writer.TranscriptWriter",
        "exporters.writer.StoreWriter",
        "queries.registry",
    }
    assert any(_within(n, PRODUCERS) for n in found)
    assert not all(_within(n, ALLOWED_FROM_QUERIES | {"queries"}) for n in found)


def test_the_wiring_keeps_its_state_in_one_object():
    # config.py's pipelines and what configure() wired are fields of one _State
    # instance: no function rebinds a module global.
    tree = ast.parse((ROOT / "otel_obs" / "config.py").read_text(encoding="utf-8"))
    rebinding = [
        (node.lineno, node.names) for node in ast.walk(tree) if isinstance(node, ast.Global)
    ]
    assert rebinding == []
