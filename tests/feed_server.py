"""Start ``cryptousd serve`` (uvicorn, a real HTTP server) on a free 127.0.0.1 port.

Used by the feed tests, the feed's browser test and ``benchmarks/bench_feed.py``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time

import httpx

from cryptousd.config import PROJECT_ROOT
from cryptousd.data.locate import SAMPLE_FILE

from .browser import free_port, stop


def serve_command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "cryptousd.cli", "serve", "--port", str(port), *args]


@contextlib.contextmanager
def feed_server(
    *args: str, replay=SAMPLE_FILE, speed=30, refresh=0.2, timeout=120.0, env=None, port=None
):
    """Yield (base URL, process) of a feed replaying ``replay`` (the bundled sample) at ``speed``
    market minutes per second; extra ``args`` go to ``cryptousd serve``."""
    port = port or free_port()
    cmd = serve_command(
        port,
        "--source",
        "replay",
        "--replay",
        *([str(r) for r in replay] if isinstance(replay, (list, tuple)) else [str(replay)]),
        "--speed",
        str(speed),
        "--refresh",
        str(refresh),
        *args,
    )
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    if "CRYPTOUSD_TOKEN" not in (env or {}):
        full_env.pop("CRYPTOUSD_TOKEN", None)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        cmd, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                out = log.read().decode(errors="replace")
                raise RuntimeError(f"cryptousd serve exited with {proc.returncode}: {out[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cryptousd serve did not answer on {url} in {timeout:.0f} s")
            time.sleep(0.2)
        yield url, proc
    finally:
        stop(proc)
        log.close()
