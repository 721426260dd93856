"""The feed's static page in a real browser: Chromium (Playwright) against a real uvicorn."""

from __future__ import annotations

import pytest

from cryptousd.config import RUNS_DIR

from .browser import CHROMIUM, NEEDS_CHROMIUM, browser_page
from .feed_server import feed_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    NEEDS_CHROMIUM,
]

COUNTS_JS = "() => ({...document.getElementById('chart').dataset})"


def test_the_page_draws_60_real_and_10_predicted_candles_and_keeps_updating():
    assert CHROMIUM, "Chromium is missing: .ci/run must install Debian's chromium"
    with feed_server(speed=5, refresh=0.2) as (url, _), browser_page() as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url + "/", timeout=60_000)
        page.wait_for_function(
            "() => { const d = document.getElementById('chart').dataset;"
            " return d.real === '60' && d.pred === '10'; }",
            timeout=60_000,
        )
        first = page.evaluate(COUNTS_JS)
        assert page.locator("#status").inner_text().startswith("REPLAY")
        panel = page.locator("#panel").inner_text()
        assert "Forecast close in 10 min" in panel and "P(up in 10 min)" in panel
        assert "%" in page.locator("#pup").inner_text()
        assert page.locator("#model").inner_text().startswith("lstm-direct")
        page.wait_for_function(
            f"() => document.getElementById('chart').dataset.last !== {first['last']!r}",
            timeout=30_000,
        )
        again = page.evaluate(COUNTS_JS)
        assert again["real"] == "60" and again["pred"] == "10"
        assert again["last"] > first["last"]
        # everything came from the feed itself: no CDN, no third party
        assert requests and all(r.startswith(url) for r in requests), requests
        RUNS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(RUNS_DIR / "feed-page.png"), full_page=True)


def test_the_page_passes_its_token_on_to_the_api():
    with feed_server("--token", "pg-token", speed=5) as (url, _), browser_page() as page:
        page.goto(url + "/?token=pg-token", timeout=60_000)
        page.wait_for_function(
            "() => document.getElementById('chart').dataset.real === '60'", timeout=60_000
        )


def test_the_voila_dashboard_on_the_feed_source_draws_what_the_service_streams():
    from .browser import STICKS_PER_MARK_JS, voila_server
    from .test_dashboard_browser import PANE_DRAWN_JS

    with feed_server(speed=5) as (url, _):
        env = {"CRYPTOUSD_SOURCE": "feed", "CRYPTOUSD_FEED_URL": url}
        with voila_server(env_extra=env) as vurl, browser_page() as page:
            page.goto(vurl, timeout=60_000)
            page.wait_for_function(
                "() => document.querySelectorAll('g.stick').length >= 70", timeout=90_000
            )
            counts = sorted(page.evaluate(STICKS_PER_MARK_JS))
            assert 60 in counts and 10 in counts, counts
            assert page.locator(".cu-status").inner_text().startswith("REPLAY")
            assert "FEED " + url in page.inner_text("body")
            # the indicator panes draw the values the service sends with its candles
            page.wait_for_function(PANE_DRAWN_JS, timeout=30_000)
            time_1 = page.locator(".cu-time").inner_text()
            page.wait_for_function(
                "() => !document.querySelector('.cu-time').innerText"
                f".includes({time_1!r}.split('\\t').pop())",
                timeout=30_000,
            )
