"""The offline demo in a real browser: a page opened late is live (a preheated kernel waits for
its page before its replay's clock starts), the replay loops past its data's end with the seam
marked."""

from __future__ import annotations

import time

import pytest

from cryptousd import load_candles
from cryptousd.config import OHLCV
from cryptousd.data.locate import SAMPLE_FILE

from .browser import NEEDS_CHROMIUM, browser_page, voila_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    NEEDS_CHROMIUM,
]
CHART_JS = "() => document.querySelectorAll('g.stick').length >= 70"
SEAM_LABEL_JS = (
    "() => Array.from(document.querySelectorAll('svg text'))"
    ".some(t => t.textContent.trim() === 'loop 2')"
)


def changes(page, selector: str, timeout_ms: int = 30_000) -> None:
    """Wait until the text of ``selector`` differs from what it is now."""
    before = page.locator(selector).inner_text()
    page.wait_for_function(
        f"() => document.querySelector({selector!r}).innerText !== {before!r}",
        timeout=timeout_ms,
    )


def test_a_late_page_is_live_and_the_replay_loops_past_its_end(tmp_path):
    """900 real minutes at x60: one pass takes 15 s. The page opens after more than a pass, yet
    starts in the first one; then the chart crosses the seam and goes on."""
    short = tmp_path / "BTCUSDT-900-minutes.csv"
    load_candles(SAMPLE_FILE).iloc[:900][OHLCV].to_csv(short)
    env = {
        "CRYPTOUSD_SOURCE": "replay",
        "CRYPTOUSD_REPLAY": str(short),
        "CRYPTOUSD_REPLAY_SPEED": "60",
    }
    with voila_server(env, pool_size=1, wait_preheated=True) as url, browser_page() as page:
        time.sleep(16)  # more than one pass of the data before anyone looks
        page.goto(url, timeout=60_000)
        page.wait_for_function(CHART_JS, timeout=60_000)
        status = page.locator(".cu-status").inner_text()
        assert status.startswith("REPLAY x60 · loop 1"), status  # not FINISHED, not consumed
        page.wait_for_function(
            "() => document.querySelector('.cu-status').innerText.includes('loop 2')",
            timeout=60_000,
        )
        page.wait_for_function(SEAM_LABEL_JS, timeout=30_000)  # the seam on the chart
        changes(page, ".cu-time")  # candles keep coming past the seam
        changes(page, ".cu-time")
        assert "FINISHED" not in page.locator(".cu-status").inner_text()
        assert "RECONNECTING" not in page.locator(".cu-source").inner_text()
