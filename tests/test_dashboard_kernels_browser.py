"""A closed page frees its Voila kernel (each viewer costs about 200 MB), in a real browser: at
once through the page's unload beacon, or, where none arrives (a crashed tab), once the
dashboard's timer sees no page connected and the server culls the idle kernel. A watched page
is never stopped."""

from __future__ import annotations

import time

import pytest

from .browser import NEEDS_CHROMIUM, browser_page, kernels, voila_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    NEEDS_CHROMIUM,
]
LIVE_JS = "() => document.querySelectorAll('g.stick').length >= 70"


def wait_for_kernels(pid: int, n: int, within_s: float) -> int:
    """Poll the server's kernel processes until there are ``n``; return the last count."""
    deadline = time.monotonic() + within_s
    while (count := len(kernels(pid))) != n and time.monotonic() < deadline:
        time.sleep(0.5)
    return count


def test_leaving_the_page_frees_its_kernel_at_once():
    procs: list = []
    with voila_server(pool_size=1, wait_preheated=True, procs=procs) as url, browser_page() as page:
        pid = procs[0].pid
        assert len(kernels(pid)) == 1  # the preheated one
        for _ in range(3):
            page.goto(url, timeout=60_000)
            page.wait_for_function(LIVE_JS, timeout=60_000)
            assert wait_for_kernels(pid, 2, 30) == 2  # this page's kernel and a new pool one
            page.goto("about:blank")  # beforeunload: the beacon asks the server to shut it down
            assert wait_for_kernels(pid, 1, 20) == 1  # 5 after 3 opens before (the beacon got 403)


def test_a_crashed_page_is_culled_and_a_watched_one_is_not():
    procs: list = []
    env = {"CRYPTOUSD_UNWATCHED_S": "3"}
    with (
        voila_server(env, pool_size=1, wait_preheated=True, cull=(3, 1), procs=procs) as url,
        browser_page() as page,
    ):
        pid = procs[0].pid
        page.goto(url, timeout=60_000)
        page.wait_for_function(LIVE_JS, timeout=60_000)
        shown = page.locator(".cu-time").inner_text()
        time.sleep(10)  # three times the unwatched limit, watched all along
        assert len(kernels(pid)) == 2
        page.wait_for_function(  # still live: the timer was not stopped under a watching page
            f"() => document.querySelector('.cu-time').innerText !== {shown!r}", timeout=10_000
        )
        page.close(run_before_unload=False)  # no beacon, as from a crashed tab
        assert wait_for_kernels(pid, 1, 30) == 1
