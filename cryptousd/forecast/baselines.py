"""The baselines every model is compared with, behind the same :class:`Forecaster` interface.

- ``persistence``: every future close equals the last close (the one to beat at minute scale);
- ``drift``: the window's mean one-minute return carried forward;
- ``ar``: a ridge autoregression of the next returns on the window's returns.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .base import Forecaster
from .features import windows


class Persistence(Forecaster):
    """Every future close equals the last close: the baseline to beat at minute scale."""

    name = "persistence"

    def predict_cum(self, feats, logc, next_time_ns):
        return np.zeros((len(logc), self.horizon))


class Drift(Forecaster):
    """The window's mean close-to-close return carried forward."""

    name = "drift"

    def predict_cum(self, feats, logc, next_time_ns):
        per_min = (logc[:, -1] - logc[:, 0]) / (logc.shape[1] - 1)
        return per_min[:, None] * np.arange(1, self.horizon + 1)


class RidgeAR(Forecaster):
    """Linear autoregression of the next ``horizon`` returns on the window's returns (ridge)."""

    name = "ar"

    def __init__(
        self,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
        alpha: float | None = None,
    ):
        self.coef, self.intercept, self.alpha = coef, intercept, alpha

    def _x(self, logc: np.ndarray) -> np.ndarray:
        return np.diff(logc, axis=1) * 1e4  # basis points keep the penalty on a sensible scale

    def predict_cum(self, feats, logc, next_time_ns):
        if self.coef is None:
            raise ModelError(
                "the ar baseline is not fitted; load it from a model folder or call fit()"
            )
        r = (self._x(logc) @ self.coef + self.intercept) / 1e4
        return np.cumsum(r, axis=1)

    def fit(self, feats, logc, split, stride: int = 5, alphas=(1e2, 1e3, 1e4, 1e5, 1e6)) -> RidgeAR:
        def xy(part, s):
            o = split.origins(part, stride=s, window=self.window, horizon=self.horizon)
            x = self._x(windows(logc[:, None], o, self.window)[..., 0])
            y = (
                logc[o[:, None] + np.arange(1, self.horizon + 1)]
                - logc[o[:, None] + np.arange(0, self.horizon)]
            ) * 1e4
            return x, y

        x, y = xy("train", stride)
        xv, yv = xy("val", stride)
        xm, ym = x.mean(0), y.mean(0)
        xtx = (x - xm).T @ (x - xm)
        xty = (x - xm).T @ (y - ym)
        best = None
        for a in alphas:
            coef = np.linalg.solve(xtx + a * np.eye(len(xtx)), xty)
            icpt = ym - xm @ coef
            err = np.mean((xv @ coef + icpt - yv) ** 2)
            if best is None or err < best[0]:
                best = (err, a, coef, icpt)
        _, self.alpha, self.coef, self.intercept = best
        return self


BASELINES = {"persistence": Persistence, "drift": Drift, "ar": RidgeAR}
