"""Property: a secret of any kind, inside any surrounding text or JSON, handed to any
producer, appears in no byte of any sink (SQLite, its WAL, the JSONL transcripts),
whichever writer (a thread of the agent's process, or a writer process) stores it."""

from __future__ import annotations

import json
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sink_support import Sinks

from otel_obs.redaction import reset_redaction
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

ALNUM = string.ascii_letters + string.digits
NAMES = ["PASSWORD", "db_password", "API_KEY", "x-api-key", "Secret", "AUTH_TOKEN", "Cookie"]

# Secrets with some variety: a needle like "000000000000000" also turns up in
# ordinary stored text (the digits of a float), which is not a leak.
bodies = (
    st.text(alphabet=ALNUM, min_size=20, max_size=32)
    .map(lambda s: "Zq9" + s)
    .filter(lambda b: len(set(b[8:])) >= 6)
)
names = st.sampled_from(NAMES)
# Surrounding text: any character a string can hold in UTF-8 (no lone surrogates:
# those are the fuzz tests' business), lines and all.
noise = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)

#: kind -> (text holding the secret, the secret to look for)
Kind = Callable[[str, str], tuple[str, str]]
KINDS: dict[str, Kind] = {
    "assignment": lambda name, b: (f"{name}={b}", b),
    "yaml": lambda name, b: (f"{name}: {b}", b),
    "env-quoted": lambda name, b: (f'export {name}="{b} more words"', b),
    "single-quoted": lambda name, b: (f"{name}='{b}'", b),
    "flag": lambda name, b: (f"--{name.lower()} {b}", b),
    "url-with-at": lambda name, b: (f"https://me:{b[:8]}@{b[8:]}@db.example.com/x", b[8:]),
    "bearer": lambda name, b: (f"Authorization: Bearer {b}", b),
    "json-text": lambda name, b: (json.dumps({name: b, "n": 1}), b),
    "openai": lambda name, b: (f"sk-proj-{b}", b),
    "github": lambda name, b: (f"ghp_{b}", b),
    "aws": lambda name, b: ("AKIA" + b.upper()[:16].ljust(16, "Q"), b.upper()[:16]),
    "pem": lambda name, b: (
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{b}\n{b[::-1]}\n-----END OPENSSH PRIVATE KEY-----",
        b,
    ),
    "pgp": lambda name, b: (
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{b}\n-----END PGP PRIVATE KEY BLOCK-----",
        b,
    ),
}


@pytest.fixture(scope="module", params=["thread", "process"])
def sinks(tmp_path_factory, request):
    # Both writers: a tool's payloads are redacted where they leave the agent's
    # process (otel_obs.deferred_payloads), on the store's thread or in the writer process.
    reset_redaction()
    s = Sinks(tmp_path_factory.mktemp("secrets"), writer=request.param)
    yield s
    s.close()


_count = iter(range(10**9))


@given(
    kind=st.sampled_from(sorted(KINDS)),
    name=names,
    body=bodies,
    before=noise,
    after=noise,
    key=st.text(alphabet=ALNUM + "_-", min_size=1, max_size=12),
)
def test_a_secret_in_random_text_reaches_no_sink(sinks, kind, name, body, before, after, key):
    n = next(_count)
    body = f"{body}u{n}"  # unique to this example: a leak is reported where it happened
    text, secret = KINDS[kind](name, body)
    embedded = f"{before} {text}\n{after}"
    writer = TranscriptWriter(f"exec-{n}", "agent-1", pipeline=sinks.pipeline)
    tools = ToolUseLogger(writer)
    with writer.task(f"T{n}", embedded, note=embedded):
        tool_input = {
            "command": embedded,
            key: [embedded, {"nested": embedded}],
            "env": {name: body},
            "argv": ["tool", f"--{name.lower()}", body],
        }
        tool_id = tools.log_start({"id": f"t{n}", "name": "Bash", "input": tool_input})
        tools.log_end(tool_id, {"content": embedded, "is_error": n % 2 == 0})
        writer.write({"entry_type": "discovery", "summary": embedded, "details": {key: embedded}})
    writer.close()
    sinks.flush()
    assert sinks.leaks(secret) == [], (kind, text)


@given(
    name=names,
    value=st.one_of(st.integers(10**6, 10**12), bodies, st.lists(bodies, min_size=1, max_size=3)),
)
def test_a_secret_keys_value_of_any_type_reaches_no_sink(sinks, name, value):
    n = next(_count)
    writer = TranscriptWriter(f"exec-k{n}", "agent-1", pipeline=sinks.pipeline)
    ToolUseLogger(writer).log_start(
        {"id": f"k{n}", "name": "Bash", "input": {"cfg": {name.upper(): value}}}
    )
    writer.close()
    sinks.flush()
    needles = [str(v) for v in (value if isinstance(value, list) else [value])]
    assert [sinks.leaks(v) for v in needles] == [[] for _ in needles]
