"""Walk-forward evaluation of forecasters against the baselines, on the same origins.

At every origin ``t`` (every ``stride`` minutes) each forecaster sees rows ``t-W+1 .. t`` only and
forecasts closes ``t+1 .. t+H``. Origins whose window or horizon touches a gap (a filled candle or a
hole in the index) are skipped and counted. Metrics per horizon:

- MAE and RMSE of the close in USD, MAE in basis points of the last close, MAE / persistence's MAE;
- direction accuracy (flat actual moves excluded) with a 95 % Wilson interval;
- coverage and mean width of the prediction interval;
- a Diebold-Mariano test of squared errors against persistence (Harvey-Leybourne-Newbold small-sample
  version, with the MA(h-1) long-run variance that overlapping h-step forecasts need);
- for P(up) at that horizon, the Brier score beside that of the constant base rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .times import index_ns
from .config import COVERAGE, INTERVAL_NS
from .errors import DataError, ModelError
from .features import candle_features, windows
from .forecast.base import Forecaster
from .forecast.intervals import window_sigma

METRICS = [
    "mae", "rmse", "mae_bps", "mae_ratio_vs_persistence", "direction_accuracy", "direction_ci_low",
    "direction_ci_high", "coverage", "interval_width", "dm_pvalue", "brier", "brier_base",
]


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def diebold_mariano(e_model: np.ndarray, e_base: np.ndarray, h: int) -> float:
    """Two-sided p-value of the HLN-corrected Diebold-Mariano test on squared errors."""
    d = e_model**2 - e_base**2
    n = len(d)
    if n < 10 or not np.any(d):
        return math.nan
    dc = d - d.mean()
    var = dc @ dc / n
    for k in range(1, h):
        var += 2 * (dc[k:] @ dc[:-k]) / n
    if var <= 0:
        return math.nan
    dm = d.mean() / math.sqrt(var / n)
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(2 * stats.t.sf(abs(dm * correction), df=n - 1))


def valid_origins(candles: pd.DataFrame, window: int, horizon: int, stride: int, start=None, end=None) -> tuple[np.ndarray, int]:
    """Origins in ``[start, end)`` whose window and horizon avoid gaps; returns (origins, skipped)."""
    from .times import to_utc

    idx = candles.index
    n = len(idx)
    bad = np.zeros(n, dtype=bool)
    if "filled" in candles.columns:
        bad |= candles["filled"].to_numpy(dtype=bool)
    jump = np.r_[False, np.diff(index_ns(idx)) != INTERVAL_NS]  # row t follows a hole
    a = window - 1 if start is None else max(window - 1, int(idx.searchsorted(to_utc(start))))
    b = n - horizon if end is None else min(n - horizon, int(idx.searchsorted(to_utc(end))))
    if b <= a:
        raise DataError(
            f"too few candles for walk-forward evaluation: need {window} before and {horizon} after each origin "
            f"(got {n} candles{'' if start is None else f' from {start}'}); widen the range"
        )
    cand = np.arange(a, b, stride)
    cb = np.r_[0, np.cumsum(bad)]
    cj = np.r_[0, np.cumsum(jump)]
    lo, hi = cand - window + 1, cand + horizon
    touches = (cb[hi + 1] - cb[lo] > 0) | (cj[hi + 1] - cj[lo + 1] > 0)
    return cand[~touches], int(touches.sum())


class LookAheadForecaster(Forecaster):
    """A deliberately broken forecaster that reads the future, to show what leakage looks like.

    Real forecasters get only windows that end at the origin (``predict_cum``); this one overrides
    the batch path and peeks at the closes after it. Run it through :func:`walk_forward` beside the
    real ones: results that look too good to be true usually are.
    """

    name = "look-ahead (leaky)"

    def predict_cum(self, feats, logc, next_time_ns):
        raise ModelError("the look-ahead forecaster only exists inside walk_forward; it cannot forecast live")

    def predict_origins(self, feats, logc, times_ns, origins, chunk: int = 8192):
        ks = np.arange(1, self.horizon + 1)
        return logc[origins[:, None] + ks] - logc[origins, None]


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


@dataclass
class Evaluation:
    """The result of :func:`walk_forward`: a tidy metrics table plus what was evaluated."""

    table: pd.DataFrame  # index (forecaster, horizon), columns METRICS
    n_origins: int
    skipped: int
    start: pd.Timestamp
    end: pd.Timestamp
    model: str
    data: list[str] = field(default_factory=list)
    coverage: float = COVERAGE
    predictions: dict = field(default_factory=dict, repr=False)  # name -> (origins, mean cum returns)

    def to_dict(self) -> dict:
        results = {}
        for name in self.table.index.get_level_values(0).unique():
            sub = self.table.loc[name]
            results[name] = {
                str(h): {m: (None if pd.isna(v) else float(v)) for m, v in sub.loc[h].items()} for h in sub.index
            }
        return {
            "model": self.model, "data": self.data, "start": str(self.start), "end": str(self.end),
            "n_origins": self.n_origins, "skipped": self.skipped, "coverage_nominal": self.coverage, "results": results,
        }

    def to_json(self, path) -> None:
        from .files import write_json

        write_json(path, self.to_dict())

    def summary(self, horizons=(1, 5, 10)) -> pd.DataFrame:
        """A compact table: MAE in bps and its ratio to persistence, direction accuracy, coverage."""
        cols = ["mae_bps", "mae_ratio_vs_persistence", "direction_accuracy", "coverage", "dm_pvalue", "brier", "brier_base"]
        sub = self.table.loc[(slice(None), list(horizons)), cols]
        return sub.round(4)


def walk_forward(
    candles: pd.DataFrame,
    forecasters: dict,
    *,
    start=None,
    end=None,
    stride: int = 1,
    coverage: float = COVERAGE,
    model: str | None = None,
    data: list[str] | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate every forecaster at the same origins. ``forecasters`` maps names to forecasters and
    must include ``persistence`` (every ratio and DM test is against it)."""
    if "persistence" not in forecasters:
        raise ModelError("walk_forward needs a 'persistence' forecaster to compare against")
    if stride < 1:
        raise DataError(f"stride {stride}: must be a positive number of minutes")
    shapes = {(f.window, f.horizon) for f in forecasters.values()}
    if len(shapes) != 1:
        raise ModelError(f"forecasters disagree on window/horizon: {sorted(shapes)}; evaluate them separately")
    window, horizon = shapes.pop()
    origins, skipped = valid_origins(candles, window, horizon, stride, start, end)
    if len(origins) == 0:
        raise DataError(f"no usable origins between {start} and {end} ({skipped} touch gaps); pick another range")
    feats = candle_features(candles)
    close = candles["close"].to_numpy("float64")
    logc = np.log(close)
    times = index_ns(candles.index)
    ks = np.arange(1, horizon + 1)
    actual = logc[origins[:, None] + ks] - logc[origins, None]
    c0 = close[origins]
    actual_price = close[origins[:, None] + ks]
    sigma = window_sigma(windows(feats[:, :1], origins, window)[..., 0])
    up = actual > 0
    flat = actual == 0
    rows, preds = [], {}
    items = list(forecasters.items())
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="forecasters", unit="model")
    errors = {}
    for name, f in items:
        mean = f.predict_origins(feats, logc, times, origins)
        preds[name] = (origins, mean)
        errors[name] = c0[:, None] * np.exp(mean) - actual_price
    base_err = errors["persistence"]
    for name, f in forecasters.items():
        _, mean = preds[name]
        err = errors[name]
        cal = f.calibration
        if cal is not None:
            lo, hi = cal.interval(mean, sigma, coverage)
            p_up = np.column_stack([cal.p_up(mean[:, j], sigma, horizon_index=j) for j in range(horizon)])
        for j, h in enumerate(ks):
            e = err[:, j]
            mae = float(np.mean(np.abs(e)))
            row = {"forecaster": name, "horizon": int(h), "mae": mae, "rmse": float(np.sqrt(np.mean(e**2))),
                   "mae_bps": float(np.mean(np.abs(e) / c0) * 1e4),
                   "mae_ratio_vs_persistence": _ratio(mae, float(np.mean(np.abs(base_err[:, j]))))}
            moving = ~flat[:, j] & (mean[:, j] != 0)
            n_dir = int(moving.sum())
            if n_dir and np.any(mean[:, j] != 0):
                hits = int((np.sign(mean[moving, j]) == np.sign(actual[moving, j])).sum())
                lo_ci, hi_ci = wilson_interval(hits, n_dir)
                row.update(direction_accuracy=hits / n_dir, direction_ci_low=lo_ci, direction_ci_high=hi_ci)
            else:
                row.update(direction_accuracy=math.nan, direction_ci_low=math.nan, direction_ci_high=math.nan)
            if cal is not None:
                inside = (actual[:, j] >= lo[:, j]) & (actual[:, j] <= hi[:, j])
                width = c0 * (np.exp(hi[:, j]) - np.exp(lo[:, j]))
                base_rate = up[:, j].mean()
                row.update(coverage=float(inside.mean()), interval_width=float(width.mean()),
                           brier=float(np.mean((p_up[:, j] - up[:, j]) ** 2)),
                           brier_base=float(np.mean((base_rate - up[:, j]) ** 2)))
            else:
                row.update(coverage=math.nan, interval_width=math.nan, brier=math.nan, brier_base=math.nan)
            row["dm_pvalue"] = math.nan if name == "persistence" else diebold_mariano(e, base_err[:, j], int(h))
            rows.append(row)
    table = pd.DataFrame(rows).set_index(["forecaster", "horizon"])[METRICS]
    return Evaluation(
        table=table, n_origins=len(origins), skipped=skipped, start=candles.index[origins[0]],
        end=candles.index[origins[-1]], model=model or next(iter(forecasters)), data=list(data or []),
        coverage=coverage, predictions=preds,
    )
