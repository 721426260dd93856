"""A model of a forecaster's own error scale, so that prediction intervals use the model.

The base intervals (:mod:`cryptousd.forecast.intervals`) scale every forecaster's residual quantiles
by the same number, the standard deviation of the window's one-minute returns; all forecasters then
show bands of nearly the same width. :class:`ScaleModel` instead learns, on training origins, how
large *this forecaster's* errors are from what is known at the origin:

    log( mean_h |actual_h - predicted_h| / sqrt(h) )  ~  ridge on  log realised volatility over the
    last 5, 15, 30 and 59 minutes, the minute of the day (sin, cos) and a weekend flag

and :meth:`scale` returns ``exp`` of the prediction. The split-conformal calibration on validation
origins then learns the quantiles of ``residual / scale`` per horizon, so coverage holds by
construction and a forecaster with smaller, better-predicted errors gets narrower bands at the same
coverage. Everything reads only log closes and open times up to the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import INTERVAL_NS
from ..errors import ModelError
from .features import time_of_day

RV_MINUTES = (5, 15, 30, 59)
LOOKBACK = max(RV_MINUTES)  # returns before the origin the features read (inside a 60-row window)
FLOOR = 1e-6
NAMES = [*(f"log_rv_{k}" for k in RV_MINUTES), "tod_sin", "tod_cos", "weekend"]


def scale_features(logc: np.ndarray, times_ns: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(B, len(NAMES)) features of each origin from the log closes up to it."""
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) == 0:
        return np.empty((0, len(NAMES)))
    if origins.min() < LOOKBACK:
        raise ModelError(
            f"the scale model reads the {LOOKBACK} returns before an origin; "
            f"the first origin needs {LOOKBACK} earlier candles"
        )
    lo, hi = int(origins.min()) - LOOKBACK, int(origins.max())
    r2 = np.diff(logc[lo : hi + 1]) ** 2  # r2[i] = squared return into row lo + 1 + i
    cs = np.r_[0.0, np.cumsum(r2)]
    end = origins - lo  # rows lo+1 .. origin -> cs index origin - lo
    cols = [np.log(np.sqrt((cs[end] - cs[end - k]) / k) + FLOOR) for k in RV_MINUTES]
    tod_sin, tod_cos = time_of_day(times_ns[origins])
    day = (times_ns[origins] // (1440 * INTERVAL_NS) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Mon
    return np.column_stack([*cols, tod_sin, tod_cos, (day >= 5).astype(float)])


@dataclass
class ScaleModel:
    mean: np.ndarray  # feature means (training origins)
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    n: int

    @classmethod
    def fit(
        cls,
        logc: np.ndarray,
        times_ns: np.ndarray,
        origins: np.ndarray,
        predicted: np.ndarray,
        alpha: float = 1.0,
    ) -> ScaleModel:
        """Fit on ``origins`` where a forecaster predicted cumulative log returns ``predicted``
        (B, H); the actual returns are read from ``logc``."""
        h = predicted.shape[1]
        actual = logc[origins[:, None] + np.arange(1, h + 1)] - logc[origins, None]
        err = np.abs(actual - predicted) / np.sqrt(np.arange(1, h + 1))
        y = np.log(err.mean(axis=1) + FLOOR)
        x = scale_features(logc, times_ns, origins)
        ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
        if ok.sum() < 100:
            raise ModelError(f"the scale model needs at least 100 origins, got {int(ok.sum())}")
        x, y = x[ok], y[ok]
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-12, std, 1.0)
        z = (x - mean) / std
        coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        return cls(mean, std, coef, float(y.mean()), int(ok.sum()))

    def scale(self, logc: np.ndarray, times_ns: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(B,) the predicted error scale at each origin (one-minute log-return units)."""
        z = (scale_features(logc, times_ns, origins) - self.mean) / self.std
        return np.exp(z @ self.coef + self.intercept)

    def to_dict(self) -> dict:
        return {
            "features": NAMES,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ScaleModel:
        if d.get("features") != NAMES:
            raise ModelError(
                f"scale model was fitted on {d.get('features')}, this version reads {NAMES}; "
                "refit it (cryptousd research)"
            )
        arr = {k: np.asarray(d[k], dtype="float64") for k in ("mean", "std", "coef")}
        return cls(arr["mean"], arr["std"], arr["coef"], float(d["intercept"]), int(d["n"]))
