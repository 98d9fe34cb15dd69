"""The price of a model call whose source states its tokens and not its cost.

Prices come from ``genai-prices`` (the Pydantic team's table of the major providers'
prices and their history), looked up by the model, the provider when it is one the table
knows, and the time of the call (a price that changed is the one in force then). The
table ships with the package: nothing is fetched at run time.

A cost the source reports is kept as it is (``cost_source`` ``reported``); one priced
here is ``computed``; a model the table does not know leaves the cost NULL.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

REPORTED = "reported"
COMPUTED = "computed"
#: Unknown (model, provider) pairs remembered, so a store of unknown models does not pay
#: for a failed lookup per call.
_UNKNOWN_MAX = 1024
_unknown: set[tuple[str, str | None]] = set()


@functools.lru_cache(maxsize=1)
def _table() -> Any:
    """``genai_prices`` (its ``Usage`` and ``calc_price``), imported on the first price asked
    for (its table takes a quarter of a second to load), or None when it is not installed."""
    try:
        import genai_prices
    except ImportError:  # pragma: no cover - a dependency; without it nothing is computed
        return None
    return genai_prices


@functools.lru_cache(maxsize=256)
def _provider_id(provider: str | None) -> str | None:
    """A provider name as the table knows it (``gcp.gemini`` → ``google``), else None."""
    if not provider:
        return None
    name = provider.lower()
    for prefix, known in (
        ("gcp.", "google"),
        ("google", "google"),
        ("gemini", "google"),
        ("vertex", "google"),
        ("aws.bedrock", "aws"),
        ("az.", "azure"),
        ("azure", "azure"),
        ("x_ai", "x-ai"),
        ("xai", "x-ai"),
    ):
        if name.startswith(prefix):
            return known
    return name


def price(
    model: str | None,
    provider: str | None,
    usage: dict[str, Any],
    start_ns: int | None,
) -> float | None:
    """The cost in USD of one call's (or run's) tokens at the time it started, else None."""
    if not model or usage.get("input_tokens") is None and usage.get("output_tokens") is None:
        return None
    table = _table()
    if table is None:
        return None
    provider_id = _provider_id(provider)
    if (model, provider_id) in _unknown:
        return None
    when = datetime.fromtimestamp(start_ns / 1e9, tz=timezone.utc) if start_ns is not None else None
    tokens = table.Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=usage.get("cache_read_tokens") or None,
        cache_write_tokens=usage.get("cache_creation_tokens") or None,
    )
    for candidate in (provider_id, None) if provider_id else (None,):
        try:
            found = table.calc_price(
                tokens, model, provider_id=candidate, genai_request_timestamp=when
            )
        except (LookupError, ValueError):  # an unknown model or provider, usage it refuses
            continue
        return float(found.total_price)
    if len(_unknown) < _UNKNOWN_MAX:
        _unknown.add((model, provider_id))
    return None


def cost(
    model: str | None, provider: str | None, usage: dict[str, Any], start_ns: int | None
) -> tuple[float | None, str | None]:
    """(cost in USD, ``reported`` / ``computed`` / None) of a stated usage."""
    reported = usage.get("cost_usd")
    if reported is not None:
        return float(reported), REPORTED
    computed = price(model, provider, usage, start_ns)
    return (computed, COMPUTED) if computed is not None else (None, None)


__all__ = ["COMPUTED", "REPORTED", "cost", "price"]
