"""Secrets never reach a span; oversized payloads are capped, and the cut is counted."""

from __future__ import annotations

import json

import pytest

from otel_obs import redaction


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('curl -H "Authorization: Bearer abcdefghijkl123" https://x', "abcdefghijkl123"),
        ("export OPENAI_API_KEY=sk-abcdefghijklmnopqrstuv", "sk-abcdefghij"),
        ('{"password":"hunter2","db":"x"}', "hunter2"),
        ('{"github_token":"a\\"b"}', 'a\\"b'),
        ("git clone https://user:pw123@github.com/x", "pw123"),
        ("mysql --password s3cret -u root", "s3cret"),
        ("token: abc123", "abc123"),
        ("ghp_abcdefghijklmnopqrstuvwxyz12", "ghp_abcdefghijklmnop"),
        ("cloned with gho_abcdefghijklmnopqrstuvwxyz12", "gho_abcdefghijklmnop"),
        ("ghu_abcdefghijklmnopqrstuvwxyz12 in a sentence", "ghu_abcdefghijklmnop"),
        ("ghs_abcdefghijklmnopqrstuvwxyz12", "ghs_abcdefghijklmnop"),
        ("ghr_abcdefghijklmnopqrstuvwxyz12", "ghr_abcdefghijklmnop"),
        ("AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "MIIE"),
    ],
)
def test_known_secret_shapes_are_redacted(text, secret):
    before = redaction.stats()["redactions"]
    out = redaction.redact_text(text)
    assert secret not in out
    assert redaction.REDACTED in out
    assert redaction.stats()["redactions"] > before


@pytest.mark.parametrize(
    "text", ["max_tokens=5 tokens=7", "src/components/Button.tsx", "keyboard monkey", ""]
)
def test_ordinary_text_is_left_alone(text):
    assert redaction.redact_text(text) == text


def test_redacted_json_stays_json():
    out = redaction.safe_json({"api_key": "k-123", "nested": {"password": "p"}}, 1000)
    assert json.loads(out) == {"api_key": "[REDACTED]", "nested": {"password": "[REDACTED]"}}


def test_capped_json_stays_json_and_the_cut_is_counted():
    value = {"content": "x" * 5000}
    before = redaction.stats()
    out = redaction.safe_json(value, 1000)
    parsed = json.loads(out)
    assert parsed["_truncated"] is True
    assert parsed["_original_chars"] == len(redaction.dumps(value))
    assert len(parsed["head"]) == 1000
    after = redaction.stats()
    assert after["truncated_values"] == before["truncated_values"] + 1
    assert (
        after["truncated_chars"] == before["truncated_chars"] + len(redaction.dumps(value)) - 1000
    )


def test_cap_and_tail_say_what_they_dropped():
    assert redaction.cap_text("abcdef", 4) == "abcd…[truncated 2 chars]"
    assert redaction.tail_text("abcdef", 4) == "[truncated 2 chars]…cdef"
    assert redaction.cap_text("abc", 4) == "abc"
    assert redaction.shorten("a  b\n c", 10) == "a b c"
    assert redaction.shorten("x" * 20, 10) == "x" * 9 + "…"
