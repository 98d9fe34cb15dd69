"""OpenInference (``openinference.span.kind``): Arize's instrumentations of many frameworks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import Source


class OpenInference(Source):
    name = "openinference"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        oi_kind = attrs.get(c.OI_SPAN_KIND)
        if oi_kind == c.OI_TOOL:
            return c.KIND_TOOL
        if oi_kind == c.OI_AGENT:
            return c.KIND_AGENT
        return None


SOURCE = OpenInference()
