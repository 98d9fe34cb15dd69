"""AssertionRecorder: checks that really run, recorded as ``obs.assertion`` events.

Each assertion runs a check from :mod:`otel_obs.checks`, times it, and records
an ``obs.assertion`` event carrying both the assertion (``obs.assertion.*``) and
its ``assertion`` transcript entry (``obs.entry.*``). Inside a chain the event
goes on the chain's ``assertion_chain {description}`` span; outside one, on the
task's span (or the current span when the task is not open here).

Files. "Created", "modified" and "deleted" need to know what the file was like
before the work. Snapshotting a whole working tree is too costly, so the
recorder snapshots (size, mtime, SHA-256) the files it can know about:

- the task's declared ``file`` (task_start details) — the writer snapshots it
  when the task starts;
- every path passed to ``start_chain(..., watch=[...])`` — snapshotted when
  the chain starts.

A path with no snapshot is judged by its mtime against the start of the task
or chain (the earliest known), and with neither by existence alone; the
evidence's ``basis`` says which rule decided.

Commands (TypeScript, lint, tests) are configurable with
``commands={"typescript": ..., "lint": "... {file}", "tests": "... {pattern}"}``
and run in ``cwd`` with ``timeout_s``. A missing toolchain gives ``skip``, a
timeout ``fail``.

Chains: ``fail`` if any assertion failed, ``pass`` if any passed and none
failed, ``partial`` if only warnings (no pass, no fail), ``skip`` if none ran
or all skipped. ``end_chain`` of an unknown id raises ``ValueError`` (there is
no verdict to return); ending a chain twice returns the first verdict.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opentelemetry.trace import Span

from . import checks
from . import conventions as c
from .models import AssertionResult, ChainOutcome, ChainResult
from .redaction import DETAILS_CAP, redact_text, safe_json, shorten
from .span_stack import Frame
from .transcript_writer import Attributes, TranscriptWriter, entry_attributes, new_id

DEFAULT_COMMANDS: Mapping[str, str] = {
    "typescript": "npx tsc --noEmit",
    "lint": "npx eslint {file}",
    "tests": "npm test -- {pattern}",
}
DEFAULT_API_TIMEOUT_S = 10.0


@dataclass(eq=False)
class _Chain:
    chain_id: str
    task_id: str
    description: str
    frame: Frame | None  # None: started after the writer closed (nothing is recorded)
    start_ns: int
    snapshots: dict[str, checks.FileSnapshot]
    results: list[AssertionResult] = field(default_factory=list)


class AssertionRecorder:
    """Runs and records the assertions of one agent's tasks."""

    def __init__(
        self,
        transcript_writer: TranscriptWriter,
        execution_id: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        commands: Mapping[str, str | Sequence[str]] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        unknown = set(commands or {}) - set(DEFAULT_COMMANDS)
        if unknown:
            raise ValueError(
                f"unknown command name(s) {sorted(unknown)}; valid names: "
                f"{', '.join(DEFAULT_COMMANDS)}"
            )
        if not timeout_s or timeout_s <= 0:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self._runtime = transcript_writer._runtime
        self.execution_id = execution_id
        self.cwd = Path(cwd) if cwd is not None else None
        self.commands: dict[str, str | Sequence[str]] = {**DEFAULT_COMMANDS, **(commands or {})}
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self._chains: dict[str, _Chain] = {}
        self._ended: dict[str, ChainResult] = {}

    # ------------------------------------------------------------------
    # Chains
    # ------------------------------------------------------------------

    def start_chain(
        self, task_id: str, description: str, *, watch: Iterable[str | os.PathLike[str]] = ()
    ) -> str:
        """Open an assertion chain for ``task_id``; snapshot ``watch`` paths now."""
        if not task_id or not isinstance(task_id, str):
            raise ValueError(f"start_chain needs a task_id string, got {task_id!r}")
        chain_id = new_id()
        snapshots = {}
        for path in watch:
            resolved = self._resolve(path)
            snapshots[os.path.abspath(resolved)] = checks.snapshot_file(resolved)
        if not isinstance(description, str):
            raise ValueError(f"description must be a string, got {description!r}")
        description = redact_text(description)
        if self._runtime.closed:
            # Dropped and counted like every producer call after close(); the
            # chain still collects its assertions, so end_chain has a verdict.
            self._runtime.drop_after_close("start_chain")
            chain = _Chain(chain_id, task_id, description, None, time.time_ns(), snapshots)
        else:
            attrs: Attributes = {c.CHAIN_ID: chain_id, c.CHAIN_DESCRIPTION: description}
            frame = self._runtime.open_frame(
                c.KIND_CHAIN,
                description or chain_id,
                attrs,
                key=chain_id,
                task_id=task_id,
                on_close=self._abandon,
            )
            chain = _Chain(chain_id, task_id, description, frame, frame.start_ns, snapshots)
        with self._lock:
            self._chains[chain_id] = chain
        return chain_id

    def end_chain(self, chain_id: str) -> ChainResult:
        """Close the chain and return its verdict (see the module doc for the rule)."""
        if not isinstance(chain_id, str):
            raise ValueError(f"chain_id must be the string start_chain returned, got {chain_id!r}")
        with self._lock:
            chain = self._chains.pop(chain_id, None)
            if chain is None:
                if chain_id in self._ended:
                    return self._ended[chain_id]
                open_ids = ", ".join(self._chains) or "none"
                raise ValueError(f"unknown chain id {chain_id!r}; open chains: {open_ids}")
        return self._finish(chain)

    # ------------------------------------------------------------------
    # Assertions
    # ------------------------------------------------------------------

    def assert_file_created(self, task_id: str, file_path: str) -> AssertionResult:
        """The file exists now and did not before the task/chain started."""
        path = self._resolve(file_path)
        baseline, since = self._baseline(task_id, path)
        return self._record(
            task_id,
            "file_created",
            f"File created: {file_path}",
            lambda: checks.check_file_created(path, baseline, since),
        )

    def assert_file_modified(self, task_id: str, file_path: str) -> AssertionResult:
        """The file's size, mtime or content changed since the task/chain started."""
        path = self._resolve(file_path)
        baseline, since = self._baseline(task_id, path)
        return self._record(
            task_id,
            "file_modified",
            f"File modified: {file_path}",
            lambda: checks.check_file_modified(path, baseline, since),
        )

    def assert_file_deleted(self, task_id: str, file_path: str) -> AssertionResult:
        """The file no longer exists."""
        path = self._resolve(file_path)
        baseline, _ = self._baseline(task_id, path)
        return self._record(
            task_id,
            "file_deleted",
            f"File deleted: {file_path}",
            lambda: checks.check_file_deleted(path, baseline),
        )

    def assert_typescript_compiles(self, task_id: str) -> AssertionResult:
        """The TypeScript command (default ``npx tsc --noEmit``) exits 0."""
        return self._command(task_id, "typescript_compiles", "TypeScript compiles", "typescript")

    def assert_lint_passes(self, task_id: str, file_path: str) -> AssertionResult:
        """The lint command (default ``npx eslint {file}``) exits 0 for ``file_path``."""
        return self._command(
            task_id, "lint_passes", f"Lint passes: {file_path}", "lint", file=str(file_path)
        )

    def assert_tests_pass(self, task_id: str, test_pattern: str) -> AssertionResult:
        """The test command (default ``npm test -- {pattern}``) exits 0."""
        return self._command(
            task_id,
            "tests_pass",
            f"Tests pass: {test_pattern}" if test_pattern else "Tests pass",
            "tests",
            pattern=str(test_pattern or ""),
        )

    def assert_api_responds(
        self,
        task_id: str,
        url: str,
        expected_status: int = 200,
        timeout_s: float = DEFAULT_API_TIMEOUT_S,
    ) -> AssertionResult:
        """A GET of ``url`` answers ``expected_status`` within ``timeout_s``."""
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// URL, got {url!r}")
        return self._record(
            task_id,
            "api_responds",
            f"GET {url} responds {expected_status}",
            lambda: checks.check_api_responds(url, expected_status, timeout_s),
        )

    def assert_schema_valid(
        self,
        task_id: str,
        file_path: str,
        schema_path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
    ) -> AssertionResult:
        """The JSON file validates against the JSON Schema (a dict or a schema file)."""
        path = self._resolve(file_path)
        schema = schema_path_or_dict
        if not isinstance(schema, Mapping):
            schema = self._resolve(schema)
        checks.load_schema(schema)  # a bad schema is the caller's error: raise here
        return self._record(
            task_id,
            "schema_valid",
            f"Schema valid: {file_path}",
            lambda: checks.check_schema_valid(path, schema),
        )

    def assert_dependency_met(self, task_id: str, dependency_task_id: str) -> AssertionResult:
        """Task ``dependency_task_id`` completed in this execution (per the store)."""
        if not dependency_task_id:
            raise ValueError(f"dependency_task_id must be given, got {dependency_task_id!r}")
        self._runtime.flush()
        db_path = getattr(self._runtime.pipeline, "db_path", None)
        known = self._runtime.task_outcomes.get(dependency_task_id)
        return self._record(
            task_id,
            "dependency_met",
            f"Dependency {dependency_task_id} completed",
            lambda: checks.check_dependency_met(
                db_path, self.execution_id, dependency_task_id, known
            ),
        )

    def assert_custom(
        self, task_id: str, category: str, description: str, command: str | Sequence[str]
    ) -> AssertionResult:
        """``command`` exits 0 (run in ``cwd`` with the recorder's timeout).

        A string is a shell command (``npm test && npm run lint``); a list of
        arguments runs without a shell.
        """
        if not category or not isinstance(category, str):
            raise ValueError(f"category must be a non-empty string, got {category!r}")
        shell = isinstance(command, str)
        if isinstance(command, str):
            if not command.strip():
                raise ValueError(f"command must not be empty, got {command!r}")
        else:
            checks.command_argv(command)  # malformed command: raise at the call
        return self._record(
            task_id,
            category,
            description,
            lambda: checks.run_command(
                command, cwd=self.cwd, timeout_s=self.timeout_s, shell=shell
            ),
        )

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------

    def _command(
        self, task_id: str, category: str, description: str, name: str, **placeholders: str
    ) -> AssertionResult:
        command = self.commands[name]
        return self._record(
            task_id,
            category,
            description,
            lambda: checks.run_command(
                command,
                cwd=self.cwd,
                timeout_s=self.timeout_s,
                env=None,
                shell=False,
                **placeholders,
            ),
        )

    def _record(
        self,
        task_id: str,
        category: str,
        description: str,
        check: Callable[[], checks.Verdict],
    ) -> AssertionResult:
        if not task_id or not isinstance(task_id, str):
            raise ValueError(f"an assertion needs a task_id string, got {task_id!r}")
        if not isinstance(description, str):
            raise ValueError(f"description must be a string, got {description!r}")
        description = redact_text(description)
        started = time.perf_counter()
        try:
            result, evidence = check()
        except ValueError:
            raise
        except Exception as exc:  # a check that breaks is a failed check, not a crash
            result, evidence = "fail", {"error": f"check raised {type(exc).__name__}: {exc}"}
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        chain = self._chain_for(task_id)
        assertion = AssertionResult(
            id=new_id(),
            task_id=task_id,
            chain_id=chain.chain_id if chain is not None else None,
            category=category,
            description=description,
            result=result,
            evidence=evidence,
            timestamp=datetime.now(timezone.utc),
            duration_ms=duration_ms,
        )
        details: dict[str, Any] = {
            "assertion_id": assertion.id,
            "category": category,
            "result": result,
        }
        if chain is not None:
            details["chain_id"] = chain.chain_id
        if evidence.get("error"):
            details["error"] = evidence["error"]
        attrs = entry_attributes(
            new_id(),
            "assertion",
            shorten(f"{result.upper()} {description}", 200),
            details,
            duration_ms=duration_ms,
        )
        attrs.update(
            {
                c.TASK_ID: task_id,
                c.ASSERTION_ID: assertion.id,
                c.ASSERTION_CATEGORY: category,
                c.ASSERTION_DESCRIPTION: description,
                c.ASSERTION_RESULT: result,
                c.ASSERTION_EVIDENCE: safe_json(evidence, DETAILS_CAP),
                c.ASSERTION_DURATION_MS: duration_ms,
            }
        )
        if chain is not None:
            attrs[c.CHAIN_ID] = chain.chain_id
            with self._lock:
                chain.results.append(assertion)
        self._runtime.add_event(self._span_for(task_id, chain), c.EVENT_PREFIX + "assertion", attrs)
        return assertion

    def _chain_for(self, task_id: str) -> _Chain | None:
        """The most recently started open chain of ``task_id``."""
        with self._lock:
            for chain in reversed(self._chains.values()):
                if chain.task_id == task_id:
                    return chain
        return None

    def _span_for(self, task_id: str, chain: _Chain | None) -> Span:
        if chain is not None and chain.frame is not None:
            return chain.frame.span
        frame = self._runtime.find_frame(c.KIND_TASK, task_id)
        return frame.span if frame is not None else self._runtime.state().span

    def _baseline(self, task_id: str, path: Path) -> tuple[checks.FileSnapshot | None, int | None]:
        """The earliest snapshot of ``path`` and the earliest known start of the work."""
        key = os.path.abspath(path)
        baseline = self._runtime.task_snapshot(task_id, str(path))
        chain = self._chain_for(task_id)
        if baseline is None and chain is not None:
            baseline = chain.snapshots.get(key)
        starts = [s for s in (self._runtime.task_start_ns(task_id),) if s is not None]
        if chain is not None:
            starts.append(chain.start_ns)
        return baseline, (min(starts) if starts else None)

    def _resolve(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        if self.cwd is not None and not p.is_absolute():
            return self.cwd / p
        return p

    def _finish(self, chain: _Chain, *, closed_by: str | None = None) -> ChainResult:
        verdict = summarize_chain(chain.chain_id, chain.task_id, chain.results)
        attrs: dict[str, Any] = {
            c.CHAIN_OVERALL_RESULT: verdict.overall_result,
            c.CHAIN_PASS_COUNT: verdict.pass_count,
            c.CHAIN_FAIL_COUNT: verdict.fail_count,
            c.CHAIN_SKIP_COUNT: verdict.skip_count,
        }
        if verdict.first_failure_id is not None:
            attrs[c.CHAIN_FIRST_FAILURE_ID] = verdict.first_failure_id
        if closed_by is not None:
            attrs[c.CLOSED_BY] = closed_by
        error = None
        if verdict.overall_result == "fail":
            first = next(r for r in chain.results if r.id == verdict.first_failure_id)
            error = f"assertion failed: {first.description}"
        with self._lock:
            self._ended[chain.chain_id] = verdict
        if chain.frame is not None:
            self._runtime.close_frame(chain.frame, attrs, error=error)
        return verdict

    def _abandon(self, frame: Frame) -> None:
        with self._lock:
            chain = self._chains.pop(frame.key, None)
        if chain is not None:
            self._finish(chain, closed_by="close")


def summarize_chain(chain_id: str, task_id: str, results: Sequence[AssertionResult]) -> ChainResult:
    """The chain verdict: fail > pass > partial (warnings only) > skip."""
    counts = {outcome: 0 for outcome in c.ASSERTION_RESULTS}
    for r in results:
        counts[r.result] += 1
    overall: ChainOutcome
    if counts["fail"]:
        overall = "fail"
    elif counts["pass"]:
        overall = "pass"
    elif counts["warn"]:
        overall = "partial"
    else:
        overall = "skip"
    first_failure = next((r.id for r in results if r.result == "fail"), None)
    return ChainResult(
        chain_id=chain_id,
        task_id=task_id,
        overall_result=overall,
        pass_count=counts["pass"],
        fail_count=counts["fail"],
        skip_count=counts["skip"],
        warn_count=counts["warn"],
        first_failure_id=first_failure,
        results=list(results),
    )
