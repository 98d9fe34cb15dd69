"""The report in a real headless Chromium: it loads cleanly and a click shows details.

Skipped, with the reason, where the machine has no Chromium (``.ci/run``
installs Debian's ``chromium``) or Playwright's Python package is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_store import DemoStore, demo_store

from otel_obs.report import write_report
from otel_obs.report.browser import find_chromium, open_report

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium on this machine (apt-get install chromium, or set $CHROMIUM)",
    ),
]
playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is not installed"
)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoStore]:
    demo = demo_store(tmp_path_factory)
    out = tmp_path_factory.mktemp("browser") / "report.html"
    return write_report(demo.db, demo.execution_id, out), demo


def test_report_renders_without_errors_and_a_click_reveals_details(report_file, tmp_path):
    path, demo = report_file
    assert CHROMIUM is not None
    with open_report(path, CHROMIUM) as opened:
        page = opened.page
        assert opened.problems == []
        assert page.locator("#details").is_hidden()
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"

        # Click where an error bar is drawn: what is on top there must be an error.
        bar = page.locator("rect.tool.o-error").first
        box = bar.bounding_box()
        assert box is not None and box["width"] > 0
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        details = page.locator("#details")
        assert details.is_visible()
        text = details.inner_text()
        assert "tool use" in text and "error" in text and "Bash" in text
        assert page.locator("rect.tool.o-error.sel").count() == 1

        # The root-cause row of the errors table selects its bar.
        page.locator("#errors tr.root a").click()
        root = page.locator(".sel")
        assert root.count() == 1
        assert root.get_attribute("id") == page.locator("#errors tr.root a").get_attribute(
            "data-go"
        )
        assert opened.problems == []
