"""Walk-forward evaluation over six months of one-minute origins (the model + 3 baselines),
beside a plain per-origin loop (one ``Forecaster.predict`` call per origin) on a small slice and
the pure-NumPy inference path on one month, in the same run; then the 12-month backtest.

Roofline: in the same run (just before and just after the evaluation) it measures OpenBLAS sgemm
on a (16384 x 64) @ (64 x 256) float32 product with the threads the LSTM uses (one Python
thread per core, BLAS held to one thread each, all multiplying at once), and reports the least
time the six months' LSTM multiply-adds need at that measured peak beside the measured LSTM
inference time (the model's ``predict_origins`` inside the evaluation, timed in place) and the
whole evaluation's, with the fraction of peak each achieves. ``RESULT["roofline"]`` carries it.

    .venv/bin/python benchmarks/bench_evaluate.py    (or: cryptousd bench evaluate --json PATH)

Where the six months' time goes (cProfile and per-part timings, 2 cores, 2026-11; other workers
share the machine, so seconds move by 10-50 % between runs):

- LSTM inference, ~70 % (6.3-6.9 s of ~9.6 s; before this layout ~9.1 s of ~12 s). Per chunk of
  windows on one thread: BLAS products ~80 % (at OpenBLAS's sgemm peak for their shapes: layer 1
  ``h1 @ [U1 | W2]`` (B x 64) @ (64 x 384) 6/7 of the multiply-adds, layer 2 ``h2 @ U2`` (B x 32) @
  (32 x 128) the rest), compiled gates ~20 % (of which ``tanh``, 480 per window-step, ~70 %).
  Before: products 64 %, gates 20 %, Python calls and allocations per step ~14 %, window copies
  and layer 1's per-window input product the rest;
- metrics ~2.5 s: direction intervals ~0.85 s (the block bootstrap's sparse product 0.42 s, its
  draws 0.1 s), ``walk_forward``'s own array work ~0.75 s, P(up) 0.2 s, intervals 0.14 s,
  binned coverage 0.1 s, Diebold-Mariano 0.1 s, window sigma 0.09 s;
- the three baselines ~0.24 s (most of it gathering float64 windows).

Six months are 2024-10..2025-03 of the shared Binance archives; on a clone without them it
evaluates the 7-day sample shipped in the package (fewer origins) and says so.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _util import table

import cryptousd as cu
from cryptousd.data.locate import SAMPLE_FILE, full_history_files
from cryptousd.evaluation.backtest import backtest_all
from cryptousd.evaluation.evaluate import walk_forward
from cryptousd.forecast.numpy_lstm import NumpyLSTM

RESULT: dict = {}  # filled by main(); `cryptousd bench evaluate --json PATH` writes it
GEMM_SHAPE = (16384, 64, 256)  # (M, K, N) of the roofline's sgemm


def lstm_fmas_per_window(weights: dict, window: int) -> int:
    """Multiply-adds of one window through the network as defined: per step each LSTM layer's
    input and recurrent products (4 gates), then the dense head once."""
    n = 0
    for layer in ("lstm_1", "lstm_2"):
        n_in, g = weights[f"{layer}/kernel"].shape
        u = weights[f"{layer}/recurrent_kernel"].shape[0]
        n += window * (n_in * g + u * g)
    for layer in ("dense_1", "dense_2"):
        n += int(np.prod(weights[f"{layer}/kernel"].shape))
    return n


def sgemm_peak(threads: int, calls: int = 40, repeat: int = 3) -> float:
    """Best-of-``repeat`` multiply-adds per second of float32 (M x K) @ (K x N) products (M, K, N
    = ``GEMM_SHAPE``) on ``threads`` threads at once, each with its own operands and BLAS held to
    one thread (the layout of the LSTM's batches); ``threads=0`` is one call at a time with
    OpenBLAS's own threads instead."""
    from threadpoolctl import threadpool_limits

    m, k, n = GEMM_SHAPE
    rng = np.random.default_rng(0)
    ops = [
        (
            rng.standard_normal((m, k), dtype=np.float32),
            rng.standard_normal((k, n), dtype=np.float32),
            np.empty((m, n), np.float32),
        )
        for _ in range(max(threads, 1))
    ]

    def work(a, b, c):
        for _ in range(calls):
            np.matmul(a, b, out=c)

    best = np.inf
    for _ in range(repeat):
        if threads == 0:
            t0 = time.perf_counter()
            work(*ops[0])
        else:
            with threadpool_limits(1, user_api="blas"):
                pool = [threading.Thread(target=work, args=o) for o in ops]
                t0 = time.perf_counter()
                for t in pool:
                    t.start()
                for t in pool:
                    t.join()
        best = min(best, time.perf_counter() - t0)
    return m * k * n * calls * max(threads, 1) / best


def timed_predict_origins(forecaster, seconds: list):
    """Wrap ``forecaster.predict_origins`` (on the instance) to add its wall time to ``seconds``."""
    inner = forecaster.predict_origins

    def predict_origins(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - t0)

    forecaster.predict_origins = predict_origins


def main() -> None:
    archives = full_history_files()
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
    threads = os.cpu_count() or 1  # the LSTM's batches: one thread per core, BLAS on one each
    peak_before = sgemm_peak(threads)
    lstm_s: list[float] = []
    timed_predict_origins(model, lstm_s)
    t0 = time.perf_counter()
    ev = walk_forward(candles, forecasters)
    s_all = time.perf_counter() - t0
    del model.predict_origins  # back to the class's method
    peak_after = sgemm_peak(threads)
    peak_one = sgemm_peak(1)
    peak_blas = sgemm_peak(0)

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

    peak = max(peak_before, peak_after)
    fmas = lstm_fmas_per_window(model.net.weights, model.window) * ev.n_origins
    s_min, s_lstm = fmas / peak, sum(lstm_s)
    m, k, n = GEMM_SHAPE
    roofline = {
        "gemm": f"({m} x {k}) @ ({k} x {n}) float32",
        "threads": threads,
        "gfma_per_s_peak": peak / 1e9,
        "gfma_per_s_before": peak_before / 1e9,
        "gfma_per_s_after": peak_after / 1e9,
        "gfma_per_s_one_thread": peak_one / 1e9,
        "gfma_per_s_blas_threads": peak_blas / 1e9,
        "lstm_fmas": fmas,
        "lstm_fmas_per_window": fmas // ev.n_origins,
        "lstm_min_seconds": s_min,
        "lstm_seconds": s_lstm,
        "lstm_fraction_of_peak": s_min / s_lstm,
        "evaluate_seconds": s_all,
        "evaluate_fraction_of_peak": s_min / s_all,
    }
    print(
        f"\nRoofline: sgemm {roofline['gemm']}, {threads} threads x 1 BLAS thread: "
        f"{peak / 1e9:.1f} GFMA/s (before {peak_before / 1e9:.1f}, after {peak_after / 1e9:.1f}; "
        f"1 thread {peak_one / 1e9:.1f}; one call on OpenBLAS's threads {peak_blas / 1e9:.1f})"
    )
    if min(peak_before, peak_after) < 0.8 * peak:
        print(
            "  (the sgemm peak moved by more than 20 % during this run: other work shared the "
            "cores, and the fractions below are against the higher peak)"
        )
    table(
        f"LSTM multiply-adds: {fmas:.3g} ({fmas // ev.n_origins:,d} per window x "
        f"{ev.n_origins:,d} windows) at that peak",
        [
            {"what": "least time at the measured sgemm peak", "seconds": s_min, "of peak": 1.0},
            {
                "what": f"LSTM inference ({model.net.path}), measured",
                "seconds": s_lstm,
                "of peak": s_min / s_lstm,
            },
            {
                "what": "whole evaluation (4 forecasters + metrics), measured",
                "seconds": s_all,
                "of peak": s_min / s_all,
            },
        ],
    )
    RESULT.update(
        data=what,
        path=model.net.path,
        forecasters=list(forecasters),
        evaluate={k.replace("/", "_per_"): v for k, v in rows[0].items()},
        evaluate_numpy_month={k.replace("/", "_per_"): v for k, v in rows[1].items()},
        per_origin_loop={k.replace("/", "_per_"): v for k, v in rows[2].items()},
        roofline=roofline,
    )
    if len(archives) < 12:
        print("\n(backtest over 12 months skipped: the 15 months are not here; `cryptousd fetch`)")
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
