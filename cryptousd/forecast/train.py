"""Training the LSTM with Keras (the only module that imports TensorFlow).

Data flow: candles -> per-row features -> scaler fitted on training rows -> lazy windows
(``keras.utils.timeseries_dataset_from_array``, so no (N, 60, F) array is ever built) -> Keras
model with early stopping -> NumPy weights -> interval calibration on validation -> test metrics
beside persistence -> a model folder with its card.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..times import index_ns
from ..config import HORIZON, WINDOW
from ..features import FEATURES, Scaler, candle_features, future_returns, time_split, windows
from ..files import write_json
from .base import Forecaster
from .baselines import BASELINES
from .lstm import VARIANTS, LSTMForecaster
from .numpy_lstm import NumpyLSTM
from .model_folder import save_baselines, write_model_folder

def import_keras():
    """Import Keras (TensorFlow backend) with TensorFlow's C++ start-up chatter silenced.

    absl prints its 'before InitializeLog' and oneDNN notices straight to file descriptor 2 while
    TensorFlow loads, whatever the log level; they would litter every notebook that trains.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        import keras

        return keras
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


DEFAULT_SPLIT = {
    "train": ("2024-01-01", "2025-01-01"),
    "val": ("2025-01-01", "2025-02-01"),
    "test": ("2025-02-01", "2025-04-01"),
}


@dataclass
class TrainConfig:
    variant: str = "direct"
    epochs: int = 10
    stride: int = 10  # minutes between training windows (1 = every window)
    batch_size: int = 256
    learning_rate: float = 1e-3
    dropout: float = 0.2
    patience: int = 2
    seed: int = 42
    calib_stride: int = 1
    eval_stride: int = 1
    window: int = WINDOW
    horizon: int = HORIZON


def build_keras_model(n_features: int, window: int, horizon: int, variant: str, dropout: float):
    """LSTM(64, return_sequences) -> Dropout -> LSTM(32) -> Dense(16, relu) -> Dense(out)."""
    n_out = horizon if variant == "direct" else 1
    keras = import_keras()
    inputs = keras.Input((window, n_features), name="window")
    x = keras.layers.LSTM(64, return_sequences=True, name="lstm_1")(inputs)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.LSTM(32, name="lstm_2")(x)
    x = keras.layers.Dense(16, activation="relu", name="dense_1")(x)
    out = keras.layers.Dense(n_out, name="dense_2")(x)
    return keras.Model(inputs, out, name=f"lstm_{variant}")


def keras_weights(model) -> dict[str, np.ndarray]:
    """The Keras weights in the flat form :class:`NumpyLSTM` reads."""
    out = {}
    for layer in ("lstm_1", "lstm_2"):
        k, r, b = model.get_layer(layer).get_weights()
        out.update({f"{layer}/kernel": k, f"{layer}/recurrent_kernel": r, f"{layer}/bias": b})
    for layer in ("dense_1", "dense_2"):
        k, b = model.get_layer(layer).get_weights()
        out.update({f"{layer}/kernel": k, f"{layer}/bias": b})
    return {k: v.astype("float32") for k, v in out.items()}


def progress_callback(steps: int, epochs: int):
    """A Keras callback: one tqdm bar for the whole run, and one printed line per epoch (which
    stays readable in a stored notebook, where a widget bar's text is frozen at its start)."""
    import keras
    from tqdm.auto import tqdm

    class Callback(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=steps * epochs, desc="training", unit="batch")

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_t0 = time.perf_counter()
            self.bar.set_description(f"epoch {epoch + 1}/{epochs}")

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if batch % 20 == 0 and logs:
                self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.write(f"epoch {epoch + 1:2d}/{epochs}: loss {logs.get('loss', np.nan):.5f}  "
                           f"val_loss {logs.get('val_loss', np.nan):.5f}  ({time.perf_counter() - self.epoch_t0:.0f} s)")

        def on_train_end(self, logs=None):
            self.bar.close()

    return Callback()


def _library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "tensorflow": tf.__version__, "keras": keras.__version__}


def train(
    candles: pd.DataFrame,
    out: str | os.PathLike,
    *,
    config: TrainConfig | None = None,
    split: dict | None = None,
    name: str | None = None,
    data_description: list[str] | None = None,
    command: str | None = None,
    verbose: bool = True,
) -> dict:
    """Train one variant on ``candles`` and write a model folder to ``out``; returns the card."""
    import psutil

    keras = import_keras()
    cfg = config or TrainConfig()
    if cfg.variant not in VARIANTS:
        raise ValueError(f"variant {cfg.variant!r}: choose one of {', '.join(VARIANTS)}")
    split_ranges = split or DEFAULT_SPLIT
    sp = time_split(candles.index, split_ranges["train"], split_ranges["val"], split_ranges.get("test"))
    name = name or Path(out).name
    keras.utils.set_random_seed(cfg.seed)
    proc = psutil.Process()
    rss0 = proc.memory_info().rss

    feats = candle_features(candles)
    close = candles["close"].to_numpy("float64")
    logc = np.log(close)
    times = index_ns(candles.index)
    y = future_returns(close, cfg.horizon)
    scaler = Scaler.fit(feats[sp.train[0] : sp.train[1]])
    y_train = y[sp.origins("train", 1, cfg.window, cfg.horizon)]
    y_scale = float(np.nanstd(y_train[:, 0]))
    xs = scaler.transform(feats)
    ys = np.nan_to_num(y / y_scale).astype("float32")
    if cfg.variant == "recursive":
        ys = ys[:, :1]
    # Keras pairs data[i : i + window] with targets[i]; the window ending at t starts at t - window + 1
    targets = np.concatenate([ys[cfg.window - 1 :], np.zeros((cfg.window - 1, ys.shape[1]), "float32")])

    def dataset(part: str, stride: int, shuffle: bool):
        o = sp.origins(part, 1, cfg.window, cfg.horizon)
        return keras.utils.timeseries_dataset_from_array(
            xs, targets, sequence_length=cfg.window, sequence_stride=stride, shuffle=shuffle, seed=cfg.seed,
            batch_size=cfg.batch_size, start_index=int(o[0] - cfg.window + 1), end_index=int(o[-1] + 1),
        )

    train_ds = dataset("train", cfg.stride, True)
    val_ds = dataset("val", max(cfg.stride, 5), False)
    steps = int(train_ds.cardinality())
    model = build_keras_model(len(FEATURES), cfg.window, cfg.horizon, cfg.variant, cfg.dropout)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="mse")
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)]
    if verbose:
        callbacks.append(progress_callback(steps, cfg.epochs))
    initial_val_loss = float(model.evaluate(val_ds, verbose=0))
    t0 = time.perf_counter()
    # the dataset is shuffled once when built; fit's own shuffle does not apply to datasets
    hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    train_s = time.perf_counter() - t0
    epochs_run = len(hist.history["loss"])
    peak_rss = max(proc.memory_info().rss, rss0)

    weights = keras_weights(model)
    fc = LSTMForecaster(NumpyLSTM(weights), scaler, y_scale, cfg.variant, name, cfg.window, cfg.horizon)
    # NumPy forward pass against Keras on the same validation windows
    probe = sp.origins("val", max(1, len(sp.origins("val")) // 256), cfg.window, cfg.horizon)[:256]
    xw = windows(xs, probe, cfg.window)
    ref = model.predict(np.ascontiguousarray(xw), verbose=0)
    mine = fc.net(xw)
    agreement = float(np.max(np.abs(ref - mine)) / max(np.max(np.abs(ref)), 1e-12))

    # baselines fitted on the same training rows; everyone calibrated on validation
    baselines: dict[str, Forecaster] = {k: cls() for k, cls in BASELINES.items()}
    baselines["ar"].fit(feats, logc, sp)
    val_origins = sp.origins("val", cfg.calib_stride, cfg.window, cfg.horizon)
    for f in [fc, *baselines.values()]:
        f.calibrate(feats, logc, times, val_origins)

    from ..evaluate import walk_forward

    val_eval = walk_forward(candles.iloc[: sp.val[1]], {name: fc, **baselines}, start=candles.index[sp.val[0]], stride=cfg.calib_stride)
    test_eval = None
    if sp.test is not None:
        test_eval = walk_forward(
            candles.iloc[: sp.test[1]], {name: fc, **baselines}, start=candles.index[sp.test[0]], stride=cfg.eval_stride
        )

    def metrics(ev):
        if ev is None:
            return None
        d = ev.to_dict()
        keep = ["mae", "mae_bps", "mae_ratio_vs_persistence", "direction_accuracy", "direction_ci_low",
                "direction_ci_high", "coverage", "interval_width", "dm_pvalue", "brier", "brier_base"]
        return {"n_origins": d["n_origins"], "start": d["start"], "end": d["end"],
                "by_forecaster": {f: {h: {k: v[k] for k in keep} for h, v in hs.items()} for f, hs in d["results"].items()}}

    def rng(part):
        a, b = getattr(sp, part)
        return {"start": str(candles.index[a]), "end": str(candles.index[b - 1]), "rows": b - a}

    card = {
        "name": name,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "variant": cfg.variant,
        "architecture": "LSTM(64, return_sequences) -> Dropout({}) -> LSTM(32) -> Dense(16, relu) -> Dense({})".format(
            cfg.dropout, cfg.horizon if cfg.variant == "direct" else 1),
        "window": cfg.window,
        "horizon": cfg.horizon,
        "features": FEATURES,
        "target": "one-minute close-to-close log returns / y_scale",
        "y_scale": y_scale,
        "interval": {"method": "normalised split conformal on validation residuals", "default_coverage": 0.8,
                     "calibration_origins": fc.calibration.n},
        "data": data_description or [],
        "train_range": rng("train"),
        "validation_range": rng("val"),
        "test_range": rng("test") if sp.test is not None else None,
        "training": {"epochs_requested": cfg.epochs, "epochs_run": epochs_run, "stride": cfg.stride,
                     "batch_size": cfg.batch_size, "windows_per_epoch": steps * cfg.batch_size,
                     "seconds": round(train_s, 1), "seconds_per_epoch": round(train_s / max(epochs_run, 1), 1),
                     "peak_rss_mb": round(peak_rss / 2**20), "seed": cfg.seed,
                     "initial_val_loss": round(initial_val_loss, 5),
                     "loss": [round(float(v), 5) for v in hist.history["loss"]],
                     "val_loss": [round(float(v), 5) for v in hist.history["val_loss"]],
                     "best_val_loss": round(float(min(hist.history["val_loss"])), 5)},
        "numpy_keras_max_rel_diff": agreement,
        "validation_metrics": metrics(val_eval),
        "test_metrics": metrics(test_eval),
        "libraries": _library_versions(),
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }

    write_model_folder(Path(out), {
        "model.keras": lambda p: model.save(p),
        "weights.npz": lambda p: np.savez(p, **weights),
        "scaler.json": lambda p: write_json(p, scaler.to_dict()),
        "calibration.npz": lambda p: fc.calibration.save(p),
        "baselines.npz": lambda p: save_baselines(p, baselines),
        "card.json": lambda p: write_json(p, card),
    })
    return card
