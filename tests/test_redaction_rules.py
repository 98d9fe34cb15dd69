"""Redaction: linear time, decoded values, every text of every producer, before any cut,
configurable; checked on the bytes of the real store's files."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import pytest
from producer_support import Traced
from sink_support import Sinks

from otel_obs import conventions as c
from otel_obs import redaction
from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.redaction import REDACTED, configure_redaction, redact_text, reset_redaction
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter


@pytest.fixture(autouse=True)
def default_rules():
    reset_redaction()
    yield
    reset_redaction()


# ----------------------------------------------------------------------
# Linear time
# ----------------------------------------------------------------------

HOSTILE = {
    # each repeats a unit that starts a secret pattern and never completes it
    "dashes": "a-",
    "svg-path": "M12.5-3.2l4.1-1.9c0 1-2 3 4 5z",
    "names": "db_password_token-",
    "jwt-heads": "eyJ",
    "url-userinfo": "ftp://u:",
    "bearer": "Bearer ",
    "pem": "-----BEGIN RSA PRIVATE KEY-----",
}


def seconds_for(unit: str, size: int) -> float:
    text = (unit * (size // len(unit) + 1))[:size] + " token"
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        redact_text(text)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


@pytest.mark.parametrize("unit", list(HOSTILE.values()), ids=list(HOSTILE))
def test_redaction_time_grows_linearly_with_the_text(unit):
    small, large = 16_384, 262_144  # 16x the text
    seconds_for(unit, small)  # warm up
    t_small, t_large = seconds_for(unit, small), seconds_for(unit, large)
    # linear: about 16x (quadratic would be 256x); generous for a loaded machine
    assert t_large <= max(64 * t_small, 0.02), (t_small, t_large)
    assert t_large < 1.0


# ----------------------------------------------------------------------
# Decoded values
# ----------------------------------------------------------------------


def test_secret_keys_match_whatever_their_case_and_their_value_type():
    out = json.loads(
        redaction.safe_json(
            {
                "PASSWORD": 123456,
                "X-API-KEY": ["k1", "k2"],
                "Cookie": {"session": "abc"},
                "accessToken": "t0k3n",
                "db_pass": "pw",
                "password_hint": "first pet",
                "max_tokens": 5,
                "empty_password": None,
            },
            10_000,
        )
    )
    assert out == {
        "PASSWORD": REDACTED,
        "X-API-KEY": REDACTED,
        "Cookie": REDACTED,
        "accessToken": REDACTED,
        "db_pass": REDACTED,
        "password_hint": "first pet",
        "max_tokens": 5,
        "empty_password": None,
    }


def test_argument_lists_lose_the_value_after_a_secret_flag():
    out = json.loads(
        redaction.safe_json({"argv": ["mysql", "--password", "s3cr3t", "-u", "root"]}, 1000)
    )
    assert out == {"argv": ["mysql", "--password", REDACTED, "-u", "root"]}


def test_a_quoted_secret_value_leaves_valid_json_and_no_secret():
    # a secret holding a quote: scrubbing the JSON text left half of it, and broke the JSON
    value = {"command": 'psql "password=ab\\"cdXY host=h"', "token": 'q"uote'}
    text = redaction.safe_json(value, 10_000)
    out = json.loads(text)
    assert "cdXY" not in text and "uote" not in text
    assert "host=h" in out["command"]
    assert out["token"] == REDACTED


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("export DB_PASSWORD='correct horse battery'", "correct horse battery"),
        ('API_KEY="a b c d"', "a b c d"),
        ("PGPASSWORD=pw123 psql", "pw123"),
        ("git clone https://bob:p@ss@w0rd@example.com/r.git", "p@ss@w0rd"),
        ("set-cookie: sid=abcdef", "sid=abcdef"),
        ("X-Api-Key: 0123456789", "0123456789"),
        ("curl --api-key=abcd1234 https://x", "abcd1234"),
        ("glpat-abcdefghijklmnopqrstu", "glpat-abcdefghijklmnopqrstu"),
    ],
)
def test_assignments_quotes_and_urls(text, secret):
    assert secret not in redact_text(text)


def test_every_private_key_block_is_redacted():
    blocks = [
        "-----BEGIN RSA PRIVATE KEY-----\nRSABODY\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nSSHBODY\n-----END OPENSSH PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nPKCS8BODY\n-----END PRIVATE KEY-----",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nPGPBODY\n-----END PGP PRIVATE KEY BLOCK-----",
        "-----BEGIN EC PRIVATE KEY-----\nCUTBODY",  # cut short: redacted to the end
    ]
    out = redact_text("keys:\n" + "\nbetween\n".join(blocks))
    for body in ("RSABODY", "SSHBODY", "PKCS8BODY", "PGPBODY", "CUTBODY"):
        assert body not in out
    assert out.count("between") == 4
    assert "-----BEGIN CERTIFICATE-----\nPUBLIC" in redact_text(
        "-----BEGIN CERTIFICATE-----\nPUBLIC\n-----END CERTIFICATE-----"
    )


# ----------------------------------------------------------------------
# Before any cut
# ----------------------------------------------------------------------


def test_a_secret_crossing_a_cap_is_redacted_before_the_cut(traced: Traced):
    writer = TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)
    tools = ToolUseLogger(writer)
    secret = "sk-" + "Z" * 40
    output = "x" * (redaction.OUTPUT_CAP - 10) + " " + secret + " tail"
    tools.log_end(tools.log_start({"id": "t1", "name": "Bash", "input": {}}), {"content": output})
    summary = "s" * 190 + " password=hunter2hunter2"
    writer.write({"entry_type": "decision", "summary": summary})
    writer.close()
    stored = traced.one(c.KIND_TOOL).attributes[c.TOOL_OUTPUT]
    assert "sk-ZZZ" not in stored and "ZZZZZZZZ" not in stored
    assert "truncated" in stored
    [(_, attrs)] = traced.events("obs.decision")
    assert "hunter" not in attrs[c.ENTRY_SUMMARY]


# ----------------------------------------------------------------------
# Every text of every producer, in the store's bytes
# ----------------------------------------------------------------------


SECRET = "hunter2hunter2XYZ"


def every_producer_text(pipeline, cwd) -> TranscriptWriter:
    """Each producer text (titles, descriptions, names, summaries, errors) holding SECRET."""
    kv = f"password={SECRET}"
    writer = TranscriptWriter("exec-s", "agent-1", pipeline=pipeline, task_list_id="list")
    tools = ToolUseLogger(writer)
    skills = SkillTracer(writer, tools)
    recorder = AssertionRecorder(writer, "exec-s", cwd=cwd)
    with writer.phase(f"iterate {kv}"):
        with writer.task("T1", f"title {kv}", file=str(cwd / "f.txt")):
            chain = recorder.start_chain("T1", f"chain {kv}")
            recorder.assert_custom("T1", "custom", f"description {kv}", ["true"])
            recorder.assert_file_created("T1", f"missing {kv}.txt")
            recorder.end_chain(chain)
            ref = {"skill_name": f"skill {kv}", "section_title": f"section {kv}"}
            trace_id = skills.trace_start(ref)
            skills.trace_end(trace_id, "failed", f"skill error {kv}")
            tid = tools.log_start({"id": "t1", "name": "Bash", "input": {"cmd": kv}})
            tools.log_end(tid, {"content": f"error {kv}", "is_error": True})
            tid = tools.log_start({"id": "t2", "name": "Bash", "input": {}})
            tools.log_blocked(tid, f"reason {kv}")
            writer.write({"entry_type": "decision", "summary": f"summary {kv}"})
            writer.record_error(f"message {kv}", "boom")
        with pytest.raises(RuntimeError):
            with writer.task("T2", "fails"):
                raise RuntimeError(f"task error {kv}")
    writer.close()
    return writer


def test_no_producer_text_carries_a_secret_into_any_sink(tmp_path):
    sinks = Sinks(tmp_path / "store")
    try:
        every_producer_text(sinks.pipeline, tmp_path)
        sinks.flush()
        assert sinks.sqlite_rows("SELECT count(*) FROM tool_uses") == [(2,)]
        assert sinks.leaks(SECRET) == []
    finally:
        sinks.close()


def test_no_producer_text_carries_a_secret_onto_a_span(traced: Traced, tmp_path):
    """What an OTLP exporter would send: every span name, attribute, event and status."""
    every_producer_text(traced.pipeline, tmp_path)
    texts = []
    for span in traced.spans():
        texts += [span.name, span.status.description or "", json.dumps(dict(span.attributes))]
        texts += [json.dumps([e.name, dict(e.attributes)]) for e in span.events]
    texts += [json.dumps([name, attrs]) for _, name, attrs, _ in traced.sink.events]
    assert len(traced.spans()) == 8  # agent, phase, two tasks, chain, skill, two tools
    assert [t for t in texts if SECRET in t] == []


# ----------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------


def test_extra_patterns_and_an_allowlist():
    configure_redaction(extra_patterns=[r"EMP-\d{6}"], allow=[r"changeme", r"\$\{[A-Z_]+\}"])
    assert redact_text("employee EMP-123456 done") == f"employee {REDACTED} done"
    assert redact_text("password=changeme") == "password=changeme"
    assert redact_text("PASSWORD=${DB_PASSWORD}") == "PASSWORD=${DB_PASSWORD}"
    assert redact_text("password=real") == f"password={REDACTED}"
    assert json.loads(redaction.safe_json({"password": "changeme", "id": "EMP-000001"}, 999)) == {
        "password": "changeme",
        "id": REDACTED,
    }
    with pytest.raises(ValueError, match="EMP-\\(unclosed"):
        configure_redaction(extra_patterns=["EMP-(unclosed"])


def test_environment_variables_configure_redaction(tmp_path):
    code = (
        "from otel_obs.redaction import redact_text\n"
        "print(redact_text('id EMP-123456 password=changeme token=real'))\n"
    )
    env = {
        "OTEL_OBS_REDACT_PATTERNS": '["EMP-\\\\d{6}"]',
        "OTEL_OBS_REDACT_ALLOW": "changeme",
        "PATH": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"id {REDACTED} password=changeme token={REDACTED}"


def test_a_bad_pattern_in_the_environment_fails_at_the_writer(monkeypatch, traced):
    monkeypatch.setenv("OTEL_OBS_REDACT_PATTERNS", "(unclosed")
    reset_redaction()
    with pytest.raises(ValueError, match="OTEL_OBS_REDACT_PATTERNS|unclosed"):
        TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)
