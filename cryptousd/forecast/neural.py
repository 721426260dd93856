"""Neural forecasters (LSTM or GRU) on any per-candle inputs, for research.

:class:`NeuralForecaster` is the direct variant of :class:`cryptousd.forecast.lstm.LSTMForecaster`
with a choice of recurrent cell and of inputs (names from :mod:`cryptousd.forecast.inputs`, ``ret``
first):
RNN 64 -> Dropout -> RNN 32 -> Dense 16 relu -> Dense(horizon), whose outputs are the next
``horizon`` one-minute log returns divided by ``y_scale`` (their training standard deviation),
summed into cumulative returns.

Fitting (:meth:`NeuralForecaster.fit_origins`) imports TensorFlow; inference and
:meth:`NeuralForecaster.from_folder` never do: the forward pass is :class:`.NumpyLSTM` or
:class:`.NumpyGRU`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import HORIZON, WINDOW
from ..errors import DataError, ModelError
from ..files import write_json
from .base import Forecaster, scaled_chunks
from .features import FEATURES, Scaler, windows
from .inputs import check_names
from .intervals import Calibration
from .model_folder import write_model_folder
from .numpy_gru import NumpyGRU
from .numpy_lstm import NumpyLSTM

KIND = "neural"
CELLS = ("lstm", "gru")
EXPORT_TOLERANCE = 1e-4  # largest relative difference allowed between Keras and NumPy


@dataclass
class InputScaler(Scaler):
    """Per-input standardisation fitted on training rows only, carrying the input names."""

    names: tuple[str, ...] = ()

    @classmethod
    def fit_names(cls, x: np.ndarray, names: Sequence[str]) -> InputScaler:
        base = Scaler.fit(x)
        return cls(base.mean, base.std, tuple(names))

    def to_dict(self) -> dict:
        return {"features": list(self.names), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict, names: Sequence[str] | None = None) -> InputScaler:
        names = list(d.get("features") or []) if names is None else list(names)
        if d.get("features") != names:
            raise DataError(
                f"scaler was fitted on inputs {d.get('features')}, the model reads {names}; "
                "refit the model on its own inputs"
            )
        mean = np.asarray(d["mean"], dtype="float64")
        std = np.asarray(d["std"], dtype="float64")
        if mean.shape != (len(names),) or std.shape != (len(names),):
            raise DataError(
                f"scaler holds {mean.size} means for {len(names)} inputs; refit the model"
            )
        return cls(mean, std, tuple(names))


def _net(cell: str, weights: dict, jit: bool | None = None):
    return NumpyLSTM(weights, jit=jit) if cell == "lstm" else NumpyGRU(weights)


def build_keras_model(cell: str, n_features: int, window: int, n_out: int, dropout: float):
    """RNN(64, return_sequences) -> Dropout -> RNN(32) -> Dense(16, relu) -> Dense(n_out)."""
    from .train import import_keras

    keras = import_keras()
    layer = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    inputs = keras.Input((window, n_features), name="window")
    x = layer(64, return_sequences=True, name=f"{cell}_1")(inputs)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = layer(32, name=f"{cell}_2")(x)
    x = keras.layers.Dense(16, activation="relu", name="dense_1")(x)
    out = keras.layers.Dense(n_out, name="dense_2")(x)
    return keras.Model(inputs, out, name=f"{cell}_direct")


def keras_weights(model, cell: str) -> dict[str, np.ndarray]:
    """The Keras weights in the flat form :class:`.NumpyLSTM` / :class:`.NumpyGRU` read."""
    out = {}
    for layer in (f"{cell}_1", f"{cell}_2"):
        k, r, b = model.get_layer(layer).get_weights()
        out.update({f"{layer}/kernel": k, f"{layer}/recurrent_kernel": r, f"{layer}/bias": b})
    for layer in ("dense_1", "dense_2"):
        k, b = model.get_layer(layer).get_weights()
        out.update({f"{layer}/kernel": k, f"{layer}/bias": b})
    return {k: np.asarray(v, dtype="float32") for k, v in out.items()}


def _window_dataset(x, y, origins: np.ndarray, window: int, batch_size: int, seed: int | None):
    """A Keras dataset of windows gathered batch by batch (no (N, window, F) array is built);
    reshuffled every epoch with a seeded generator when ``seed`` is not None."""
    import keras

    class Windows(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.order = origins.copy()
            self.rng = None if seed is None else np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self):
            return int(np.ceil(len(self.order) / batch_size))

        def __getitem__(self, i):
            o = self.order[i * batch_size : (i + 1) * batch_size]
            return np.ascontiguousarray(windows(x, o, window)), y[o]

        def on_epoch_end(self):
            if self.rng is not None:
                self.order = origins[self.rng.permutation(len(origins))]

    return Windows()


class NeuralForecaster(Forecaster):
    """An LSTM or GRU forecaster on any inputs (``inputs[0]`` must be ``ret``), direct variant.

    Build it unfitted with a cell and inputs, then :meth:`fit_origins` (TensorFlow), or load a
    fitted one with :meth:`from_folder` (NumPy only).
    """

    def __init__(
        self,
        cell: str = "gru",
        inputs: Sequence[str] = tuple(FEATURES),
        *,
        name: str | None = None,
        window: int = WINDOW,
        horizon: int = HORIZON,
        dropout: float = 0.2,
        learning_rate: float = 1e-3,
        patience: int = 2,
    ):
        if cell not in CELLS:
            raise ModelError(f"cell {cell!r}: choose one of {', '.join(CELLS)}")
        inputs = tuple(inputs)
        check_names(inputs)
        if not inputs or inputs[0] != "ret":
            raise ModelError(
                f"inputs {list(inputs)}: the first input must be 'ret' (intervals are scaled by it)"
            )
        if len(set(inputs)) != len(inputs):
            raise ModelError(f"inputs {list(inputs)} repeat a name; give each input once")
        self.cell, self.inputs = cell, inputs
        self.name = name or f"{cell}_{len(inputs)}in"
        self.window, self.horizon = int(window), int(horizon)
        self.dropout, self.learning_rate, self.patience = dropout, learning_rate, patience
        self.net = None
        self.scaler: InputScaler | None = None
        self.y_scale: float | None = None
        self.fit_info: dict = {}

    # inference ----------------------------------------------------------------------------------
    def _fitted(self):
        if self.net is None:
            raise ModelError(
                f"{self.name} is not fitted; call fit_origins(...) or load it with "
                "NeuralForecaster.from_folder(path)"
            )
        return self.net

    def predict_cum(
        self, feats: np.ndarray, logc: np.ndarray, next_time_ns: np.ndarray
    ) -> np.ndarray:
        net = self._fitted()
        x = self.scaler.transform(np.asarray(feats))
        return np.cumsum(net(x).astype("float64") * self.y_scale, axis=1)

    def predict_origins(
        self,
        feats: np.ndarray,
        logc: np.ndarray,
        times_ns: np.ndarray,
        origins: np.ndarray,
        chunk: int = 8192,
    ) -> np.ndarray:
        """(B, horizon) mean cumulative log returns at ``origins`` (indices of each window's last
        row); each row is scaled once per chunk and float32 windows are gathered from it."""
        net = self._fitted()
        origins = np.asarray(origins, dtype="int64")
        out = np.empty((len(origins), self.horizon))
        for i, scaled, starts in scaled_chunks(self.scaler, feats, origins, self.window, chunk):
            x = np.ascontiguousarray(windows(scaled, starts + self.window - 1, self.window))
            out[i : i + len(starts)] = np.cumsum(net(x).astype("float64") * self.y_scale, axis=1)
        return out

    # fitting ------------------------------------------------------------------------------------
    def _check_origins(self, n: int, part: str, o: np.ndarray) -> np.ndarray:
        o = np.asarray(o, dtype="int64").ravel()
        if len(o) == 0:
            raise DataError(f"no {part} origins; give at least one")
        if o.min() < self.window - 1 or o.max() + self.horizon >= n:
            raise DataError(
                f"{part} origins run from {o.min()} to {o.max()}; each needs {self.window - 1} "
                f"rows before it and {self.horizon} after it in a frame of {n} rows"
            )
        return o

    def _covered(self, n: int, origins: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows that the windows ending at ``origins`` read."""
        d = np.zeros(n + 1, dtype="int64")
        np.add.at(d, origins - self.window + 1, 1)
        np.add.at(d, origins + 1, -1)
        return np.cumsum(d[:n]) > 0

    def fit_origins(
        self,
        feats: np.ndarray,
        logc: np.ndarray,
        times_ns: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        *,
        seed: int = 0,
        progress=None,
        epochs: int = 8,
        stride: int = 1,
        batch_size: int = 256,
    ) -> NeuralForecaster:
        """Fit with Keras on the windows ending at ``train`` origins, stopping early on the loss
        at ``val`` origins (patience ``self.patience``, best weights restored); then export to the
        NumPy forward pass, checked against Keras on up to 256 validation windows.

        ``feats`` = ``input_matrix(candles, self.inputs)`` of the whole frame, ``logc`` its log
        closes; origins index each window's last row and are used as given (purging and embargo
        are the caller's). Targets: the next ``horizon`` one-minute log returns over their
        training standard deviation. ``progress``: None or True for a tqdm bar with one printed
        line per epoch, False for silence, or a Keras callback of your own.
        """
        feats = np.asarray(feats, dtype="float64")
        logc = np.asarray(logc, dtype="float64")
        n = len(logc)
        if feats.shape != (n, len(self.inputs)):
            raise DataError(
                f"feats have shape {feats.shape}, expected ({n}, {len(self.inputs)}) for inputs "
                f"{list(self.inputs)}; build them with input_matrix(candles, model.inputs)"
            )
        if epochs < 1 or stride < 1 or batch_size < 1:
            raise ModelError(
                f"epochs {epochs}, stride {stride}, batch_size {batch_size}: must all be >= 1"
            )
        train = self._check_origins(n, "training", train)
        val = self._check_origins(n, "validation", val)
        t0 = time.perf_counter()

        train_rows = self._covered(n, train)
        used = train_rows | self._covered(n, val)
        bad = used & ~np.isfinite(feats).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"row {row} inside a training or validation window has undefined inputs (NaN: "
                "before their lookback, or a gap); start the origins later or repair the candles"
            )
        r = np.diff(logc)  # r[t] = logc[t + 1] - logc[t]
        steps = np.arange(self.horizon)
        y_train, y_val = r[train[:, None] + steps], r[val[:, None] + steps]
        if not (np.isfinite(y_train).all() and np.isfinite(y_val).all()):
            raise DataError("targets hold NaN or infinite log closes; repair the candles first")
        y_scale = float(np.std(y_train))
        if not y_scale > 0:
            raise DataError("training targets do not vary (std 0); train on real price moves")

        scaler = InputScaler.fit_names(feats[train_rows], self.inputs)
        x = scaler.transform(feats)
        y = np.zeros((n, self.horizon), dtype="float32")  # y[o]: the target of origin o
        y[train] = y_train / y_scale
        y[val] = y_val / y_scale

        from .train import import_keras, progress_callback

        keras = import_keras()
        keras.utils.set_random_seed(seed)
        model = build_keras_model(
            self.cell, len(self.inputs), self.window, self.horizon, self.dropout
        )
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        train_o = train[::stride]
        train_ds = _window_dataset(x, y, train_o, self.window, batch_size, seed)
        val_ds = _window_dataset(x, y, val, self.window, batch_size, None)
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
        ]
        if progress is None or progress is True:
            callbacks.append(progress_callback(len(train_ds), epochs))
        elif progress is not False:
            callbacks.append(progress)
        hist = model.fit(
            train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0
        )
        val_loss = [float(v) for v in hist.history["val_loss"]]

        self.net = _net(self.cell, keras_weights(model, self.cell))
        self.scaler, self.y_scale = scaler, y_scale
        probe = val[:: max(1, len(val) // 256)][:256]
        xw = np.ascontiguousarray(windows(x, probe, self.window))
        ref = np.asarray(model.predict(xw, verbose=0, batch_size=256), dtype="float64")
        err = float(np.max(np.abs(ref - self.net(xw))) / max(np.max(np.abs(ref)), 1e-12))
        if not err <= EXPORT_TOLERANCE:
            self.net = None
            raise ModelError(
                f"the NumPy {self.cell} forward pass differs from Keras by {err:.2e} (relative, "
                f"allowed {EXPORT_TOLERANCE:g}); report this with the Keras version"
            )
        self.fit_info = {
            "cell": self.cell,
            "inputs": list(self.inputs),
            "epochs_requested": epochs,
            "epochs_run": len(val_loss),
            "best_epoch": int(np.argmin(val_loss)) + 1,
            "loss": [round(float(v), 6) for v in hist.history["loss"]],
            "val_loss": [round(v, 6) for v in val_loss],
            "best_val_loss": round(min(val_loss), 6),
            "zero_val_loss": round(float(np.mean((y_val / y_scale) ** 2)), 6),
            "n_train": len(train_o),
            "n_val": len(val),
            "stride": stride,
            "batch_size": batch_size,
            "seconds": round(time.perf_counter() - t0, 1),
            "seed": seed,
            "export_rel_error": err,
        }
        return self

    # saving -------------------------------------------------------------------------------------
    def card_dict(self) -> dict:
        return {
            "kind": KIND,
            "cell": self.cell,
            "name": self.name,
            "inputs": list(self.inputs),
            "window": self.window,
            "horizon": self.horizon,
            "dropout": self.dropout,
            "learning_rate": self.learning_rate,
            "patience": self.patience,
            "scaler": self.scaler.to_dict(),
            "y_scale": self.y_scale,
            "fit_info": self.fit_info,
        }

    def to_folder(self, path) -> Path:
        """Write ``weights.npz`` and ``card.json`` (and ``calibration.npz`` when calibrated) into
        ``path``, atomically: a crash leaves any previous folder whole."""
        net = self._fitted()
        files = {
            "weights.npz": lambda p: np.savez(p, **net.weights),
            "card.json": lambda p: write_json(p, self.card_dict()),
        }
        if self.calibration is not None:
            files["calibration.npz"] = lambda p: self.calibration.save(p)
        return write_model_folder(Path(path), files)

    @classmethod
    def from_folder(cls, path, *, jit: bool | None = None) -> NeuralForecaster:
        """Load a folder written by :meth:`to_folder` (never imports TensorFlow)."""
        folder = Path(path)
        try:
            card = json.loads((folder / "card.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{folder}: no readable card.json ({type(exc).__name__}); "
                "give a folder written by NeuralForecaster.to_folder"
            ) from None
        kind = card.get("kind") if isinstance(card, dict) else None
        if kind != KIND:
            raise ModelError(
                f"{folder} holds a {kind or card.get('task') or 'forecast'} model, not a "
                f"{KIND!r} one; load it with cryptousd.forecast.load_forecaster"
            )
        try:
            model = cls(
                card["cell"],
                card["inputs"],
                name=card["name"],
                window=int(card["window"]),
                horizon=int(card["horizon"]),
                dropout=card.get("dropout", 0.2),
                learning_rate=card.get("learning_rate", 1e-3),
                patience=card.get("patience", 2),
            )
            with np.load(folder / "weights.npz", allow_pickle=False) as data:
                weights = {k: data[k] for k in data.files}
            model.net = _net(model.cell, weights, jit=jit)
            model.scaler = InputScaler.from_dict(card["scaler"], model.inputs)
            model.y_scale = float(card["y_scale"])
            model.fit_info = card.get("fit_info") or {}
            if (folder / "calibration.npz").exists():
                with np.load(folder / "calibration.npz", allow_pickle=False) as data:
                    model.calibration = Calibration.from_npz(data)
        except DataError as exc:
            raise ModelError(f"{folder}: {exc}") from None
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(
                f"{folder}: inconsistent model files ({type(exc).__name__}: {exc}); "
                "refit and save the model again"
            ) from None
        if model.net.n_out != model.horizon or model.net.n_features != len(model.inputs):
            raise ModelError(
                f"{folder}: weights read {model.net.n_features} inputs and give {model.net.n_out} "
                f"outputs, the card says {len(model.inputs)} and {model.horizon}; refit the model"
            )
        model.card = card
        return model
