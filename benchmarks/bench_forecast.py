"""Forecast latency and throughput: the NumPy forecaster beside Keras ``model.predict`` and a
compiled ``tf.function`` on the same model and windows, in the same run; training figures from
the model card.

    .venv/bin/python benchmarks/bench_forecast.py [MODEL ...]     (or: cryptousd bench forecast)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
from _util import percentiles, table

import cryptousd as cu
from cryptousd.config import DEFAULT_MODEL, MODELS_DIR, shared_archives
from cryptousd.features import candle_features, windows
from cryptousd.forecast import available_models


def bench_model(name: str, candles, n_single: int = 300) -> tuple[list[dict], dict]:
    import keras
    import tensorflow as tf

    model = cu.load_forecaster(name)
    kmodel = keras.saving.load_model(MODELS_DIR / name / "model.keras")
    ends = np.linspace(200, len(candles) - 1, n_single).astype(int)
    for e in ends[:20]:
        model.predict(candles.iloc[e - 60 : e])
    ours = []
    for e in ends:
        t0 = time.perf_counter()
        model.predict(candles.iloc[e - 60 : e])
        ours.append(time.perf_counter() - t0)

    feats = candle_features(candles)
    x1 = model.scaler.transform(windows(feats, np.array([1000])))
    steps = (
        model.horizon if model.variant == "recursive" else 1
    )  # a recursive forecast is `horizon` forward passes
    fn = tf.function(lambda x: kmodel(x, training=False), reduce_retracing=True)
    fn(x1)
    kmodel.predict(x1, verbose=0)
    keras_s, tf_s = [], []
    for _ in range(40):
        t0 = time.perf_counter()
        for _ in range(steps):
            kmodel.predict(x1, verbose=0)
        keras_s.append(time.perf_counter() - t0)
    for _ in range(200):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn(x1)
        tf_s.append(time.perf_counter() - t0)

    origins = np.arange(59, min(len(candles) - 11, 43_000))
    logc, times = np.log(candles["close"].to_numpy()), candles.index.as_unit("ns").asi8
    t0 = time.perf_counter()
    model.predict_origins(feats, logc, times, origins)
    batch_s = time.perf_counter() - t0
    xb = model.scaler.transform(windows(feats, origins[:8192]))
    t0 = time.perf_counter()
    kmodel.predict(xb, batch_size=1024, verbose=0)
    keras_batch = 8192 / (time.perf_counter() - t0) / steps

    rows = []
    for label, samples in (
        ("cryptousd Forecaster.predict (NumPy, whole forecast)", ours),
        (f"Keras model.predict x{steps} (forward pass only)", keras_s),
        (f"tf.function call x{steps} (forward pass only)", tf_s),
    ):
        p50, p99 = percentiles(samples)
        rows.append(
            {"model": name, "variant": model.variant, "method": label, "p50 ms": p50, "p99 ms": p99}
        )
    card = model.card["training"]
    batch = {
        "model": name,
        "NumPy windows/s": len(origins) / batch_s,
        "Keras predict windows/s": keras_batch,
        "train s/epoch": card["seconds_per_epoch"],
        "train windows/epoch": card["windows_per_epoch"],
        "train peak RSS MB": card["peak_rss_mb"],
        "stride": card["stride"],
    }
    return rows, batch


def main() -> None:
    names = (
        sys.argv[1:] or [n for n in available_models() if n.startswith("lstm-")] or [DEFAULT_MODEL]
    )
    candles = cu.load_candles(shared_archives()[13])
    rows, batches = [], []
    for name in names:
        r, b = bench_model(name, candles)
        rows += r
        batches.append(b)
    table("One 10-minute forecast from 60 candles (single window; same run, same model)", rows)
    table(
        "Batch inference for evaluation (one month of origins) and training (from the model card)",
        batches,
    )


if __name__ == "__main__":
    main()
