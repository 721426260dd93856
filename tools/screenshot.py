"""Regenerate docs/dashboard.png (the README's picture) from what a fresh clone shows offline.

    .venv/bin/python tools/screenshot.py            # writes docs/dashboard.png (about a minute)
    .venv/bin/python tools/screenshot.py --out x.png

It clones the committed HEAD into a temporary folder (so nothing beside this checkout, no local
``data/`` and no uncommitted change is visible), links this interpreter's environment in as the
clone's ``.venv``, and runs ``cryptousd dashboard`` there as ``python3 run.py dashboard`` does, with
every ``CRYPTOUSD_*`` setting removed but ``CRYPTOUSD_SOURCE=replay``: what ``auto`` falls back to
without a network, so the page replays the 7-day sample bundled in the package at its default speed.
Chromium (``/usr/bin/chromium``, through Playwright, as in ``tests/browser.py``) photographs the
dashboard once it shows 60 real and 10 forecast candles and the scorecard has resolved forecasts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "dashboard.png"
CHARTS_DRAWN_JS = "() => document.querySelectorAll('g.stick').length >= 70"
SCORED_JS = (
    "() => (document.querySelector('.cu-score') || {innerText: ''}).innerText.includes('resolved')"
)


def fresh_clone(tmp: Path) -> Path:
    """A clone of the committed HEAD in ``tmp`` (its parent holds no ``shared/``) with a .venv."""
    clone = tmp / "cryptousd"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    assert not (clone.parent / "shared").exists()
    return clone


def clean_env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOUSD_")}
    env.update(
        CRYPTOUSD_SOURCE="replay",
        PYTHONPATH=str(clone),
        PYTHONUNBUFFERED="1",
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    return env


def photograph(clone: Path, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.browser import browser_page, free_port, stop, wait_for_port

    port = free_port()
    cmd = [sys.executable, "-m", "cryptousd.cli", "dashboard", f"--port={port}"]
    with open(clone / "voila.log", "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=clone, env=clean_env(clone), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(proc, port, 90.0, "the dashboard")
        with browser_page(1400, 1000) as page:
            page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
            page.wait_for_function(CHARTS_DRAWN_JS, timeout=90_000)
            page.wait_for_function(SCORED_JS, timeout=120_000)
            page.wait_for_timeout(2500)
            status = page.locator(".cu-status").inner_text()
            header = page.locator(".cryptousd-dashboard").inner_text().splitlines()[:3]
            page.locator(".cryptousd-dashboard").screenshot(path=str(out))
    finally:
        stop(proc)
    print(f"wrote {out} ({status}; {' | '.join(header)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cryptousd-shot-"))
    try:
        photograph(fresh_clone(tmp), args.out.resolve())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
