"""Walk-forward evaluation throughput and the 12-month backtest, beside a plain per-origin loop
(one ``Forecaster.predict`` call per origin) on a small slice, in the same run.

    .venv/bin/python benchmarks/bench_evaluate.py        (or: cryptousd bench evaluate)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import table

import cryptousd as cu
from cryptousd.backtest import backtest_all
from cryptousd.config import shared_archives
from cryptousd.evaluate import walk_forward


def main() -> None:
    archives = shared_archives()
    model = cu.load_forecaster()
    baselines = cu.load_baselines()
    month = cu.load_candles(archives[13])  # 2025-02: 40,320 minutes

    t0 = time.perf_counter()
    ev = walk_forward(month, {model.name: model, **baselines})
    s_month = time.perf_counter() - t0

    n_loop = 1000
    t0 = time.perf_counter()
    for e in range(60, 60 + n_loop):
        for f in (model, *baselines.values()):
            f.predict(month.iloc[e - 60 : e])
    s_loop = time.perf_counter() - t0

    table(
        f"Walk-forward evaluation, {model.name} + 3 baselines, every minute of 2025-02",
        [
            {
                "method": "walk_forward (batched NumPy)",
                "origins": ev.n_origins,
                "seconds": s_month,
                "origins/s": ev.n_origins / s_month,
            },
            {
                "method": "per-origin predict() loop (reference)",
                "origins": n_loop,
                "seconds": s_loop,
                "origins/s": n_loop / s_loop,
            },
        ],
    )

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
