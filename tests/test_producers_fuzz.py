"""Fuzzing the public producer API: arbitrary calls either refuse their input with a
clear ValueError or are stored safely, and the store stays sound (see fuzz_support).

The CI profile (tests/conftest.py) is fixed and fast; ``python
benchmarks/fuzz_producers.py`` runs the same properties far longer.
"""

from __future__ import annotations

import itertools

import pytest
from fuzz_support import Agent, programs, store_problems, texts
from hypothesis import given
from sink_support import Sinks

from otel_obs.redaction import reset_redaction


@pytest.fixture(scope="module")
def sinks(tmp_path_factory):
    reset_redaction()
    s = Sinks(tmp_path_factory.mktemp("fuzz"))
    yield s
    s.close()


_numbers = itertools.count()


@given(program=programs, instance=texts)
def test_any_producer_calls_leave_a_sound_store(sinks, tmp_path_factory, program, instance):
    execution_id = f"fuzz-{next(_numbers)}"
    try:
        agent = Agent(sinks.pipeline, execution_id, instance, sinks.root)
    except ValueError:
        return  # an unusable instance id, refused by name
    agent.run(program)
    sinks.flush()
    assert store_problems(sinks.db, sinks.transcripts, execution_id) == []
    assert agent.writer.stats["storage_errors"] == 0
