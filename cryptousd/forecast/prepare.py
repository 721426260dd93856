"""Training's steps that need no TensorFlow: configuration, arrays, baselines and calibration.

A notebook calls them one by one (see :mod:`cryptousd.research.pipeline` for the whole chain):

1. :func:`prepare` - split by time, features, a scaler fitted on training rows, scaled targets;
2. :func:`cryptousd.forecast.train.fit` - the Keras model (the only step that imports TensorFlow);
3. :func:`cryptousd.forecast.train.export` - NumPy weights, checked against Keras;
4. :func:`fit_baselines` and :func:`calibrate` - baselines on the same rows, intervals on
   validation;
5. :func:`cryptousd.forecast.card.make_card` and :func:`cryptousd.forecast.model_folder.save_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import HORIZON, WINDOW
from ..errors import ModelError
from .base import Forecaster
from .baselines import BASELINES
from .features import Scaler, SeriesArrays, Split, future_returns, series_arrays, time_split

VARIANTS = ("direct", "recursive")

DEFAULT_SPLIT = {
    "train": ("2024-01-01", "2025-01-01"),
    "val": ("2025-01-01", "2025-02-01"),
    "test": ("2025-02-01", "2025-04-01"),
}


@dataclass
class TrainConfig:
    """Every training setting; the CLI's defaults are read from here."""

    variant: str = "direct"
    epochs: int = 10
    stride: int = 5  # minutes between training windows (1 = every window)
    batch_size: int = 256
    learning_rate: float = 1e-3
    dropout: float = 0.2
    patience: int = 2
    seed: int = 42
    calib_stride: int = 1  # minutes between calibration (validation) origins
    eval_stride: int = 1  # minutes between test origins
    window: int = WINDOW
    horizon: int = HORIZON

    def validated(self) -> TrainConfig:
        """Raise a one-line :class:`ModelError` for settings that cannot train."""
        if self.variant not in VARIANTS:
            raise ModelError(f"variant {self.variant!r}: choose one of {', '.join(VARIANTS)}")
        for key in (
            "epochs",
            "stride",
            "batch_size",
            "calib_stride",
            "eval_stride",
            "window",
            "horizon",
        ):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelError(f"{key.replace('_', '-')} {value}: must be a whole number >= 1")
        if self.patience < 0:
            raise ModelError(f"patience {self.patience}: must be >= 0 epochs")
        if not 0 < self.learning_rate < 1:
            raise ModelError(
                f"learning rate {self.learning_rate}: must be between 0 and 1, e.g. 0.001"
            )
        if not 0 <= self.dropout < 1:
            raise ModelError(f"dropout {self.dropout}: must be in [0, 1)")
        return self


@dataclass
class Prepared:
    """What every later step reads: the series' arrays, the split, the scaler and the targets."""

    candles: pd.DataFrame
    arrays: SeriesArrays
    split: Split
    scaler: Scaler
    y_scale: float  # standard deviation of training one-minute log returns
    x: np.ndarray  # (N, F) scaled features, float32
    targets: np.ndarray  # (N, out) scaled targets aligned for Keras' windowing

    def range_of(self, part: str) -> dict | None:
        rows = getattr(self.split, part)
        if rows is None:
            return None
        a, b = rows
        idx = self.candles.index
        return {"start": str(idx[a]), "end": str(idx[b - 1]), "rows": b - a}


def prepare(candles: pd.DataFrame, config: TrainConfig, split: dict | None = None) -> Prepared:
    """Split by time, compute features, fit the scaler on training rows only, scale targets."""
    cfg = config.validated()
    ranges = split or DEFAULT_SPLIT
    sp = time_split(candles.index, ranges["train"], ranges["val"], ranges.get("test"))
    arr = series_arrays(candles)
    y = future_returns(arr.close, cfg.horizon)
    scaler = Scaler.fit(arr.feats[sp.train[0] : sp.train[1]])
    y_train = y[sp.origins("train", 1, cfg.window, cfg.horizon)]
    y_scale = float(np.nanstd(y_train[:, 0]))
    ys = np.nan_to_num(y / y_scale).astype("float32")
    if cfg.variant == "recursive":
        ys = ys[:, :1]
    # Keras pairs data[i : i + window] with targets[i]; the window ending at t starts at
    # t - window + 1
    pad = np.zeros((cfg.window - 1, ys.shape[1]), "float32")
    targets = np.concatenate([ys[cfg.window - 1 :], pad])
    return Prepared(candles, arr, sp, scaler, y_scale, scaler.transform(arr.feats), targets)


def fit_baselines(prep: Prepared, config: TrainConfig) -> dict[str, Forecaster]:
    """The baselines, fitted on the same training rows as the model (only ``ar`` learns)."""
    out = {k: cls() for k, cls in BASELINES.items()}
    for f in out.values():
        f.window, f.horizon = config.window, config.horizon
    out["ar"].fit(prep.arrays.feats, prep.arrays.logc, prep.split)
    return out


def calibrate(
    forecasters: dict[str, Forecaster], prep: Prepared, config: TrainConfig
) -> np.ndarray:
    """Fit every forecaster's interval and P(up) on validation origins; returns those origins."""
    origins = prep.split.origins("val", config.calib_stride, config.window, config.horizon)
    a = prep.arrays
    for f in forecasters.values():
        f.calibrate(a.feats, a.logc, a.times, origins)
    return origins
