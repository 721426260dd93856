"""Start Voila on the live-dashboard notebook (what ``python3 run.py dashboard`` and
``cryptousd dashboard`` run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .config import NOTEBOOKS_DIR, PROJECT_ROOT

DASHBOARD_NOTEBOOK = NOTEBOOKS_DIR / "06-live-dashboard.ipynb"


def voila_command(port: int = 8866, *, no_browser: bool = True, ip: str = "127.0.0.1") -> list[str]:
    voila = (
        shutil.which("voila", path=os.path.dirname(sys.executable))
        or shutil.which("voila")
        or "voila"
    )
    cmd = [
        voila,
        str(DASHBOARD_NOTEBOOK),
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--theme=light",
        "--VoilaConfiguration.show_tracebacks=True",
    ]
    if no_browser:
        cmd.append("--no-browser")
    return cmd


def serve_dashboard(port: int = 8866, *, open_browser: bool = False) -> dict:
    """Run Voila in the foreground until Ctrl-C. On POSIX this process becomes Voila (exec), so a
    service manager's SIGTERM reaches the server itself and leaves nothing behind."""
    url = f"http://127.0.0.1:{port}/"
    print(f"CryptoUSD live dashboard: {url}  (Ctrl-C to stop)", flush=True)
    cmd = voila_command(port, no_browser=not open_browser)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    os.chdir(PROJECT_ROOT)
    if os.name == "posix":
        os.execve(cmd[0], cmd, env)
    try:
        subprocess.run(cmd, env=env, check=False)
    except KeyboardInterrupt:
        pass
    return {"url": url}
