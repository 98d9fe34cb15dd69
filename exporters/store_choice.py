"""Making stores, and the store that takes over from each: the one place that wires them up.

Two kinds of store feed a :class:`.writer.StoreWriter`: a
:class:`.process_store.ProcessStore` (the default: a writer process of its
own) and a :class:`.thread_store.ThreadStore` (a thread of the agent's
process). Each may have to hand its items to another, and which one is
decided here, not by the stores:

- a writer process that cannot start or dies: a thread store takes over, in
  this process;
- a store in a process that forked: the child's items go to a new process
  store, whatever the parent's kind. SQLite's state in a forked child (its
  record of which locks this process holds) is the parent's, so a connection
  opened there can misjudge its locks; a writer process starts clean.
"""

from __future__ import annotations

import os
from typing import Any

from otel_obs import settings
from otel_obs.store_location import StoreArg

from .process_store import ProcessStore
from .queue_front import QueueFront, Reason
from .thread_store import ThreadStore

#: A store of either kind.
Store = ProcessStore | ThreadStore


def thread_store(
    db_path: StoreArg, transcripts_dir: str | os.PathLike[str], **given: Any
) -> ThreadStore:
    """A thread store, replaced by a process store in a forked child."""
    return ThreadStore(
        db_path, transcripts_dir, **given, replacement=_replacement(db_path, transcripts_dir, given)
    )


def process_store(
    db_path: StoreArg, transcripts_dir: str | os.PathLike[str], **given: Any
) -> ProcessStore:
    """A process store, replaced by a thread store if its writer process fails, and by a
    new process store in a forked child."""
    return ProcessStore(
        db_path, transcripts_dir, **given, replacement=_replacement(db_path, transcripts_dir, given)
    )


def open_store(
    db_path: StoreArg,
    transcripts_dir: str | os.PathLike[str],
    writer: str | None = None,
    **given: Any,
) -> Store:
    """A store of the ``writer`` kind (argument, else ``OTEL_OBS_WRITER``, else ``process``)."""
    kind = settings.WRITER.resolve(writer)
    make = process_store if kind == "process" else thread_store
    return make(db_path, transcripts_dir, **given)


def _replacement(
    db_path: StoreArg, transcripts_dir: str | os.PathLike[str], given: dict[str, Any]
) -> Any:
    def replace(reason: Reason) -> QueueFront:
        make = thread_store if reason == "failed" else process_store
        return make(db_path, transcripts_dir, **given)

    return replace


__all__ = ["Store", "open_store", "process_store", "thread_store"]
