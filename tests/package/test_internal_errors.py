"""Internal errors: one path (otel_obs._internal_errors), and no catch-all outside it."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_obs import _internal_errors as ie
from otel_obs._internal_errors import internal_errors, internal_errors_allowed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh():
    ie._reset()
    yield
    ie._reset()


def test_the_suite_runs_with_internal_errors_raised():
    assert os.environ[ie.RAISE_ENV] == "1"
    assert ie.raising()


def test_under_the_suite_an_internal_error_is_counted_logged_and_raised(fresh, caplog):
    with pytest.raises(AttributeError), internal_errors("test.kind"):
        None.missing  # type: ignore[attr-defined]  # noqa: B018
    assert ie.counts() == {"test.kind": 1}
    assert [r.levelno for r in caplog.records if "test.kind" in r.getMessage()] == [logging.WARNING]


def test_allowed_it_is_swallowed_counted_per_kind_and_logged_once(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="otel_obs.internal_errors")
    with internal_errors_allowed():
        for _ in range(3):
            with internal_errors("test.a") as caught:
                raise TypeError("bad")
            assert isinstance(caught.error, TypeError)
        with internal_errors("test.b") as caught:
            {}["x"]
        assert isinstance(caught.error, KeyError)
        with internal_errors("test.a") as caught:
            pass
        assert caught.error is None
        assert not ie.raising()
    assert ie.counts() == {"test.a": 3, "test.b": 1}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(r.getMessage().split(")")[0] for r in warnings) == [
        "otel-obs internal error (test.a",
        "otel-obs internal error (test.b",
    ]
    assert "TypeError: bad" in warnings[0].getMessage()
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 4 and all(r.exc_info for r in debug)  # the traceback, every time
    # Outside the block, the suite's policy is back.
    assert ie.raising()


def test_swallowed_is_the_helper_for_a_try(fresh, caplog):
    with pytest.raises(KeyError):
        try:
            {}["x"]
        except Exception as exc:
            if not ie.swallowed("test.try", exc):
                raise
    with internal_errors_allowed():
        assert ie.swallowed("test.try", ValueError("bad"))
    assert ie.counts() == {"test.try": 2}
    warnings = [r for r in caplog.records if "test.try" in r.getMessage()]
    assert [r.levelno for r in warnings] == [logging.WARNING]  # once per kind


def test_allowed_reaches_other_threads(fresh):
    import threading

    seen = []

    def work():
        with internal_errors("test.thread") as caught:
            raise ValueError("in a thread")
        seen.append(caught.error)

    with internal_errors_allowed():
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert [type(e) for e in seen] == [ValueError]
    assert ie.counts() == {"test.thread": 1}


def test_interrupts_always_pass_through(fresh):
    with internal_errors_allowed():
        with pytest.raises(KeyboardInterrupt), internal_errors("test.interrupt"):
            raise KeyboardInterrupt
    assert ie.counts() == {}


def test_in_production_it_is_swallowed(tmp_path):
    """Without OTEL_OBS_RAISE_INTERNAL_ERRORS (a process of the agent), nothing raises."""
    code = (
        "from otel_obs._internal_errors import internal_errors, counts\n"
        "with internal_errors('prod.kind') as caught:\n"
        "    raise RuntimeError('a bug')\n"
        "print(type(caught.error).__name__, counts())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != ie.RAISE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "RuntimeError {'prod.kind': 1}"
    assert "otel-obs internal error (prod.kind): RuntimeError: a bug" in done.stderr


@pytest.mark.internal_errors_allowed
def test_the_marker_opts_a_test_out():
    assert not ie.raising()
    with internal_errors("test.marked") as caught:
        raise RuntimeError("provoked")
    assert caught.error is not None


# ----------------------------------------------------------------------
# No catch-all outside the helper
# ----------------------------------------------------------------------

#: Catch-alls that stay, and why: none of them hides a bug of ours.
ALLOWED = {
    # The user's check raising is its verdict: a failed assertion with the error as evidence.
    ("otel_obs/assertion_recorder.py", "_record"),
    # A user's object whose __str__ raises is stored as a placeholder naming its type.
    ("otel_obs/redaction.py", "_str"),
    # Third-party plugins (exporters, resource detectors from entry points): each failure is
    # logged once naming the plugin, which is skipped.
    ("otel_obs/otel/standard.py", "build_exporters"),
    ("otel_obs/otel/standard.py", "_detectors"),
    ("otel_obs/otel/standard.py", "_detector_classes"),
    # The command line's last resort: the user reads the error's type and message, exit 1;
    # OTEL_OBS_DEBUG=1 and the test suite raise it again.
    ("otel_obs/cli/app.py", "main"),
}


def _catch_alls(path: Path) -> list[tuple[int, str, ast.ExceptHandler]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.ExceptHandler) and _catches_all(child.type):
                found.append((child.lineno, name, child))
            visit(child, name)

    visit(tree, "<module>")
    return found


def _catches_all(kind: ast.expr | None) -> bool:
    if kind is None:
        return True
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind]
    return any(isinstance(n, ast.Name) and n.id in ("Exception", "BaseException") for n in names)


def _reraises(handler: ast.ExceptHandler) -> bool:
    """Cleanup, then ``raise`` (bare): such a handler swallows nothing."""
    last = handler.body[-1]
    return isinstance(last, ast.Raise) and last.exc is None


def _through_the_helper(handler: ast.ExceptHandler) -> bool:
    """``if not swallowed(kind, exc): raise`` first: the helper's path, in a hot path's form."""
    first = handler.body[0]
    return (
        isinstance(first, ast.If)
        and isinstance(first.test, ast.UnaryOp)
        and isinstance(first.test.op, ast.Not)
        and isinstance(first.test.operand, ast.Call)
        and isinstance(first.test.operand.func, ast.Name)
        and first.test.operand.func.id == "swallowed"
        and len(first.test.operand.args) == 2
        and isinstance(first.test.operand.args[1], ast.Name)
        and first.test.operand.args[1].id == handler.name
        and len(first.body) == 1
        and isinstance(first.body[0], ast.Raise)
        and first.body[0].exc is None
        and not first.orelse
    )


def test_no_catch_all_outside_the_helper():
    sources = [
        p
        for folder in ("otel_obs", "exporters", "queries")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p.name != "_internal_errors.py"
    ]
    assert len(sources) > 50
    stray, seen = [], set()
    for path in sources:
        rel = path.relative_to(ROOT).as_posix()
        for line, function, handler in _catch_alls(path):
            if _reraises(handler) or _through_the_helper(handler):
                continue
            if (rel, function) in ALLOWED:
                seen.add((rel, function))
                continue
            stray.append(f"{rel}:{line} in {function}")
    assert not stray, (
        "catch-alls outside otel_obs._internal_errors (use `with internal_errors(kind)`, "
        f"or catch the exception you expect): {stray}"
    )
    assert seen == ALLOWED, f"allow-list entries that no longer exist: {ALLOWED - seen}"


def test_the_checker_sees_a_catch_all(tmp_path):
    """The check above can fail: it finds each form of catch-all, and a re-raise passes."""
    path = tmp_path / "sample.py"
    path.write_text(
        "def a():\n    try:\n        pass\n    except Exception:\n        pass\n"
        "def b():\n    try:\n        pass\n    except:\n        pass\n"
        "def c():\n    try:\n        pass\n    except (OSError, BaseException) as e:\n"
        "        print(e)\n"
        "def d():\n    try:\n        pass\n    except BaseException:\n        cleanup()\n"
        "        raise\n"
        "def e():\n    try:\n        pass\n    except OSError:\n        pass\n"
        "def f():\n    try:\n        pass\n    except Exception as exc:\n"
        "        if not swallowed('k', exc):\n            raise\n        count()\n"
        "def g():\n    try:\n        pass\n    except Exception as exc:\n"
        "        if not log('k', exc):\n            raise\n        count()\n"
        "def h():\n    try:\n        pass\n    except Exception as exc:\n"
        "        if swallowed('k', exc):\n            raise\n"
    )
    found = _catch_alls(path)
    assert [(f, _reraises(h) or _through_the_helper(h)) for _, f, h in found] == [
        ("a", False),
        ("b", False),
        ("c", False),
        ("d", True),
        ("f", True),
        ("g", False),
        ("h", False),
    ]
