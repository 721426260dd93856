"""Start Voila on the dashboard notebook and open it in Debian's Chromium through Playwright.

Used by the browser test and by ``benchmarks/bench_live.py``. Everything runs on localhost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cryptousd.config import PROJECT_ROOT
from cryptousd.data.locate import locate_candles
from cryptousd.live.serve import POOL_SIZE, voila_command

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
# a browser test runs wherever Chromium is; CI installs it, so there a missing one fails instead
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def voila_server(
    env_extra: dict | None = None,
    timeout: float = 60.0,
    pool_size: int = POOL_SIZE,
    wait_preheated: bool = False,
    cull: tuple[float, float] | None = None,
    procs: list | None = None,
):
    """Yield the URL of a Voila server on a free localhost port, replaying the last shared month.

    ``pool_size`` preheated kernels as ``run.py dashboard`` serves them (0: a cold kernel per
    page); ``wait_preheated`` returns only once they have run the notebook (for timing a page
    that opens on a warm server); ``cull`` = (idle s, interval s) shortens the kernel culling;
    ``procs`` receives the server's process."""
    port = free_port()
    env = dict(
        os.environ,
        CRYPTOUSD_SOURCE="replay",
        CRYPTOUSD_REPLAY=str(locate_candles(files_only=True).files()[-1]),
        CRYPTOUSD_REPLAY_SPEED="300",
        CRYPTOUSD_REFRESH_S="0.5",
        PYTHONUNBUFFERED="1",
    )
    env.update(env_extra or {})
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    log = (
        open(PROJECT_ROOT / "runs" / f"voila-{port}.log", "w")  # noqa: SIM115 - lives as long as Voila
        if (PROJECT_ROOT / "runs").exists()
        else subprocess.DEVNULL
    )
    proc = subprocess.Popen(
        voila_command(port, pool_size=pool_size, **culling(cull)),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    if procs is not None:
        procs.append(proc)
    try:
        # wait for the port; a GET of the page would start a kernel of its own
        wait_for_port(proc, port, timeout, f"voila on {url}")
        if wait_preheated and pool_size > 0:
            wait_for_idle_kernels(proc.pid, pool_size, deadline=time.monotonic() + 4 * timeout)
        yield url
    finally:
        stop(proc)


def wait_for_port(proc: subprocess.Popen, port: int, timeout: float, what: str) -> None:
    """Wait until ``proc`` listens on ``port`` of 127.0.0.1; a one-line error if it exits first
    or does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: no answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def culling(cull: tuple[float, float] | None) -> dict:
    return {} if cull is None else {"cull_idle_s": cull[0], "cull_interval_s": cull[1]}


def kernels(server_pid: int) -> list:
    """The server's live kernel processes (one being shut down, already a zombie or gone, is
    not counted)."""
    import psutil

    alive = []
    for p in psutil.Process(server_pid).children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "ipykernel_launcher" in " ".join(p.cmdline()):
                alive.append(p)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return alive


def wait_for_idle_kernels(server_pid: int, n: int, deadline: float) -> None:
    """Wait until the server has ``n`` kernels and none is busy (the notebook has run in each:
    a live dashboard's timer then uses a few percent of a core)."""
    import psutil

    def cpu(p) -> float:
        times = p.cpu_times()
        return times.user + times.system

    while time.monotonic() < deadline:
        found = kernels(server_pid)
        if len(found) < n:
            time.sleep(0.5)
            continue
        try:
            before = [cpu(k) for k in found]
            time.sleep(1.0)
            if max(cpu(k) - b for k, b in zip(found, before, strict=True)) < 0.3:
                return
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # one ended meanwhile: look again
    raise RuntimeError(f"the {n} preheated kernel(s) did not settle in time")


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 900):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


# sticks per OHLC mark: each mark draws its candles as g.stick children of one group
STICKS_PER_MARK_JS = """
() => { const groups = new Map();
        for (const s of document.querySelectorAll('g.stick'))
            groups.set(s.parentElement, (groups.get(s.parentElement) || 0) + 1);
        return Array.from(groups.values()); }
"""
