"""Opening a report in a real headless Chromium, for its tests and its benchmark.

Playwright's Python package drives the system's Chromium (Debian's
``chromium``) through ``executable_path``: no browser is downloaded. The flags
keep the browser from reaching the network or updating itself, so a run
measures the report alone. Playwright is imported only here, and only when a
browser is opened (it is a test dependency, not a runtime one).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where to look for Chromium: ``$CHROMIUM`` first, then these names on PATH.
CHROMIUM_ENV = "CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

#: Resolves once the page has been laid out and painted twice after loading.
_RENDERED_JS = (
    "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame("
    "() => done(performance.now()))))"
)


def find_chromium() -> str | None:
    """The Chromium executable to drive, or None when this machine has none."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class OpenedReport:
    """A report loaded in a page: the page, its console problems, its load-to-render time."""

    page: Any
    render_ms: float
    problems: list[str] = field(default_factory=list)


@contextmanager
def open_report(
    path: Path, chromium: str, width: int = 1400, height: int = 900
) -> Iterator[OpenedReport]:
    """Load ``path`` (``file://``) and wait until it has rendered; console errors are kept."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            problems: list[str] = []
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            render_ms = float(page.evaluate(_RENDERED_JS))
            yield OpenedReport(page=page, render_ms=render_ms, problems=problems)
        finally:
            browser.close()
