"""``otel-obs demo``: a simulated multi-agent build recorded through the real producers.

:mod:`.plan` is the seeded plan with its planted faults, :mod:`.run` the
orchestrator (waves of worker processes in one trace), :mod:`.worker` one
simulated build agent (``python -m otel_obs.demo worker …``).
"""

from __future__ import annotations

from .run import DemoError, print_result, run_demo

__all__ = ["DemoError", "print_result", "run_demo"]
