"""Regenerate docs/dashboard.png (the README's screenshot): Voila replaying the last shared month.

.venv/bin/python tools/screenshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser import browser_page, voila_server


def main() -> None:
    with (
        voila_server({"CRYPTOUSD_REPLAY_SPEED": "10", "CRYPTOUSD_REFRESH_S": "0.5"}) as url,
        browser_page(1400, 1000) as page,
    ):
        page.goto(url, timeout=60_000)
        page.wait_for_function(
            "() => document.querySelectorAll('g.stick').length >= 70", timeout=60_000
        )
        page.wait_for_function(
            "() => document.querySelector('.cu-score').innerText.includes('resolved')",
            timeout=120_000,
        )
        page.wait_for_timeout(2500)
        page.locator(".cryptousd-dashboard").screenshot(path=str(ROOT / "docs" / "dashboard.png"))
    print("wrote docs/dashboard.png")


if __name__ == "__main__":
    main()
