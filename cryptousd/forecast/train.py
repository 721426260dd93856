"""Training the LSTM with Keras: the only module that imports TensorFlow.

Two steps of the chain described in :mod:`cryptousd.forecast.prepare`:

- :func:`fit`: lazy windows (``keras.utils.timeseries_dataset_from_array``, so no (N, 60, F)
  array is ever built), the Keras model, Adam, early stopping with the best weights restored;
- :func:`export`: the NumPy forecaster from the Keras weights, checked against Keras itself.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import FEATURES, windows
from .lstm import LSTMForecaster
from .numpy_lstm import NumpyLSTM
from .prepare import Prepared, TrainConfig


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
            self.bar.write(
                f"epoch {epoch + 1:2d}/{epochs}: loss {logs.get('loss', np.nan):.5f}  "
                f"val_loss {logs.get('val_loss', np.nan):.5f}  "
                f"({time.perf_counter() - self.epoch_t0:.0f} s)"
            )

        def on_train_end(self, logs=None):
            self.bar.close()

    return Callback()


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


@dataclass
class Fitted:
    """A fitted Keras model and the record of how it was fitted (the card's ``training``)."""

    model: object  # keras.Model
    record: dict


def datasets(prep: Prepared, config: TrainConfig):
    """Training (shuffled once, with the seed) and validation datasets of lazy windows."""
    keras = import_keras()
    cfg, sp = config, prep.split

    def dataset(part: str, stride: int, shuffle: bool):
        o = sp.origins(part, 1, cfg.window, cfg.horizon)
        return keras.utils.timeseries_dataset_from_array(
            prep.x,
            prep.targets,
            sequence_length=cfg.window,
            sequence_stride=stride,
            shuffle=shuffle,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            start_index=int(o[0] - cfg.window + 1),
            end_index=int(o[-1] + 1),
        )

    return dataset("train", cfg.stride, True), dataset("val", max(cfg.stride, 5), False)


def fit(prep: Prepared, config: TrainConfig, *, verbose: bool = True) -> Fitted:
    """Build and fit the Keras model on the prepared training windows."""
    import psutil

    keras = import_keras()
    cfg = config.validated()
    keras.utils.set_random_seed(cfg.seed)
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    train_ds, val_ds = datasets(prep, cfg)
    steps = int(train_ds.cardinality())
    model = build_keras_model(len(FEATURES), cfg.window, cfg.horizon, cfg.variant, cfg.dropout)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="mse")
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.patience, restore_best_weights=True
        )
    ]
    if verbose:
        callbacks.append(progress_callback(steps, cfg.epochs))
    initial_val_loss = float(model.evaluate(val_ds, verbose=0))
    t0 = time.perf_counter()
    # the dataset is shuffled once when built; fit's own shuffle does not apply to datasets
    hist = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=cfg.epochs,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
    )
    seconds = time.perf_counter() - t0
    epochs_run = len(hist.history["loss"])
    record = {
        "epochs_requested": cfg.epochs,
        "epochs_run": epochs_run,
        "stride": cfg.stride,
        "batch_size": cfg.batch_size,
        "windows_per_epoch": steps * cfg.batch_size,
        "seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / max(epochs_run, 1), 1),
        "peak_rss_mb": round(max(proc.memory_info().rss, rss0) / 2**20),
        "seed": cfg.seed,
        "initial_val_loss": round(initial_val_loss, 5),
        "loss": [round(float(v), 5) for v in hist.history["loss"]],
        "val_loss": [round(float(v), 5) for v in hist.history["val_loss"]],
        "best_val_loss": round(float(min(hist.history["val_loss"])), 5),
    }
    return Fitted(model, record)


def export(
    fitted: Fitted, prep: Prepared, config: TrainConfig, name: str
) -> tuple[LSTMForecaster, float]:
    """The NumPy forecaster from the Keras weights, and its largest relative difference from
    Keras on up to 256 validation windows (the forward passes must agree to ~1e-6)."""
    weights = keras_weights(fitted.model)
    fc = LSTMForecaster(
        NumpyLSTM(weights),
        prep.scaler,
        prep.y_scale,
        config.variant,
        name,
        config.window,
        config.horizon,
    )
    val = prep.split.origins("val", 1, config.window, config.horizon)
    probe = val[:: max(1, len(val) // 256)][:256]
    xw = windows(prep.x, probe, config.window)
    ref = fitted.model.predict(np.ascontiguousarray(xw), verbose=0)
    agreement = float(np.max(np.abs(ref - fc.net(xw))) / max(np.max(np.abs(ref)), 1e-12))
    return fc, agreement
