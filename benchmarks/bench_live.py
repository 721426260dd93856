"""The dashboard kernel: closed candle -> forecast -> chart update, in the kernel, one candle per
tick; kernel memory (a fresh process that never imports TensorFlow); beside the same tick with
Keras ``model.predict`` as the forecaster, in the same run. With Chromium installed, also the
time from opening the page to the first chart drawn, with a cold kernel (Voila's default: one
started per page) beside the preheated pool that ``run.py dashboard`` serves, in the same run.

    .venv/bin/python benchmarks/bench_live.py            (or: cryptousd bench live)

Also the same tick with the indicators on (streaming update per closed candle, the RSI and MACD
panes and the Bollinger bands drawn) and off (``LiveSession(indicators=False)``, panes switched
off), alternating in one process so both see the same machine state; that table alone:

    .venv/bin/python benchmarks/bench_live.py --indicators
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from _util import in_fresh_process, table

from cryptousd.data.locate import SAMPLE_FILE, full_history_files
from cryptousd.live.serve import POOL_SIZE

RESULT: dict = {}  # filled by main(); `cryptousd bench live --json PATH` writes it

TICKS = """
import numpy as np, sys
from cryptousd.live.dashboard import Dashboard, Settings
from cryptousd.data.sources import ReplaySource
from cryptousd.live.session import LiveSession
import cryptousd as cu
from cryptousd.data.locate import full_history_files
d = Dashboard(Settings(source='replay', replay=({archive!r},), refresh_s=1.0))
d.session = LiveSession(ReplaySource(cu.load_candles({archive!r}), speed=None), {forecaster})
d.step()
ms = [d.step() for _ in range({n})]
result = {{'p50': float(np.percentile(ms, 50)), 'p99': float(np.percentile(ms, 99)), \
'tf': 'tensorflow' in sys.modules,
          'forecast_p50': float(np.percentile(list(d.session.forecast_ms), 50))}}
"""

INDICATOR_TICKS = """
import numpy as np, sys
from cryptousd.live.dashboard import Dashboard, Settings
from cryptousd.data.sources import ReplaySource
from cryptousd.live.session import LiveSession
import cryptousd as cu
candles = cu.load_candles({archive!r})
def dash(on):
    d = Dashboard(Settings(source='replay', replay=({archive!r},), refresh_s=1.0))
    d.session = LiveSession(ReplaySource(candles, speed=None), d.forecaster, indicators=on)
    for box in d.view.pane_switch.children:
        box.value = on
    d.step()
    return d
on, off = dash(True), dash(False)
ms = {{True: [], False: []}}
for _ in range({n}):
    for flag, d in ((True, on), (False, off)):
        ms[flag].append(d.step())
result = {{k: [float(np.percentile(v, 50)), float(np.percentile(v, 99))] for k, v in
          (("on", ms[True]), ("off", ms[False]))}}
"""


def indicators_table(archive: str, n: int = 1000) -> None:
    r = in_fresh_process(INDICATOR_TICKS.format(archive=archive, n=n))
    rows = [
        {
            "tick": "indicators on (streaming + 2 panes + bands)",
            "p50 ms": r["on"][0],
            "p99 ms": r["on"][1],
        },
        {"tick": "indicators off", "p50 ms": r["off"][0], "p99 ms": r["off"][1]},
    ]
    table(f"Dashboard tick with and without indicators ({n} ticks each, interleaved)", rows)


def main() -> None:
    archives = full_history_files()
    archive = str(archives[-1] if archives else SAMPLE_FILE)
    if "--indicators" in sys.argv:
        return indicators_table(archive)
    indicators_table(archive)
    ours = in_fresh_process(TICKS.format(archive=archive, n=2000, forecaster="d.forecaster"))
    keras_code = TICKS.replace(
        "d.session = LiveSession",
        "from keras_forecaster import KerasForecaster\nd.session = LiveSession",
    )
    sys_path = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    ref = in_fresh_process(
        sys_path
        + keras_code.format(archive=archive, n=200, forecaster="KerasForecaster(d.forecaster)")
    )
    rows = [
        {
            "tick": "NumPy forecaster (the dashboard)",
            "tick p50 ms": ours["p50"],
            "tick p99 ms": ours["p99"],
            "forecast p50 ms": ours["forecast_p50"],
            "kernel peak MB": ours["peak_mb"],
            "imports TF": ours["tf"],
        },
        {
            "tick": "Keras model.predict forecaster (reference)",
            "tick p50 ms": ref["p50"],
            "tick p99 ms": ref["p99"],
            "forecast p50 ms": ref["forecast_p50"],
            "kernel peak MB": ref["peak_mb"],
            "imports TF": ref["tf"],
        },
    ]
    table(
        "Closed candle -> forecast -> chart update (widgets without a browser), "
        "one candle per tick",
        rows,
    )

    from tests.browser import CHROMIUM, browser_page, voila_server

    RESULT.update(ticks={"numpy": ours, "keras_predict": ref})
    if CHROMIUM:
        import psutil

        def kernel_mb(url: str) -> float:
            """The largest kernel of the Voila server on ``url``'s port (not other Jupyters')."""
            port = f"--port={url.rstrip('/').rsplit(':', 1)[1]}"
            servers = [
                p for p in psutil.process_iter(["cmdline"]) if port in (p.info["cmdline"] or [])
            ]
            ks = [
                k
                for s in servers
                for k in s.children(recursive=True)
                if "ipykernel_launcher" in " ".join(k.cmdline())
            ]
            return max(k.memory_info().rss for k in ks) / 2**20

        runs = []
        no_replay = {"CRYPTOUSD_REPLAY": ""}
        cases = [
            ("cold kernel (pool 0, Voila's default)", 0, {}),
            ("preheated pool of 2 (run.py dashboard)", POOL_SIZE, {}),
            ("cold kernel (pool 0, Voila's default)", 0, {}),
            ("preheated pool of 2 (run.py dashboard)", POOL_SIZE, {}),
            ("preheated, source auto", POOL_SIZE, {"CRYPTOUSD_SOURCE": "auto", **no_replay}),
        ]
        for label, pool, env in cases:
            with (
                voila_server(env, pool_size=pool, wait_preheated=True) as url,
                browser_page() as page,
            ):
                t0 = time.monotonic()
                page.goto(url, timeout=60_000)
                page.wait_for_function(
                    "() => document.querySelectorAll('g.stick').length >= 70", timeout=60_000
                )
                opened = time.monotonic() - t0
                time.sleep(5)
                runs.append(
                    {
                        "kernel": label,
                        "source": env.get("CRYPTOUSD_SOURCE", "replay"),
                        "page -> first chart s": opened,
                        "Voila kernel RSS MB (after 5 s live)": kernel_mb(url),
                    }
                )
        table(
            "Voila page opened -> first chart with 70 candles drawn (Chromium), on a server "
            "already listening (preheated: its pool has run the notebook); the kernel's memory",
            runs,
        )
        RESULT["first_chart"] = runs
    else:
        print("\n(Chromium not installed: skipping the page-load timing; apt-get install chromium)")


if __name__ == "__main__":
    main()
