"""Forecast latency and throughput: the project's forecaster beside Keras ``model.predict`` and a
compiled ``tf.function`` on the same model and windows, in the same run; the pure-NumPy float32
path and the float64 reference beside the compiled one when numba is installed; training figures
from the model card.

    .venv/bin/python benchmarks/bench_forecast.py [MODEL ...]     (or: cryptousd bench forecast)
    cryptousd bench forecast --json PATH                            (RESULT below, as JSON)

``RESULT`` (what ``--json`` writes) holds, for the default model (or the first named),
``single.<method>.p50_ms`` / ``p99_ms`` and ``batch.<method>.windows_per_s``, with ``path``
naming the implementation that ran as ``numpy`` (``numba`` or ``numpy``); every model under
``models``.
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
from cryptousd.config import DEFAULT_MODEL, MODELS_DIR
from cryptousd.data.locate import SAMPLE_FILE, full_history_files
from cryptousd.forecast import available_models
from cryptousd.forecast.features import candle_features, windows
from cryptousd.forecast.numpy_lstm import NumpyLSTM, reference_forward

RESULT: dict = {}  # filled by main(); `cryptousd bench forecast --json PATH` writes it


def _times(fn, args_list) -> list[float]:
    out = []
    for a in args_list:
        t0 = time.perf_counter()
        fn(a)
        out.append(time.perf_counter() - t0)
    return out


def _single(samples) -> dict:
    p50, p99 = percentiles(samples)
    return {"p50_ms": p50, "p99_ms": p99, "n": len(samples)}


def bench_model(name: str, candles, n_single: int = 300) -> dict:
    import copy

    from cryptousd.forecast.train import import_keras

    keras = import_keras()
    import tensorflow as tf

    model = cu.load_forecaster(name)
    plain = copy.copy(model)  # the same forecaster on the pure-NumPy float32 path
    plain.net = NumpyLSTM(model.net.weights, jit=False)
    kmodel = keras.saving.load_model(MODELS_DIR / name / "model.keras")
    ends = np.linspace(200, len(candles) - 1, n_single).astype(int)
    frames = [candles.iloc[e - 60 : e] for e in ends]
    steps = model.horizon if model.variant == "recursive" else 1  # recursive: H forward passes

    feats = candle_features(candles)
    x1 = model.scaler.transform(windows(feats, np.array([1000])))
    for f in frames[:20]:  # warm up (compiles the numba path once)
        model.predict(f)
        plain.predict(f)
    single = {
        "numpy": _single(_times(model.predict, frames)),
        "numpy_forward": _single(_times(lambda _: [model.net(x1) for _ in range(steps)], frames)),
    }
    if model.net.path != "numpy":
        single["numpy_nojit"] = _single(_times(plain.predict, frames))

    fn = tf.function(lambda x: kmodel(x, training=False), reduce_retracing=True)
    fn(x1)
    kmodel.predict(x1, verbose=0)
    single["keras_predict"] = _single(
        _times(lambda _: [kmodel.predict(x1, verbose=0) for _ in range(steps)], range(40))
    )
    single["tf_function"] = _single(_times(lambda _: [fn(x1) for _ in range(steps)], range(200)))

    origins = np.arange(59, min(len(candles) - 11, 43_000))
    logc, times = np.log(candles["close"].to_numpy()), candles.index.as_unit("ns").asi8
    batch = {}
    for label, f, n in (("numpy", model, len(origins)), ("numpy_nojit", plain, 8192)):
        if label == "numpy_nojit" and model.net.path == "numpy":
            continue
        t0 = time.perf_counter()
        f.predict_origins(feats, logc, times, origins[:n])
        batch[label] = {"windows_per_s": n / (time.perf_counter() - t0), "windows": n}
    xb = model.scaler.transform(windows(feats, origins[:8192]))
    t0 = time.perf_counter()
    for _ in range(steps):
        kmodel.predict(xb, batch_size=1024, verbose=0)
    batch["keras_predict"] = {"windows_per_s": 8192 / (time.perf_counter() - t0), "windows": 8192}
    t0 = time.perf_counter()
    for _ in range(steps):
        reference_forward(model.net.weights, xb[:1024])
    batch["reference_float64"] = {
        "windows_per_s": 1024 / (time.perf_counter() - t0),
        "windows": 1024,
    }
    card = model.card["training"]
    ours_ms = single["numpy"]["p50_ms"]
    return {
        "model": name,
        "variant": model.variant,
        "path": model.net.path,
        "single": single,
        "batch": batch,
        "speedup": {
            "single_vs_keras_predict": single["keras_predict"]["p50_ms"] / ours_ms,
            "single_vs_tf_function": single["tf_function"]["p50_ms"] / ours_ms,
            "batch_vs_keras_predict": batch["numpy"]["windows_per_s"]
            / batch["keras_predict"]["windows_per_s"],
        },
        "training": {
            "seconds_per_epoch": card["seconds_per_epoch"],
            "windows_per_epoch": card["windows_per_epoch"],
            "peak_rss_mb": card["peak_rss_mb"],
            "stride": card["stride"],
        },
    }


LABELS = {
    "numpy": "cryptousd Forecaster.predict ({path}, whole forecast)",
    "numpy_forward": "cryptousd forward pass only ({path})",
    "numpy_nojit": "cryptousd Forecaster.predict (pure NumPy float32, whole forecast)",
    "keras_predict": "Keras model.predict x{steps} (forward pass only)",
    "tf_function": "tf.function call x{steps} (forward pass only)",
}
BATCH_LABELS = {
    "numpy": "cryptousd predict_origins ({path})",
    "numpy_nojit": "cryptousd predict_origins (pure NumPy float32)",
    "keras_predict": "Keras model.predict, batch 1024",
    "reference_float64": "float64 reference forward pass (NumPy)",
}


def main() -> None:
    names = (
        sys.argv[1:] or [n for n in available_models() if n.startswith("lstm-")] or [DEFAULT_MODEL]
    )
    archives = full_history_files()
    data = archives[13] if len(archives) > 13 else SAMPLE_FILE
    candles = cu.load_candles(data)
    results = {name: bench_model(name, candles) for name in names}
    rows, batches = [], []
    for name, r in results.items():
        steps = 10 if r["variant"] == "recursive" else 1
        for method, s in r["single"].items():
            rows.append(
                {
                    "model": name,
                    "method": LABELS[method].format(path=r["path"], steps=steps),
                    "p50 ms": s["p50_ms"],
                    "p99 ms": s["p99_ms"],
                }
            )
        for method, b in r["batch"].items():
            batches.append(
                {
                    "model": name,
                    "method": BATCH_LABELS[method].format(path=r["path"]),
                    "windows": b["windows"],
                    "windows/s": b["windows_per_s"],
                }
            )
    print(f"data: {Path(data).name}; numba path: {results[names[0]]['path'] == 'numba'}")
    table("One 10-minute forecast from 60 candles (single window; same run, same model)", rows)
    table("Batch inference (evaluation): windows per second, same run", batches)
    table(
        "Speed-ups in this run (p50 latency, batch throughput)",
        [{"model": n, **r["speedup"]} for n, r in results.items()],
    )
    head = results[DEFAULT_MODEL] if DEFAULT_MODEL in results else results[names[0]]
    RESULT.clear()
    RESULT.update(head)
    RESULT.update(data=Path(data).name, models=results, cpu_count=os.cpu_count())


if __name__ == "__main__":
    main()
