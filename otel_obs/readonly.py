"""The old home of :class:`ReadTimeoutError`, kept because earlier docs named it here.

The read-only connections and their time bound live in
:mod:`otel_obs.queries.readonly`.
"""

from __future__ import annotations

from otel_obs.queries.readonly import ReadTimeoutError

__all__ = ["ReadTimeoutError"]
