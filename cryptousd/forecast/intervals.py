"""Prediction intervals and P(up) by normalised split conformal calibration.

On held-out (validation) origins we record, per horizon ``h``, the residual of the cumulative log
return divided by the window's own volatility: ``e = (actual - predicted) / sigma``. The empirical
quantiles of ``e`` give intervals that widen in volatile markets and narrow in calm ones; the same
distribution turns a forecast into P(up) = P(predicted + sigma * e > 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEVELS = np.round(np.linspace(0.005, 0.995, 199), 3)
SIGMA_FLOOR = 1e-5


def window_sigma(ret_windows: np.ndarray) -> np.ndarray:
    """Standard deviation of each window's one-minute log returns, floored. (B, W) -> (B,)."""
    return np.maximum(ret_windows.std(axis=-1), SIGMA_FLOOR)


@dataclass
class Calibration:
    levels: np.ndarray  # (Q,) probability levels
    quantiles: np.ndarray  # (H, Q) quantiles of normalised residuals per horizon
    n: int  # calibration origins

    @classmethod
    def fit(cls, predicted: np.ndarray, actual: np.ndarray, sigma: np.ndarray) -> Calibration:
        """``predicted``/``actual`` cumulative log returns (B, H); ``sigma`` (B,)."""
        ok = np.isfinite(actual).all(axis=1)
        e = (actual[ok] - predicted[ok]) / sigma[ok, None]
        n = len(e)
        if n < 50:
            raise ValueError(f"calibration needs at least 50 origins, got {n}")
        # finite-sample (split conformal) correction: widen the outer levels slightly
        adj = np.clip(0.5 + (LEVELS - 0.5) * (n + 1) / n, 0, 1)
        q = np.quantile(e, adj, axis=0, method="higher").T  # (H, Q)
        return cls(LEVELS.copy(), q, n)

    def interval(
        self, mean: np.ndarray, sigma: np.ndarray, coverage: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper cumulative log returns (B, H) at the given central coverage."""
        if not 0 < coverage < 1:
            raise ValueError(f"coverage {coverage}: must be between 0 and 1, e.g. 0.8")
        lo_q = self._quantile((1 - coverage) / 2)
        hi_q = self._quantile((1 + coverage) / 2)
        s = np.asarray(sigma)[..., None]
        return mean + s * lo_q, mean + s * hi_q

    def _quantile(self, level: float) -> np.ndarray:
        level = float(np.clip(level, self.levels[0], self.levels[-1]))
        cache = self.__dict__.setdefault("_quantile_cache", {})  # a live forecast asks each tick
        if level not in cache:
            cache[level] = np.array([np.interp(level, self.levels, q) for q in self.quantiles])
        return cache[level]

    def p_up(self, mean: np.ndarray, sigma: np.ndarray, horizon_index: int = -1) -> np.ndarray:
        """P(cumulative return at a horizon > 0) = 1 - F(-mean / sigma); the last horizon by
        default.
        """
        z = -np.asarray(mean) / np.asarray(sigma)
        cdf = np.interp(z, self.quantiles[horizon_index], self.levels, left=0.0, right=1.0)
        return np.clip(1.0 - cdf, 0.0, 1.0)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The npz layout (``levels``, ``quantiles``, ``n``, each under ``prefix``); read by
        :meth:`from_npz`.
        """
        return {
            prefix + "levels": self.levels,
            prefix + "quantiles": self.quantiles,
            prefix + "n": np.asarray(self.n),
        }

    def save(self, path: Path) -> None:
        np.savez(path, **self.to_arrays())

    @classmethod
    def from_npz(cls, data, prefix: str = "") -> Calibration:
        return cls(
            np.asarray(data[prefix + "levels"]),
            np.asarray(data[prefix + "quantiles"]),
            int(data[prefix + "n"]),
        )
