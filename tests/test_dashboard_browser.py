"""The live dashboard in a real browser: Voila serves the notebook, Chromium (Playwright)
watches it.
"""

from __future__ import annotations

import time

import pytest

from cryptousd.config import RUNS_DIR

from .browser import CHROMIUM, NEEDS_CHROMIUM, STICKS_PER_MARK_JS, browser_page, voila_server

# a pane has drawn when its RSI line's path has a point for (nearly) every shown candle
PANE_DRAWN_JS = """
() => { const points = Array.from(document.querySelectorAll('.cu-pane-rsi path.line'))
            .map(p => (p.getAttribute('d') || '').split('L').length);
        const bars = document.querySelectorAll('.cu-pane-macd rect.bar');
        return Math.max(0, ...points) >= 50 && bars.length >= 50; }
"""

pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


def test_dashboard_draws_60_real_and_10_predicted_candles_and_keeps_updating():
    assert CHROMIUM, "Chromium is missing: .ci/run must install Debian's chromium"
    with voila_server() as url, browser_page() as page:
        t0 = time.monotonic()
        page.goto(url, timeout=60_000)
        page.wait_for_function(
            "() => document.querySelectorAll('g.stick').length >= 70", timeout=60_000
        )
        first_chart_s = time.monotonic() - t0
        counts = sorted(page.evaluate(STICKS_PER_MARK_JS))
        assert 60 in counts and 10 in counts, (
            counts
        )  # one mark of 60 real candles, one of 10 predicted
        assert page.locator(".cu-status").inner_text().startswith("REPLAY")
        panel_1 = page.locator(".cu-panel").inner_text()
        time_1 = page.locator(".cu-time").inner_text()
        assert "Forecast close in 10 min" in panel_1 and "P(up in 10 min)" in panel_1
        # the indicator panes draw under the price chart: an RSI line with points, MACD bars
        page.wait_for_function(PANE_DRAWN_JS, timeout=30_000)
        assert "Volatility (30 min, annualised)" in panel_1
        page.wait_for_function(
            "() => !document.querySelector('.cu-time').innerText"
            f".includes({time_1!r}.split('\\t').pop())",
            timeout=30_000,
        )
        page.wait_for_timeout(1500)
        panel_2 = page.locator(".cu-panel").inner_text()
        assert panel_2 != panel_1
        assert page.locator(".cu-time").inner_text() != time_1
        assert len(page.evaluate("() => document.querySelectorAll('g.stick')")) >= 70
        RUNS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(RUNS_DIR / "dashboard.png"), full_page=True)
        print(f"\nfirst chart drawn {first_chart_s:.2f} s after the page was opened")
