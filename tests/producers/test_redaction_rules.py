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
            writer._runtime.record_error(f"message {kv}", "boom")
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


# ----------------------------------------------------------------------
# Token shapes of the maintained rule set (detect-secrets' plugins, on RE2)
# ----------------------------------------------------------------------

STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "Xy9LongerNewStyleTail"
LIBRARY_SECRETS = {
    "stripe": STRIPE,
    "twilio": "AC" + "0a1b2c3d4e" * 3 + "f9",
    "sendgrid": "SG." + "aB3dE6gH9jK2mN5pQ8sT1v" + "." + "x" * 20 + "Y" * 23,
    "npm": "npm_" + "abcDEF123456" * 3,
    "pypi": "pypi-AgEIcHlwaS5vcmc" + "A1b2C3d4E5" * 8,
    "azure": "AccountKey=" + "Zm9vYmFy" * 11,
    "discord": "MTE" + "x" * 21 + "." + "GhIjKl" + "." + "z" * 27,
    "telegram": "123456789:" + "AAE" + "b" * 32,
}


@pytest.mark.parametrize(
    "text",
    [
        f"deploy --key={STRIPE}",
        f"deploy --key {STRIPE} --env prod",
        f"Stripe call failed: invalid API call with {STRIPE}",
        f"twilio account {LIBRARY_SECRETS['twilio']} ready",
        f"mail via {LIBRARY_SECRETS['sendgrid']}",
        f"//registry.npmjs.org/:_authToken={LIBRARY_SECRETS['npm']}",
        f"twine upload -p {LIBRARY_SECRETS['pypi']}",
        f"DefaultEndpointsProtocol=https;AccountName=a;{LIBRARY_SECRETS['azure']};",
        f"bot {LIBRARY_SECRETS['discord']} online",
        f"telegram {LIBRARY_SECRETS['telegram']}",
    ],
    ids=lambda t: t.split()[0][:24],
)
def test_well_known_token_shapes_of_the_maintained_rule_set(text):
    out = redact_text(text)
    assert REDACTED in out
    for secret in LIBRARY_SECRETS.values():
        assert secret.split("=")[-1] not in out
    assert "Xy9Longer" not in out  # a longer key of the same shape goes whole


def test_a_key_flag_loses_its_value_and_its_argument():
    assert redact_text("deploy --key=abc123 --env prod") == f"deploy --key={REDACTED} --env prod"
    out = json.loads(redaction.safe_json({"argv": ["deploy", "--key", "abc123"]}, 1000))
    assert out == {"argv": ["deploy", "--key", REDACTED]}
    # a bare "key" names no secret in a mapping or an assignment
    assert redact_text('{"key": "name", "sort_key": 3}') == '{"key": "name", "sort_key": 3}'


def test_the_rule_set_is_read_from_detect_secrets_and_compiled_for_re2():
    import re2

    from otel_obs.secret_rules import library

    rules = library()
    names = {name for name, _, _ in rules.skipped}
    assert len(rules.patterns) >= 25
    for pattern in rules.patterns:
        re2.compile(pattern)
    # what RE2 cannot compile (look-around) is skipped and said, never used
    assert {"CloudantDetector", "IbmCloudIamDetector"} <= names
    options = re2.Options()
    options.log_errors = False
    for _, source, _ in rules.skipped:
        with pytest.raises(re2.error):
            re2.compile(source, options)


def test_library_token_shapes_reach_no_sink(tmp_path):
    """A Stripe key in ``deploy --key=<it>`` and in an error, and other shapes in a tool's
    output and a decision: none reaches SQLite or the JSONL."""
    sinks = Sinks(tmp_path / "store")
    try:
        writer = TranscriptWriter("exec-lib", "agent-1", pipeline=sinks.pipeline)
        tools = ToolUseLogger(writer)
        tid = tools.log_start(
            {"id": "t1", "name": "Bash", "input": {"command": f"deploy --key={STRIPE}"}}
        )
        tools.log_end(tid, {"content": f"refused key {STRIPE}", "is_error": True})
        tid = tools.log_start({"id": "t2", "name": "Bash", "input": {"command": "env"}})
        shapes = " ".join(LIBRARY_SECRETS[k] for k in ("twilio", "sendgrid", "discord", "telegram"))
        tools.log_end(tid, {"content": shapes})
        writer._runtime.record_error(f"deploy failed for {STRIPE}", "boom")
        writer.write({"entry_type": "decision", "summary": f"use {LIBRARY_SECRETS['pypi']}"})
        writer.close()
        sinks.flush()
        assert sinks.sqlite_rows("SELECT count(*) FROM tool_uses") == [(2,)]
        shown = (STRIPE, "4eC39HqLyjWDarjtT1zdp7dc", "Xy9LongerNewStyleTail")
        for secret in (*shown, *(v for k, v in LIBRARY_SECRETS.items() if k != "npm")):
            assert sinks.leaks(secret) == [], secret
    finally:
        sinks.close()


def test_only_flags_naming_a_secret_lose_their_value():
    """``--key`` holds a secret (``deploy --key=sk_live…``) unless its value is a sort key;
    other ``--*-key`` flags name no secret."""
    assert redact_text(f"deploy --key={STRIPE}") == f"deploy --key={REDACTED}"
    assert redact_text("deploy --signing-key abc123") == f"deploy --signing-key {REDACTED}"
    for kept in ("sort --key 2 file", "sort --key=1,2n f", "aws dynamodb --sort-key name"):
        assert redact_text(kept) == kept
    out = json.loads(redaction.safe_json({"argv": ["sort", "--key", "2", "-k", "x"]}, 1000))
    assert out == {"argv": ["sort", "--key", "2", "-k", "x"]}
    out = json.loads(redaction.safe_json({"argv": ["deploy", "--key", STRIPE]}, 1000))
    assert out == {"argv": ["deploy", "--key", REDACTED]}


def test_every_library_shape_is_found_by_the_pre_check_in_text_and_in_json():
    """The one-pass pre-check holds a trigger for every library pattern, and it still
    fires once JSON has escaped the quotes and new lines around a secret."""
    from otel_obs.secret_rules import library

    assert len(library().triggers) == len(library().patterns)
    shapes = {**LIBRARY_SECRETS, "artifactory": "AP6" + "xYz0" * 4}
    shapes["npm"] = "//registry.npmjs.org/:_authToken=" + LIBRARY_SECRETS["npm"]
    for name, secret in shapes.items():
        for text in (f'x\n"{secret}"\ny', f"x\n{secret}\n"):
            assert redaction.might_hold_secret(text), name
            out = redaction.safe_json({"output": text}, 10_000)
            assert secret.split("=")[-1] not in out, name


def test_texts_without_a_secret_take_the_cheap_path():
    """Commit hashes, UUIDs, URLs without credentials and upper-case words fire no
    trigger: such a text costs one pre-check pass, no pattern scan."""
    texts = [
        "commit 3f9c2a7b1e4d5f60718293a4b5c6d7e8f9012345\nMerge: 1a2b3c4 5d6e7f8",
        "GET https://example.com/api/v2/items/9f8e7d6c-5b4a-3210-fedc-ba9876543210 200 OK",
        "INFO job 6ba7b810-9dad-11d1-80b4-00c04fd430c8 ASSIGNED; ASCII fallback; ACME-1234",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "def build_index(rows: list[dict[str, Any]], *, limit: int = 100) -> dict[str, int]:",
        "Asia/Tokyo 12345678:90 mailto:dev@example.org",
    ]
    for text in texts:
        assert not redaction.might_hold_secret(text), text
