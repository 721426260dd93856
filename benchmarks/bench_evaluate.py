"""Walk-forward evaluation over six months of one-minute origins (the model + 3 baselines),
beside a plain per-origin loop (one ``Forecaster.predict`` call per origin) on a small slice and
the pure-NumPy inference path on one month, in the same run; then the 12-month backtest.

    .venv/bin/python benchmarks/bench_evaluate.py    (or: cryptousd bench evaluate --json PATH)

Six months are 2024-10..2025-03 of the shared Binance archives; on a clone without them it
evaluates the 7-day sample shipped in the package (fewer origins) and says so.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import table

import cryptousd as cu
from cryptousd.backtest import backtest_all
from cryptousd.config import shared_archives
from cryptousd.evaluate import walk_forward
from cryptousd.forecast.numpy_lstm import NumpyLSTM
from cryptousd.locate import SAMPLE_FILE

RESULT: dict = {}  # filled by main(); `cryptousd bench evaluate --json PATH` writes it


def main() -> None:
    archives = shared_archives()
    model = cu.load_forecaster()
    baselines = cu.load_baselines()
    forecasters = {model.name: model, **baselines}
    if len(archives) >= 15:
        files, what = archives[9:15], "six months, 2024-10..2025-03"
    else:
        files, what = [SAMPLE_FILE], "the 7-day sample only (../shared not found): fewer origins"
    candles = cu.load_candles(files)
    print(f"data: {what}; {len(candles):,d} minutes; inference path: {model.net.path}")

    walk_forward(candles.iloc[:5000], forecasters, progress=False)  # warm-up (numba compiles)
    t0 = time.perf_counter()
    ev = walk_forward(candles, forecasters)
    s_all = time.perf_counter() - t0

    month = candles.iloc[-44_640:]
    plain = copy.copy(model)
    plain.net = NumpyLSTM(model.net.weights, jit=False)
    t0 = time.perf_counter()
    ev_plain = walk_forward(month, {plain.name: plain, **baselines}, progress=False)
    s_plain = time.perf_counter() - t0

    n_loop = 1000
    t0 = time.perf_counter()
    for e in range(60, 60 + n_loop):
        for f in forecasters.values():
            f.predict(candles.iloc[e - 60 : e])
    s_loop = time.perf_counter() - t0

    rows = [
        {
            "method": f"walk_forward ({model.net.path}), {what}",
            "origins": ev.n_origins,
            "seconds": s_all,
            "origins/s": ev.n_origins / s_all,
        },
        {
            "method": "walk_forward (pure NumPy float32), last month",
            "origins": ev_plain.n_origins,
            "seconds": s_plain,
            "origins/s": ev_plain.n_origins / s_plain,
        },
        {
            "method": "per-origin predict() loop (reference)",
            "origins": n_loop,
            "seconds": s_loop,
            "origins/s": n_loop / s_loop,
        },
    ]
    table(f"Walk-forward evaluation, {model.name} + 3 baselines, every minute", rows)
    RESULT.update(
        data=what,
        path=model.net.path,
        forecasters=list(forecasters),
        evaluate={k.replace("/", "_per_"): v for k, v in rows[0].items()},
        evaluate_numpy_month={k.replace("/", "_per_"): v for k, v in rows[1].items()},
        per_origin_loop={k.replace("/", "_per_"): v for k, v in rows[2].items()},
    )
    if len(archives) < 12:
        print("\n(backtest over 12 months skipped: the shared archives are not here)")
        return

    year = cu.load_candles(archives[:12])
    t0 = time.perf_counter()
    bt = backtest_all(year, {model.name: model, **baselines})
    s_year = time.perf_counter() - t0
    periods = bt.to_dict()["periods"]
    n_small = 500
    t0 = time.perf_counter()
    equity = 1.0
    for e in range(60, 60 + 10 * n_small, 10):  # the same rule, one origin at a time
        fc = model.predict(year.iloc[e - 60 : e])
        if fc.candles["close"].iloc[-1] / fc.last_close - 1 > 2 * 11 / 1e4:
            equity *= year["close"].iloc[e + 9] / year["close"].iloc[e - 1] * (1 - 22 / 1e4)
    s_small = time.perf_counter() - t0
    RESULT["backtest"] = {"periods": periods, "seconds": s_year, "periods_per_s": periods / s_year}
    table(
        "Backtest: 12 months of 2024, model + 3 baselines + buy-and-hold, 10-minute holds",
        [
            {
                "method": "backtest_all (vectorised)",
                "periods": periods,
                "seconds": s_year,
                "periods/s": periods / s_year,
            },
            {
                "method": "per-period loop, model only (reference)",
                "periods": n_small,
                "seconds": s_small,
                "periods/s": n_small / s_small,
            },
        ],
    )


if __name__ == "__main__":
    main()
