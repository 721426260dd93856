"""Training the direction classifiers with Keras (imported through
:func:`cryptousd.forecast.train.import_keras`), and writing their model folder.

Split by time (training rows fit the scaler, the networks and the logistic regression; validation
early-stops the networks and picks the default kind; the test range is scored once), then the
NumPy forward passes are checked against Keras and the folder is written atomically:
``card.json, scaler.json, mlp.npz, lstm.npz, logistic.npz``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..evaluation.direction import evaluate_classifiers, verdict
from ..files import write_json
from ..forecast.direction import (
    DIRECTION_FEATURES,
    HORIZONS,
    LAGS,
    WINDOW,
    DenseNet,
    DirectionScaler,
    LogisticRegression,
    direction_features,
    direction_targets,
    labels,
    lstm_inputs,
    mlp_inputs,
    sigmoid,
)
from ..forecast.features import time_split
from ..forecast.model_folder import write_model_folder
from ..forecast.numpy_lstm import NumpyLSTM
from ..forecast.prepare import DEFAULT_SPLIT
from ..forecast.train import import_keras, library_versions

WARMUP = 40  # rows before the first origin: the indicators' warm-up (MACD signal: 33)
CLAIM = (0.55, 0.65)  # the seed terminal's claimed accuracy


def masked_bce(y_true, y_pred):
    """Binary cross-entropy over the heads whose label is 0 or 1 (-1: flat, skipped)."""
    import keras

    ops = keras.ops
    mask = ops.cast(y_true >= 0, "float32")
    t = ops.maximum(y_true, 0.0)
    p = ops.clip(y_pred, 1e-7, 1 - 1e-7)
    loss = -(t * ops.log(p) + (1 - t) * ops.log(1 - p))
    return ops.sum(loss * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def build_mlp(n_in: int, n_out: int):
    keras = import_keras()
    x = inputs = keras.Input((n_in,), name="features")
    for i, units in enumerate((32, 16, 8), start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    out = keras.layers.Dense(n_out, activation="sigmoid", name="dense_4")(x)
    return keras.Model(inputs, out, name="direction_mlp")


def build_lstm(n_features: int, n_out: int, dropout: float = 0.2):
    keras = import_keras()
    inputs = keras.Input((WINDOW, n_features), name="window")
    x = keras.layers.LSTM(32, return_sequences=True, name="lstm_1")(inputs)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.LSTM(16, name="lstm_2")(x)
    x = keras.layers.Dense(8, activation="relu", name="dense_1")(x)
    x = keras.layers.Dense(n_out, name="dense_2")(x)
    out = keras.layers.Activation("sigmoid", name="sigmoid")(x)
    return keras.Model(inputs, out, name="direction_lstm")


def layer_weights(model, names) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        w = model.get_layer(name).get_weights()
        keys = ("kernel", "recurrent_kernel", "bias") if len(w) == 3 else ("kernel", "bias")
        out.update({f"{name}/{k}": v.astype("float32") for k, v in zip(keys, w, strict=True)})
    return out


def _fit(model, x, y, xv, yv, *, epochs, batch_size, patience, seed, verbose) -> dict:
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_bce)
    t0 = time.perf_counter()
    hist = model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=2 if verbose else 0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        ],
    )
    return {
        "windows": len(x),
        "epochs_requested": epochs,
        "epochs_run": len(hist.history["loss"]),
        "batch_size": batch_size,
        "seconds": round(time.perf_counter() - t0, 1),
        "loss": [round(float(v), 5) for v in hist.history["loss"]],
        "val_loss": [round(float(v), 5) for v in hist.history["val_loss"]],
    }


def train_direction(
    candles: pd.DataFrame,
    out,
    *,
    split: dict | None = None,
    epochs: int = 4,
    lstm_stride: int = 5,
    mlp_stride: int = 1,
    batch_size: int = 512,
    patience: int = 1,
    seed: int = 42,
    eval_stride: int = 1,
    name: str | None = None,
    data_description: list[str] | None = None,
    command: str = "",
    verbose: bool = True,
) -> dict:
    """Train the MLP, the LSTM and the logistic regression; score them on validation and test;
    write the model folder ``out``; return its card."""
    from pathlib import Path

    out = Path(out)
    name = name or out.name
    ranges = split or DEFAULT_SPLIT
    sp = time_split(candles.index, ranges["train"], ranges["val"], ranges.get("test"))
    feats = direction_features(candles)
    scaler = DirectionScaler.fit(feats[sp.train[0] : sp.train[1]])
    z = scaler.transform(feats)
    y = labels(direction_targets(candles["close"].to_numpy("float64"), HORIZONS))
    need = WINDOW + WARMUP
    hmax = max(HORIZONS)
    tr = sp.origins("train", 1, need, hmax)
    va = sp.origins("val", 1, need, hmax)
    train_up = {
        h: float((y[tr, j] == 1).sum() / (y[tr, j] >= 0).sum()) for j, h in enumerate(HORIZONS)
    }

    mlp = build_mlp(len(DIRECTION_FEATURES) + LAGS - 1, len(HORIZONS))
    o_mlp = tr[::mlp_stride]
    mlp_record = _fit(
        mlp,
        mlp_inputs(z, o_mlp),
        y[o_mlp],
        mlp_inputs(z, va),
        y[va],
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        seed=seed,
        verbose=verbose,
    )
    lstm = build_lstm(len(DIRECTION_FEATURES), len(HORIZONS))
    o_lstm = tr[::lstm_stride]
    va_l = va[:: max(1, lstm_stride // 2)]
    lstm_record = _fit(
        lstm,
        lstm_inputs(z, o_lstm),
        y[o_lstm],
        lstm_inputs(z, va_l),
        y[va_l],
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        seed=seed,
        verbose=verbose,
    )
    mlp_w = layer_weights(mlp, ["dense_1", "dense_2", "dense_3", "dense_4"])
    lstm_w = layer_weights(lstm, ["lstm_1", "lstm_2", "dense_1", "dense_2"])
    mlp_np, lstm_np = DenseNet(mlp_w), NumpyLSTM(lstm_w)
    probe = va[:: max(1, len(va) // 256)][:256]
    agreement = {
        "mlp": float(
            np.abs(
                mlp.predict(mlp_inputs(z, probe), verbose=0) - mlp_np(mlp_inputs(z, probe))
            ).max()
        ),
        "lstm": float(
            np.abs(
                lstm.predict(lstm_inputs(z, probe), verbose=0)
                - sigmoid(lstm_np(lstm_inputs(z, probe)))
            ).max()
        ),
    }
    logistic = LogisticRegression.fit(mlp_inputs(z, tr), y[tr])
    models = {
        "mlp": lambda zz, o: mlp_np(mlp_inputs(zz, o)),
        "lstm": lambda zz, o: sigmoid(lstm_np(lstm_inputs(zz, o))),
        "logistic": lambda zz, o: logistic(mlp_inputs(zz, o)),
    }
    kw = {"train_up": train_up, "horizons": HORIZONS, "window": WINDOW, "stride": eval_stride}
    val_end = candles.index[sp.val[1] - 1] + pd.Timedelta(minutes=1)
    validation = evaluate_classifiers(
        candles.iloc[: sp.val[1]], z[: sp.val[1]], models, start=candles.index[sp.val[0]], **kw
    )
    # the default kind is chosen on validation (log loss at 1 minute), never on test
    default_kind = min(("mlp", "lstm"), key=lambda k: validation["results"][k]["1"]["log_loss"])
    test = None
    if sp.test is not None:
        test = evaluate_classifiers(
            candles.iloc[: sp.test[1]],
            z[: sp.test[1]],
            models,
            start=candles.index[sp.test[0]],
            **kw,
        )
    rng = lambda a, b: {
        "start": str(candles.index[a]),
        "end": str(candles.index[b - 1]),
        "candles": int(b - a),
    }
    judged = test or validation
    card = {
        "name": name,
        "task": "direction",
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "target": "P(close h minutes ahead > last close), h in horizons; flat moves excluded",
        "horizons": list(HORIZONS),
        "kinds": {
            "mlp": f"Dense 32 -> 16 -> 8 (ReLU) -> {len(HORIZONS)} sigmoid heads, on the last "
            f"row's features and the last {LAGS} one-minute returns",
            "lstm": f"LSTM(32, sequences) -> Dropout(0.2) -> LSTM(16) -> Dense(8, ReLU) -> "
            f"{len(HORIZONS)} sigmoid heads, on the last {WINDOW} rows",
            "logistic": "L2 logistic regression on the MLP's inputs (baseline)",
        },
        "default_kind": default_kind,
        "selection": "default_kind has the lower validation log loss at 1 minute",
        "window": WINDOW,
        "lags": LAGS,
        "features": DIRECTION_FEATURES,
        "train_up_rate": {str(h): v for h, v in train_up.items()},
        "data": data_description or [],
        "train_range": rng(*sp.train),
        "validation_range": rng(*sp.val),
        "validation_range_end": str(val_end),
        "test_range": rng(*sp.test) if sp.test is not None else None,
        "training": {"mlp": mlp_record, "lstm": lstm_record, "seed": seed},
        "numpy_keras_max_abs_diff": agreement,
        "validation_metrics": validation,
        "test_metrics": test,
        "verdict": {
            f"{k}@{h}": verdict(judged, k, h, CLAIM)
            for k in ("mlp", "lstm", "logistic")
            for h in HORIZONS
        },
        "claim": f"the seed terminal claimed {CLAIM[0]:.0%}-{CLAIM[1]:.0%} accuracy, no baseline",
        "libraries": library_versions(),
        "command": command,
    }
    write_model_folder(
        out,
        {
            "mlp.npz": lambda p: np.savez(p, **mlp_w),
            "lstm.npz": lambda p: np.savez(p, **lstm_w),
            "logistic.npz": lambda p: np.savez(p, coef=logistic.coef, intercept=logistic.intercept),
            "scaler.json": lambda p: write_json(p, scaler.to_dict()),
            "card.json": lambda p: write_json(p, card),
        },
    )
    return card
