"""Model inputs and targets, computed so that nothing after a window's end can leak in.

Every input feature of row ``t`` is computed from candle ``t`` alone (no rolling statistics, no
look-ahead), so a window's inputs are exactly its own rows and cannot change when later data
changes. Targets are the close-to-close log returns of the ``HORIZON`` minutes after the window.

- ``ret``     log(close / open): the minute's return (equal to close-to-close when open =
              previous close)
- ``range``   log(high / low): the minute's range, a volatility proxy
- ``logvol``  log(1 + volume)
- ``tod_sin``, ``tod_cos``: minute of the day on a circle (UTC)

The :class:`Scaler` is fitted on training rows only and saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ..config import HORIZON, INTERVAL_NS, WINDOW
from ..errors import DataError
from ..times import index_ns, to_utc

FEATURES = ["ret", "range", "logvol", "tod_sin", "tod_cos"]


def time_of_day(times_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minute of the UTC day on a circle: (sin, cos) of int64 ns open times."""
    angle = ((np.asarray(times_ns) // INTERVAL_NS) % 1440) * (2 * np.pi / 1440)
    return np.sin(angle), np.cos(angle)


def features_from_arrays(ohlcv: np.ndarray, times_ns: np.ndarray) -> np.ndarray:
    """(N, 5) OHLCV and int64 ns open times -> (N, len(FEATURES)) float64 features."""
    o, h, lo, c, v = (ohlcv[:, i] for i in range(5))
    tod_sin, tod_cos = time_of_day(times_ns)
    return np.column_stack([np.log(c / o), np.log(h / lo), np.log1p(v), tod_sin, tod_cos])


def candle_features(candles: pd.DataFrame) -> np.ndarray:
    """Features of every row of a candle frame, shape (N, 5)."""
    ohlcv = candles[["open", "high", "low", "close", "volume"]].to_numpy("float64")
    return features_from_arrays(ohlcv, index_ns(candles.index))


@dataclass(frozen=True)
class SeriesArrays:
    """The arrays every forecaster, evaluation and backtest reads from one candle frame."""

    feats: np.ndarray  # (N, F) features of each row (see FEATURES)
    close: np.ndarray  # (N,) closes
    logc: np.ndarray  # (N,) log closes
    times: np.ndarray  # (N,) open times, int64 ns


def series_arrays(candles: pd.DataFrame) -> SeriesArrays:
    """Features, closes, log closes and open times of a candle frame, computed once."""
    close = candles["close"].to_numpy("float64")
    return SeriesArrays(candle_features(candles), close, np.log(close), index_ns(candles.index))


def future_returns(close: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
    """Y[t, k] = log(close[t+k+1] / close[t+k]) for k < horizon; NaN past the end. Shape
    (N, horizon).
    """
    lc = np.log(np.asarray(close, dtype="float64"))
    r = np.r_[np.diff(lc), np.full(horizon, np.nan)]
    idx = np.arange(len(lc))[:, None] + np.arange(horizon)[None, :]
    return r[idx]


@dataclass
class Scaler:
    """Per-feature standardisation fitted on training rows only."""

    mean: np.ndarray
    std: np.ndarray

    FEATURE_NAMES: ClassVar[list[str]] = FEATURES  # what a saved scaler must have been fitted on

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        return cls(mean, np.where(std > 1e-12, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype("float32")

    def to_dict(self) -> dict:
        names = self.FEATURE_NAMES
        return {"features": names, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def mismatch(cls, fitted_on) -> Exception:
        """The one-line error for a saved scaler fitted on other features."""
        return DataError(
            f"scaler was fitted on features {fitted_on}, this version computes {cls.FEATURE_NAMES}"
        )

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        if d.get("features") != cls.FEATURE_NAMES:
            raise cls.mismatch(d.get("features"))
        return cls(np.asarray(d["mean"], dtype="float64"), np.asarray(d["std"], dtype="float64"))


@dataclass(frozen=True)
class Split:
    """Row ranges of a time split and the origins (window ends) each may use.

    An origin ``t`` uses rows ``t-WINDOW+1 .. t`` as input and ``t+1 .. t+HORIZON`` as target.
    Train origins have all their targets inside the training range; validation and test origins
    start ``HORIZON`` rows after their range begins, so no target is shared across the split.
    """

    train: tuple[int, int]  # [start, end) row indices
    val: tuple[int, int]
    test: tuple[int, int] | None

    def origins(
        self, part: str, stride: int = 1, window: int = WINDOW, horizon: int = HORIZON
    ) -> np.ndarray:
        a, b = getattr(self, part)
        first = max(a + (0 if part == "train" else horizon), window - 1)
        last = b - horizon - 1
        if last < first:
            raise DataError(
                f"the {part} range has too few candles for a {window}-minute window "
                f"and {horizon}-minute horizon"
            )
        return np.arange(first, last + 1, stride)


def time_split(index: pd.DatetimeIndex, train, val, test=None) -> Split:
    """Row ranges for ``(start, end)`` pairs of times; ranges must be in order and not overlap."""

    def rows(rng, name):
        a = int(index.searchsorted(to_utc(rng[0])))
        b = int(index.searchsorted(to_utc(rng[1])))
        if b - a < WINDOW + HORIZON + 1:
            cover = (
                f"the data cover {index[0]:%Y-%m-%d %H:%M} .. {index[-1]:%Y-%m-%d %H:%M} UTC"
                if len(index)
                else "there are no data"
            )
            raise DataError(
                f"{name} range {rng[0]} .. {rng[1]} holds {b - a} candles; it needs at least "
                f"{WINDOW + HORIZON + 1} ({cover}: give ranges inside them, or fetch more history)"
            )
        return a, b

    tr, va = rows(train, "training"), rows(val, "validation")
    te = rows(test, "test") if test is not None else None
    if va[0] < tr[1] or (te is not None and te[0] < va[1]):
        raise DataError(
            "split ranges overlap or are out of order; use train < validation < test in time"
        )
    return Split(tr, va, te)


def windows(x: np.ndarray, origins: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """(B, window, F) array of the rows ending at each origin (copies only those windows)."""
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (N-w+1, F, w)
    return view[origins - window + 1].transpose(0, 2, 1)
