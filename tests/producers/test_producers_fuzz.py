"""Fuzzing the public producer API: arbitrary calls either refuse their input with a
clear ValueError or are stored safely, and the store stays sound (see fuzz_support).

The CI profile (tests/conftest.py) is fixed and fast; ``python
benchmarks/fuzz_producers.py`` runs the same properties far longer.
"""

from __future__ import annotations

import itertools
import shutil

import pytest
from fuzz_support import Agent, programs, store_problems, texts
from hypothesis import given
from sink_support import Sinks

from otel_obs.redaction import reset_redaction


class Stores:
    """A fresh store every few examples: the checks read the whole database, and one
    store growing through thousands of examples would make each check slower."""

    EXAMPLES_PER_STORE = 25

    def __init__(self, root) -> None:
        self.root = root
        self.used = 0
        self.sinks: Sinks | None = None

    def next(self) -> Sinks:
        if self.sinks is None or self.used >= self.EXAMPLES_PER_STORE:
            if self.sinks is not None:
                self.sinks.close()
                shutil.rmtree(self.sinks.root, ignore_errors=True)
            self.sinks = Sinks(self.root / f"store-{next(_numbers)}")
            self.used = 0
        self.used += 1
        return self.sinks

    def close(self) -> None:
        if self.sinks is not None:
            self.sinks.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    reset_redaction()
    s = Stores(tmp_path_factory.mktemp("fuzz"))
    yield s
    s.close()


_numbers = itertools.count()


@given(program=programs, instance=texts)
def test_any_producer_calls_leave_a_sound_store(stores, program, instance):
    sinks = stores.next()
    execution_id = f"fuzz-{next(_numbers)}"
    try:
        agent = Agent(sinks.pipeline, execution_id, instance, sinks.root)
    except ValueError:
        return  # an unusable instance id, refused by name
    agent.run(program)
    sinks.flush()
    assert store_problems(sinks.db, sinks.transcripts, execution_id) == []
    assert agent.writer.stats["storage_errors"] == 0
