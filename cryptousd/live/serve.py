"""Start Voila on the live-dashboard notebook (what ``python3 run.py dashboard`` and
``cryptousd dashboard`` run).

Voila serves it with preheated kernels (``--preheat_kernel=True --pool_size=N``): a small pool of
kernels each start and run the notebook before anyone asks, so an opened page is drawn from a
kernel whose chart is already live instead of waiting for a kernel to start, import and backfill.
What follows from that: every setting a pool kernel reads when it runs the notebook is fixed when
it starts, not when a page is opened. The ``CRYPTOUSD_*`` variables (source, replay files and
speed, refresh, model) come from the environment of the Voila process, so set them before it
starts and restart it to change them; a page cannot pass its own (query strings are not read).
A used kernel is replaced by a fresh one about a second later. ``pool_size=0`` serves cold
kernels (one started per page, as Voila does by default). A preheated kernel runs the notebook up
to the timer and then waits for its page (``wait_for_viewer``): a replay's clock starts when
someone watches.

A closed page's kernel is freed twice over. The page's ``beforeunload`` handler (always on in
Voila 0.5) asks the server to shut it down at once (with the XSRF check off, see
``voila_command``: the beacon was refused before). Where that never arrives (a crashed tab, a
dropped network) the dashboard's timer notices that no page has been connected to its kernel for
a minute and stops (:class:`cryptousd.live.dashboard.PageWatch`); the kernel then goes idle and the
server culls it: every ``cull_interval_s`` it shuts down a kernel no page is connected to
(``cull_connected=False``: a watched page is never culled) that has been idle for ``cull_idle_s``.
Pool kernels waiting for a page are never culled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ..config import NOTEBOOKS_DIR, PROJECT_ROOT

DASHBOARD_NOTEBOOK = NOTEBOOKS_DIR / "06-live-dashboard.ipynb"
# kernels kept running the notebook ahead of viewers: one for the next page, one for a reload or
# a second viewer while the first is being replaced (each holds ~200 MB)
POOL_SIZE = 2
CULL_IDLE_S = 120  # a kernel with no page connected for this long is shut down
CULL_INTERVAL_S = 30  # how often the server looks
UNUSED_LAB_EXTENSIONS = ("jupyterlab-jupytext", "@voila-dashboards/jupyterlab-preview")


def voila_command(
    port: int = 8866,
    *,
    no_browser: bool = True,
    ip: str = "127.0.0.1",
    pool_size: int = POOL_SIZE,
    cull_idle_s: float = CULL_IDLE_S,
    cull_interval_s: float = CULL_INTERVAL_S,
) -> list[str]:
    """The Voila command line; ``pool_size`` preheated kernels (0: a cold kernel per page), an
    unwatched kernel culled after ``cull_idle_s`` (checked every ``cull_interval_s``)."""
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
    # JupyterLab front-end extensions the page never uses: not fetched before the first chart
    cmd += [f"--VoilaConfiguration.extension_denylist={name}" for name in UNUSED_LAB_EXTENSIONS]
    if pool_size > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={int(pool_size)}"]
    cmd += cull_options(cull_idle_s, cull_interval_s)
    # The page's unload beacon (POST /voila/api/shutdown/<kernel id>) carries the _xsrf cookie,
    # which standalone Voila never sets, so the server refused every one with 403 and kept the
    # closed page's kernel (voila-dashboards/voila#1458). Every state-changing route of
    # standalone Voila names a kernel by its random id, which another site cannot know, so the
    # XSRF check guards nothing here; with it off the beacon frees the kernel.
    cmd.append("--Voila.tornado_settings=disable_check_xsrf=True")
    if no_browser:
        cmd.append("--no-browser")
    return cmd


def cull_options(idle_s: float, interval_s: float) -> list[str]:
    """Options that make the server shut down kernels no page is connected to."""
    kernels = "--MappingKernelManager."
    return [
        f"{kernels}cull_idle_timeout={int(idle_s)}",
        f"{kernels}cull_interval={int(interval_s)}",
        f"{kernels}cull_connected=False",
        f"{kernels}cull_busy=False",
    ]


def serve_dashboard(
    port: int = 8866, *, open_browser: bool = False, pool_size: int = POOL_SIZE, loop: bool = True
) -> dict:
    """Run Voila in the foreground until Ctrl-C. On POSIX this process becomes Voila (exec), so a
    service manager's SIGTERM reaches the server itself and leaves nothing behind. ``loop=False``
    makes a replay end with FINISHED (``CRYPTOUSD_REPLAY_LOOP=0``) instead of looping."""
    url = f"http://127.0.0.1:{port}/"
    print(f"CryptoUSD live dashboard: {url}  (Ctrl-C to stop)", flush=True)
    if pool_size > 0:
        print(
            f"{pool_size} preheated kernel(s) run the notebook ahead of viewers; CRYPTOUSD_* "
            "settings are read now, restart to change them",
            flush=True,
        )
    cmd = voila_command(port, no_browser=not open_browser, pool_size=pool_size)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not loop:
        env["CRYPTOUSD_REPLAY_LOOP"] = "0"
    os.chdir(PROJECT_ROOT)
    if os.name == "posix":
        os.execve(cmd[0], cmd, env)
    try:
        subprocess.run(cmd, env=env, check=False)
    except KeyboardInterrupt:
        pass
    return {"url": url}
