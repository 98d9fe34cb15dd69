"""The assertion checks, as plain functions returning ``(result, evidence)``.

Kept apart from :class:`~otel_obs.assertion_recorder.AssertionRecorder` so each
check can be run and tested on its own, with no spans involved: the recorder
only times a check, wraps its verdict in an ``AssertionResult`` and records it.

``result`` is one of ``pass`` / ``fail`` / ``skip`` / ``warn``; ``evidence`` is
a JSON-ready dict that says what was looked at (command, exit code, output
tails, file facts, HTTP status, schema errors, the error met).

Conventions shared by the command checks:

- A configured command is a string (split like a shell would, but run
  without a shell, so a ``{file}`` placeholder holding spaces or quotes stays
  one argument) or a list of arguments. ``assert_custom`` runs a string
  through ``/bin/sh -c`` (the spec's ``npm test && npm run lint``) and a
  list without a shell.
- Executable not found (or not executable): ``skip`` — the toolchain is not
  installed, which says nothing about the work being checked.
- Timeout: ``fail``; the whole process group is killed so a tool that spawned
  children (``npx``, ``npm test``) cannot keep the check waiting.
- Exit: judged when the command exits; output goes to files, so a background
  process it started (a dev server) cannot hold the check open.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from .models import AssertionOutcome
from .redaction import EVIDENCE_TAIL, REDACT_MARGIN, redact_and_tail, redact_text

Verdict = tuple[AssertionOutcome, dict[str, Any]]

#: How far a file's mtime may lag the clock that stamped "start" and still count
#: as written after it: file timestamps come from the kernel's coarse clock.
MTIME_SLACK_S = 0.05

_HASH_CHUNK = 1 << 20
#: The shell a command string given to ``assert_custom`` runs through.
SHELL = "/bin/sh"


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSnapshot:
    """What a file looked like at one moment: enough to tell created, changed, deleted."""

    path: str
    exists: bool
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    taken_ns: int = 0

    def facts(self) -> dict[str, Any]:
        return asdict(self)


def snapshot_file(path: str | os.PathLike[str]) -> FileSnapshot:
    """Stat and hash ``path`` now (a missing file is a snapshot too)."""
    taken = time.time_ns()
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return FileSnapshot(str(p), False, taken_ns=taken)
    if not p.is_file():
        return FileSnapshot(str(p), True, st.st_size, st.st_mtime_ns, None, taken)
    digest = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return FileSnapshot(str(p), True, st.st_size, st.st_mtime_ns, None, taken)
    return FileSnapshot(str(p), True, st.st_size, st.st_mtime_ns, digest.hexdigest(), taken)


def _file_evidence(
    now: FileSnapshot, baseline: FileSnapshot | None, since_ns: int | None
) -> dict[str, Any]:
    return {
        "file_path": now.path,
        "now": now.facts(),
        "baseline": baseline.facts() if baseline is not None else None,
        "since_ns": since_ns,
    }


def _written_since(now: FileSnapshot, since_ns: int | None) -> bool:
    if since_ns is None or now.mtime_ns is None:
        return False
    return now.mtime_ns >= since_ns - int(MTIME_SLACK_S * 1e9)


def _by_mtime(now: FileSnapshot, since_ns: int, evidence: dict[str, Any], subject: str) -> Verdict:
    """Without a snapshot: pass when the file was written since the work started."""
    evidence["basis"] = "mtime"
    if _written_since(now, since_ns):
        return "pass", evidence
    evidence["error"] = f"{subject} last written before the work started"
    return "fail", evidence


def check_file_created(
    path: str | os.PathLike[str],
    baseline: FileSnapshot | None = None,
    since_ns: int | None = None,
) -> Verdict:
    """Pass when ``path`` exists now and did not when ``baseline`` was taken.

    Without a baseline the file's mtime must not predate ``since_ns`` (the
    start of the chain or task); with neither, existence alone decides and the
    evidence says so.
    """
    now = snapshot_file(path)
    evidence = _file_evidence(now, baseline, since_ns)
    if not now.exists:
        evidence["error"] = "file does not exist"
        return "fail", evidence
    if baseline is not None:
        if baseline.exists:
            evidence["error"] = "file already existed when the snapshot was taken"
            return "fail", evidence
        evidence["basis"] = "snapshot"
        return "pass", evidence
    if since_ns is not None:
        return _by_mtime(now, since_ns, evidence, "file exists but was")
    evidence["basis"] = "existence only: no snapshot or start time to compare with"
    return "pass", evidence


def check_file_modified(
    path: str | os.PathLike[str],
    baseline: FileSnapshot | None = None,
    since_ns: int | None = None,
) -> Verdict:
    """Pass when ``path`` exists and its size, mtime or content differ from ``baseline``.

    A file that did not exist at the snapshot and exists now counts as
    modified. Without a baseline, an mtime at or after ``since_ns`` decides.
    """
    now = snapshot_file(path)
    evidence = _file_evidence(now, baseline, since_ns)
    if not now.exists:
        evidence["error"] = "file does not exist"
        return "fail", evidence
    if baseline is not None:
        evidence["basis"] = "snapshot"
        if not baseline.exists:
            evidence["note"] = "file was created after the snapshot"
            return "pass", evidence
        changed = [
            name
            for name in ("size", "mtime_ns", "sha256")
            if getattr(baseline, name) != getattr(now, name)
        ]
        evidence["changed"] = changed
        if changed:
            return "pass", evidence
        evidence["error"] = "file is unchanged since the snapshot"
        return "fail", evidence
    if since_ns is not None:
        return _by_mtime(now, since_ns, evidence, "file was")
    evidence["error"] = "no snapshot or start time to compare with"
    return "warn", evidence


def check_file_deleted(
    path: str | os.PathLike[str], baseline: FileSnapshot | None = None
) -> Verdict:
    """Pass when ``path`` is gone; the baseline (when known) shows it existed before."""
    now = snapshot_file(path)
    evidence = _file_evidence(now, baseline, None)
    if now.exists:
        evidence["error"] = "file still exists"
        return "fail", evidence
    if baseline is not None and not baseline.exists:
        evidence["note"] = "file did not exist when the snapshot was taken either"
    return "pass", evidence


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def command_argv(command: str | Sequence[str], **placeholders: str) -> list[str]:
    """Split ``command`` and fill ``{name}`` placeholders inside single arguments."""
    if isinstance(command, str):
        argv = shlex.split(command)
    elif isinstance(command, Sequence) and all(isinstance(a, str) for a in command):
        argv = list(command)
    else:
        raise ValueError(f"command must be a string or a list of strings, got {command!r}")
    if not argv:
        raise ValueError("command is empty")
    out = []
    for arg in argv:
        filled = arg
        for name, value in placeholders.items():
            filled = filled.replace("{" + name + "}", value)
        if filled or not arg:  # a lone placeholder filled with "" is dropped, not passed as ""
            out.append(filled)
    return out


def run_command(
    command: str | Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout_s: float = 60.0,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    **placeholders: str,
) -> Verdict:
    """Run ``command`` and judge it by its exit code (0 passes).

    With ``shell``, a string runs through ``/bin/sh -c`` (``npm test && npm
    run lint``, ``exit 3``); otherwise it is split into arguments.

    Output goes to temporary files, not pipes: a command that exits but leaves
    a background process behind (a dev server started with ``&``) is judged
    as soon as it exits, instead of waiting for the pipes to close. Such a
    process is left running. Only the tails of the files are read.

    Evidence: the command, cwd, exit code, stdout/stderr tails (redacted,
    capped), duration, and ``error`` when it could not run or timed out.
    """
    if shell:
        if not isinstance(command, str) or not command.strip():
            raise ValueError(f"a shell command must be a non-empty string, got {command!r}")
        argv = [SHELL, "-c", command]
    else:
        argv = command_argv(command, **placeholders)
    evidence: dict[str, Any] = {
        "command": command if shell else argv,
        "cwd": str(cwd) if cwd is not None else os.getcwd(),
        "timeout_s": timeout_s,
        "exit_code": None,
        "timed_out": False,
    }
    if shell:
        evidence["shell"] = True
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            missing_cwd = cwd is not None and not Path(cwd).is_dir()
            evidence["error"] = (
                f"working directory not found: {cwd}"
                if missing_cwd
                else f"executable not available: {argv[0]} ({exc.strerror or exc})"
            )
            evidence["duration_ms"] = _ms_since(started)
            return ("fail" if missing_cwd else "skip"), evidence
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            evidence["timed_out"] = True
            evidence["error"] = f"timed out after {timeout_s:g} s"
        evidence["exit_code"] = proc.returncode
        evidence["stdout_tail"] = _tail(out)
        evidence["stderr_tail"] = _tail(err)
    evidence["duration_ms"] = _ms_since(started)
    if evidence["timed_out"]:
        return "fail", evidence
    if shell and proc.returncode == 127 and "not found" in evidence["stderr_tail"]:
        # The shell's "command not found": the toolchain is missing, as for an argv.
        evidence["error"] = f"executable not available ({evidence['stderr_tail'].strip()})"
        return "skip", evidence
    if proc.returncode != 0:
        evidence["error"] = f"exit code {proc.returncode}"
        return "fail", evidence
    return "pass", evidence


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


#: Bytes read from the end of an output file: the tail kept, the text scanned
#: past it for secrets, and room for multi-byte characters.
_TAIL_BYTES = (EVIDENCE_TAIL + REDACT_MARGIN) * 4


def _tail(file: IO[bytes]) -> str:
    """The redacted, capped tail of a command's output file."""
    size = file.seek(0, os.SEEK_END)
    skipped = max(0, size - _TAIL_BYTES)
    file.seek(skipped)
    text = file.read().decode("utf-8", errors="replace")
    return redact_and_tail(text, EVIDENCE_TAIL, already_dropped=skipped)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


def check_api_responds(url: str, expected_status: int = 200, timeout_s: float = 10.0) -> Verdict:
    """Pass when a GET of ``url`` answers with ``expected_status`` within ``timeout_s``."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must be an http:// or https:// URL, got {url!r}")
    evidence: dict[str, Any] = {
        "url": redact_text(url),
        "expected_status": expected_status,
        "status": None,
        "timeout_s": timeout_s,
    }
    started = time.perf_counter()
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            evidence["status"] = response.status
            body = response.read(EVIDENCE_TAIL)
    except urllib.error.HTTPError as exc:
        evidence["status"] = exc.code
        body = exc.read(EVIDENCE_TAIL) if exc.fp is not None else b""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        evidence["error"] = f"no response: {reason}"
        evidence["elapsed_ms"] = _ms_since(started)
        return "fail", evidence
    evidence["elapsed_ms"] = _ms_since(started)
    evidence["body_head"] = redact_text(body.decode("utf-8", errors="replace"))
    if evidence["status"] != expected_status:
        evidence["error"] = f"status {evidence['status']}, expected {expected_status}"
        return "fail", evidence
    return "pass", evidence


# --------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------

_MAX_SCHEMA_ERRORS = 10


def load_schema(schema: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema from a dict or a JSON file; a bad schema is the caller's error."""
    import jsonschema

    if isinstance(schema, Mapping):
        loaded: Any = dict(schema)
        where = "schema"
    else:
        where = str(schema)
        try:
            loaded = json.loads(Path(schema).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read schema file {where!r}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"schema file {where!r} is not valid JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(loaded).__name__}")
    validator = jsonschema.validators.validator_for(loaded)
    try:
        validator.check_schema(loaded)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"{where} is not a valid JSON Schema: {exc.message}") from exc
    return loaded


def check_schema_valid(
    file_path: str | os.PathLike[str], schema: str | os.PathLike[str] | Mapping[str, Any]
) -> Verdict:
    """Pass when the JSON document at ``file_path`` validates against ``schema``."""
    import jsonschema

    loaded = load_schema(schema)
    evidence: dict[str, Any] = {
        "file_path": str(file_path),
        "schema": str(schema) if not isinstance(schema, Mapping) else "inline",
    }
    try:
        document = json.loads(Path(file_path).read_text(encoding="utf-8"))
    except OSError as exc:
        evidence["error"] = f"cannot read file: {exc.strerror}"
        return "fail", evidence
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        evidence["error"] = f"not valid JSON: {exc}"
        return "fail", evidence
    validator = jsonschema.validators.validator_for(loaded)(loaded)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    evidence["error_count"] = len(errors)
    if errors:
        evidence["errors"] = [
            {"path": "/".join(str(p) for p in e.absolute_path), "message": e.message[:300]}
            for e in errors[:_MAX_SCHEMA_ERRORS]
        ]
        evidence["error"] = f"{len(errors)} schema violation(s)"
        return "fail", evidence
    return "pass", evidence


# --------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------


def check_dependency_met(
    db_path: str | os.PathLike[str] | None,
    execution_id: str,
    dependency_task_id: str,
    known_status: str | None = None,
) -> Verdict:
    """Pass when ``dependency_task_id`` completed in ``execution_id``.

    The store decides (a read-only query of ``tasks``). When there is no store
    to read, ``known_status`` — what this process itself saw the task end
    with — decides instead, and the evidence names the source.
    """
    evidence: dict[str, Any] = {
        "execution_id": execution_id,
        "dependency_task_id": dependency_task_id,
    }
    status: str | None = None
    found = False
    if db_path is not None and Path(db_path).exists():
        evidence["source"] = "store"
        try:
            uri = Path(db_path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=5.0)
            try:
                row = conn.execute(
                    "SELECT status, completed_at, error FROM tasks"
                    " WHERE execution_id = ? AND id = ?",
                    (execution_id, dependency_task_id),
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            evidence["store_error"] = str(exc)
            row = None
        if row is not None:
            found = True
            status = row[0]
            evidence.update(status=row[0], completed_at=row[1], task_error=row[2])
    if not found and known_status is not None:
        evidence["source"] = "writer"
        found = True
        status = known_status
        evidence["status"] = known_status
    if not found:
        evidence["error"] = "task not found in this execution"
        return "fail", evidence
    if status == "completed":
        return "pass", evidence
    evidence["error"] = f"dependency status is {status!r}, not 'completed'"
    return "fail", evidence
