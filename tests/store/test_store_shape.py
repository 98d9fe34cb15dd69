"""The store's shape: module imports without cycles, one concern per module, the SDK fast path."""

from __future__ import annotations

import ast
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from otel_obs.exporters import _sdk_access

EXPORTERS = Path(__file__).resolve().parents[2] / "exporters"
#: What exporters/ may use of the public package: the vocabulary and the settings.
# _internal_errors: the one path of an unexpected exception (stdlib only).
ALLOWED_FROM_OTEL_OBS = {"conventions", "redaction", "tool_facts", "settings", "_internal_errors"}


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
