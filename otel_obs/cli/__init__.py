"""The ``otel-obs`` command line.

:mod:`.app` holds the commands, :mod:`.output` how results print (JSON or
tables), :mod:`.store_reads` the few reads beyond the SQL tools, :mod:`.tail` the
JSONL follower, :mod:`.skill_files` the agent skill files (SKILL.md). ``main`` is the
console script (``otel-obs``) and what ``python -m otel_obs`` runs.
"""

from __future__ import annotations

from .app import UsageProblem, app, main

__all__ = ["UsageProblem", "app", "main"]
