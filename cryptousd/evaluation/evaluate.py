"""Walk-forward evaluation of forecasters against the baselines, on the same origins.

At every origin ``t`` (every ``stride`` minutes) each forecaster sees rows ``t-W+1 .. t`` only and
forecasts closes ``t+1 .. t+H``. Origins whose window or horizon touches a gap (a filled candle or a
hole in the index) are skipped and counted. Metrics per horizon:

- MAE and RMSE of the close in USD, MAE in basis points of the last close, MAE / persistence's MAE;
- direction accuracy (flat actual moves and origins where the forecaster calls no direction
  excluded) with a 95 % interval that respects overlap: h-minute outcomes started every minute
  share minutes, so they are not independent trials. When origins are at least h minutes apart
  (``stride >= h``, e.g. h = 1) the outcomes do not overlap and the interval is Wilson's (scipy);
  otherwise it is a percentile moving-block bootstrap (blocks of ``max(ceil(h / stride),
  ceil(n ** (1/3)))`` consecutive origins, 1000 resamples, fixed seed). ``direction_ci_method``
  says which;
- beside it, ``direction_majority_baseline``: the accuracy of always calling the majority direction
  of the training period (``train_up_rate``, or measured on the candles before the first origin),
  and ``direction_base_rate``: that of always calling the evaluated range's own majority
  direction (an upper bound no constant call can beat), both on the same origins;
- coverage and mean width of the prediction interval (USD and ``interval_width_bps``), and in
  :meth:`Evaluation.to_dict` coverage by quintile of the window's volatility (sigma, the scale the
  interval is calibrated on) and by UTC hour of the origin;
- a Diebold-Mariano test of squared errors against persistence (Harvey-Leybourne-Newbold
  small-sample version, with the MA(k-1) long-run variance that overlapping forecasts need,
  k = ceil(h / stride) origins overlapping). A missing p-value is *not a tie*: ``dm_note`` says
  why it is missing;
- for P(up) at that horizon, the Brier score beside that of the constant base rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..config import COVERAGE
from ..data.candles import frame_interval
from ..errors import DataError, ModelError
from ..forecast.base import Forecaster
from ..forecast.features import FEATURES, series_arrays, windows
from ..forecast.inputs import input_matrix, lookback
from ..forecast.intervals import window_sigma
from ..times import index_ns

METRICS = [
    "mae",
    "rmse",
    "mae_bps",
    "mae_ratio_vs_persistence",
    "direction_accuracy",
    "direction_ci_low",
    "direction_ci_high",
    "coverage",
    "interval_width",
    "dm_pvalue",
    "brier",
    "brier_base",
]
# more columns of Evaluation.table, written beside METRICS in each result row by to_dict
EXTRA = [
    "direction_ci_method",
    "direction_majority_baseline",
    "direction_base_rate",
    "interval_width_bps",
    "dm_note",
]
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's), NaN when there are no trials."""
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def block_length(h: int, stride: int, n: int) -> int:
    """Bootstrap block length in origins: at least the overlap ``ceil(h / stride)``, and n^(1/3)."""
    return max(math.ceil(h / stride), math.ceil(n ** (1 / 3)), 1)


def block_bootstrap_ci(
    hits: np.ndarray,
    used: np.ndarray,
    block: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    starts: np.ndarray | None = None,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile moving-block bootstrap interval of ``sum(hits) / sum(used)`` over a series.

    Parameters
    ----------
    hits, used : (n,) booleans in time order; ``hits`` counts only where ``used``.
    block : consecutive observations per block (>= the number of outcomes that overlap).
    resamples, seed : bootstrap replicates and the seed of their block starts.
    starts : (resamples, ceil(n / block)) block starts to use instead (shared across series).

    Each replicate glues ``ceil(n / block)`` blocks drawn with replacement. The sums of every
    possible block come from cumulative sums first (hits and used side by side); the draws form a
    sparse matrix, and one sparse product sums every replicate's blocks: no loop over
    replicates, one pass over the draws. The sums are whole numbers, exact in float64, so the
    result does not depend on the order of the additions.
    """
    used = np.asarray(used, dtype=bool)
    hits = np.asarray(hits, dtype=bool) & used
    n = len(used)
    if n == 0 or used.sum() == 0:
        return (math.nan, math.nan)
    block = int(min(max(block, 1), n))
    if starts is None:
        starts = bootstrap_starts(n, block, resamples, seed)
    csum = np.zeros((n + 1, 2))
    np.cumsum(np.column_stack([hits, used]), axis=0, out=csum[1:])
    block_sums = csum[block:] - csum[:-block]  # (n - block + 1, 2): every block's (hits, used)
    num, den = (_draw_matrix(starts, n - block + 1) @ block_sums).T
    ratio = num[den > 0] / den[den > 0]
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(ratio, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def _draw_matrix(starts: np.ndarray, n_blocks: int):
    """The block draws as a sparse (resamples, n_blocks) matrix: row r holds one 1 per block that
    replicate r drew (repeats add up), so ``matrix @ block_sums`` sums each replicate's blocks."""
    from scipy import sparse

    resamples, per_row = starts.shape
    indptr = np.arange(0, starts.size + 1, per_row)
    return sparse.csr_matrix(
        (np.ones(starts.size), starts.ravel(), indptr), shape=(resamples, n_blocks)
    )


def bootstrap_starts(
    n: int, block: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> np.ndarray:
    """Random block starts (resamples, ceil(n / block)) in ``0 .. n - block``."""
    block = int(min(max(block, 1), n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(resamples, math.ceil(n / block)))
    return starts.astype(np.int32) if n < 2**31 else starts  # the same draws, half the memory


def dm_note(e_model: np.ndarray, e_base: np.ndarray) -> str:
    """Why :func:`diebold_mariano` has or has no p-value: never read a missing one as a tie."""
    d = np.asarray(e_model) ** 2 - np.asarray(e_base) ** 2
    if len(d) < 10:
        return f"not tested: {len(d)} origins, the test needs at least 10"
    if not np.any(d):
        return "not tested: identical errors at every origin"
    return "tested"


def diebold_mariano(e_model: np.ndarray, e_base: np.ndarray, h: int) -> float:
    """Two-sided p-value of the HLN-corrected Diebold-Mariano test on squared errors.

    ``h`` is the number of consecutive forecasts whose outcomes overlap (the horizon in origins):
    the long-run variance adds the first ``h - 1`` autocovariances. NaN when the test cannot be
    run (fewer than 10 origins, identical errors, a non-positive variance); see :func:`dm_note`.
    """
    d = e_model**2 - e_base**2
    n = len(d)
    if n < 10 or not np.any(d):
        return math.nan
    dc = d - d.mean()
    # einsum, not BLAS: a threaded dot waits on busy cores and gains nothing at this size
    var = np.einsum("i,i->", dc, dc) / n
    for k in range(1, h):
        var += 2 * np.einsum("i,i->", dc[k:], dc[:-k]) / n
    if var <= 0:
        return math.nan
    dm = d.mean() / math.sqrt(var / n)
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(2 * stats.t.sf(abs(dm * correction), df=n - 1))


def valid_origins(
    candles: pd.DataFrame, window: int, horizon: int, stride: int, start=None, end=None
) -> tuple[np.ndarray, int]:
    """Origins in ``[start, end)`` whose window and horizon avoid gaps; returns (origins,
    skipped).
    """
    from ..times import to_utc

    idx = candles.index
    n = len(idx)
    bad = np.zeros(n, dtype=bool)
    if "filled" in candles.columns:
        bad |= candles["filled"].to_numpy(dtype=bool)
    step = pd.Timedelta(frame_interval(candles, default="1min")).value
    jump = np.r_[False, np.diff(index_ns(idx)) != step]  # row t follows a hole
    if start is not None and end is not None and to_utc(end) <= to_utc(start):
        raise DataError(f"end {end} is not after start {start}; give an end later than the start")
    if n and start is not None and to_utc(start) > idx[-1]:
        raise DataError(
            f"start {start} is after the data, which end at {idx[-1]:%Y-%m-%d %H:%M} UTC; "
            "pick an earlier start or load later data"
        )
    a = window - 1 if start is None else max(window - 1, int(idx.searchsorted(to_utc(start))))
    b = n - horizon if end is None else min(n - horizon, int(idx.searchsorted(to_utc(end))))
    if b <= a:
        raise DataError(
            f"too few candles for walk-forward evaluation: need {window} before and {horizon} "
            "after each origin "
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
        raise ModelError(
            "the look-ahead forecaster only exists inside walk_forward; it cannot forecast live"
        )

    def predict_origins(self, feats, logc, times_ns, origins, chunk: int = 8192):
        ks = np.arange(1, self.horizon + 1)
        return logc[origins[:, None] + ks] - logc[origins, None]


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


@dataclass
class Evaluation:
    """The result of :func:`walk_forward`: a tidy metrics table plus what was evaluated.

    ``details`` maps forecaster -> horizon -> lists (coverage by volatility quintile and by UTC
    hour, with the origins counted in each); :meth:`to_dict` writes them, the ``METRICS`` and the
    ``EXTRA`` columns in one row per forecaster and horizon under ``results``.
    """

    table: pd.DataFrame  # index (forecaster, horizon), columns METRICS + EXTRA
    n_origins: int
    skipped: int
    start: pd.Timestamp
    end: pd.Timestamp
    model: str
    data: list[str] = field(default_factory=list)
    coverage: float = COVERAGE
    predictions: dict = field(
        default_factory=dict, repr=False
    )  # name -> (origins, mean cum returns)
    details: dict = field(default_factory=dict, repr=False)  # name -> horizon -> lists
    stride: int = 1

    def to_dict(self) -> dict:
        results = {}
        for name in self.table.index.get_level_values(0).unique():
            sub = self.table.loc[name]
            results[name] = {
                str(h): {
                    **{m: _plain(sub.loc[h, m]) for m in [*METRICS, *EXTRA] if m in sub.columns},
                    **{
                        k: [_plain(x) for x in v]
                        for k, v in self.details.get(name, {}).get(int(h), {}).items()
                    },
                }
                for h in sub.index
            }
        return {
            "model": self.model,
            "data": self.data,
            "start": str(self.start),
            "end": str(self.end),
            "n_origins": self.n_origins,
            "skipped": self.skipped,
            "stride": self.stride,
            "coverage_nominal": self.coverage,
            "results": results,
        }

    def to_json(self, path) -> None:
        from ..files import write_json

        write_json(path, self.to_dict())

    def summary(self, horizons=(1, 5, 10)) -> pd.DataFrame:
        """A compact table: MAE in bps and its ratio to persistence, direction accuracy beside the
        training majority's, coverage. A missing ``dm_pvalue`` means untested, not tied."""
        cols = [
            "mae_bps",
            "mae_ratio_vs_persistence",
            "direction_accuracy",
            "direction_majority_baseline",
            "coverage",
            "dm_pvalue",
            "brier",
            "brier_base",
        ]
        sub = self.table.loc[(slice(None), list(horizons)), cols]
        return sub.astype(float).round(4)


def _plain(v):
    """A JSON-ready scalar: None for NaN, float for numbers, str for text."""
    if isinstance(v, str):
        return v
    return None if pd.isna(v) else float(v)


def train_up_rates(logc: np.ndarray, first_origin: int, horizon: int) -> np.ndarray:
    """Share of up moves among the non-flat h-minute moves that end by ``first_origin``, per h.

    NaN for a horizon with no such move (e.g. nothing before the first origin).
    """
    rates = np.full(horizon, np.nan)
    for h in range(1, horizon + 1):
        m = logc[h : first_origin + 1] - logc[: max(first_origin + 1 - h, 0)]
        moving = m[m != 0]
        if len(moving):
            rates[h - 1] = float((moving > 0).mean())
    return rates


def _binned_coverage(inside: np.ndarray, bins: np.ndarray, k: int) -> tuple[list, list]:
    """Coverage (NaN where empty) and origins counted in each of ``k`` bins."""
    n = np.bincount(bins, minlength=k)
    hits = np.bincount(bins, weights=inside.astype("float64"), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(n > 0, hits / np.maximum(n, 1), np.nan)
    return cov.tolist(), n.tolist()


# origins per batch of inference: bounds memory (the windows of one chunk, float64 and float32
# copies, are ~20 MB) whatever the range, and paces the progress bar
CHUNK_ORIGINS = 16_384
PROGRESS_MIN = 200_000  # origins x forecasters above which ``progress=None`` shows a bar


def predict_all(
    forecasters: dict,
    feats: np.ndarray,
    logc: np.ndarray,
    times_ns: np.ndarray,
    origins: np.ndarray,
    *,
    chunk: int | None = None,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """Every forecaster's mean cumulative log returns (B, horizon) at ``origins``, computed chunk
    by chunk (no Python work per origin; memory bounded by the chunk) with an optional bar."""
    chunk = chunk or CHUNK_ORIGINS
    n, horizon = len(origins), next(iter(forecasters.values())).horizon
    total = n * len(forecasters)
    out = {name: np.empty((n, horizon)) for name in forecasters}
    bar = None
    if progress or (progress is None and total > PROGRESS_MIN):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="forecasting", unit="origin", unit_scale=True)
    try:
        for i in range(0, n, chunk):
            o = origins[i : i + chunk]
            for name, f in forecasters.items():
                fx = feats[name] if isinstance(feats, dict) else feats
                out[name][i : i + len(o)] = f.predict_origins(fx, logc, times_ns, o)
                if bar is not None:
                    bar.set_postfix_str(name, refresh=False)
                    bar.update(len(o))
    finally:
        if bar is not None:
            bar.close()
    return out


def origin_sigma(ret: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """:func:`window_sigma` of the one-minute returns in each origin's window, chunk by chunk."""
    return np.concatenate(
        [
            window_sigma(windows(ret[:, None], origins[i : i + CHUNK_ORIGINS], window)[..., 0])
            for i in range(0, len(origins), CHUNK_ORIGINS)
        ]
    )


def inputs_of(
    candles: pd.DataFrame, forecasters: dict, base: np.ndarray, cache: dict | None = None
) -> dict:
    """Each forecaster's per-candle inputs: the base features, or its own columns (computed once
    per distinct set; ``cache`` maps input tuples to matrices already computed on ``candles``
    and keeps the new ones)."""
    cache = {} if cache is None else cache
    cache.setdefault(tuple(FEATURES), base)
    out = {}
    for name, f in forecasters.items():
        if f.inputs not in cache:
            cache[f.inputs] = input_matrix(candles, f.inputs)
        out[name] = cache[f.inputs]
    return out


def _scale_of(f: Forecaster, feats, logc, times, origins, window_scale) -> np.ndarray:
    """The forecaster's interval scale at every origin (the shared window volatility unless it
    models its own), chunk by chunk."""
    default = type(f).origin_scale is Forecaster.origin_scale and f.scale_model is None
    if default and f.inputs[:1] == ("ret",):
        return window_scale
    return np.concatenate(
        [
            f.origin_scale(feats, logc, times, origins[i : i + CHUNK_ORIGINS])
            for i in range(0, len(origins), CHUNK_ORIGINS)
        ]
    )


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
    progress: bool | None = None,
    train_up_rate: float | np.ndarray | None = None,
    rows_before: int = 0,
    input_cache: dict | None = None,
) -> Evaluation:
    """Evaluate every forecaster at the same origins.

    Parameters
    ----------
    candles : one-minute candles; rows before ``start`` serve as windows (and see below).
    forecasters : names to forecasters; must include ``persistence`` (every ratio and DM test
        is against it).
    start, end : first origin and end of the range (UTC, ``end`` exclusive).
    stride : minutes between evaluation origins.
    coverage : central coverage of the prediction intervals.
    model, data : labels written into the result.
    progress : show a progress bar (origins x forecasters) when there are more than
        ``PROGRESS_MIN`` of them; True forces it, False hides it.
    train_up_rate : share of up moves in the training period (one number, or one per horizon),
        which sets the direction of ``direction_majority_baseline`` (up when >= 0.5). When None
        it is
        measured per horizon on the candles before the first origin (all h-minute moves that end
        by it, flat ones excluded), i.e. the training period when ``candles`` start with it;
        NaN baselines when there are none.
    rows_before : candles each origin needs up to and including it (default: the longest
        window plus input look-back of the forecasters).
    input_cache : input tuples to their :func:`cryptousd.forecast.inputs.input_matrix` on
    ``candles``,
        shared between calls on the same candles (filled as needed).
    """
    if "persistence" not in forecasters:
        raise ModelError("walk_forward needs a 'persistence' forecaster to compare against")
    if stride < 1:
        raise DataError(f"stride {stride}: must be a positive number of minutes")
    if train_up_rate is not None and not np.all(
        (np.asarray(train_up_rate) >= 0) & (np.asarray(train_up_rate) <= 1)
    ):
        raise DataError(
            f"train_up_rate {train_up_rate}: give the training period's share of up "
            "moves, between 0 and 1"
        )
    shapes = {(f.window, f.horizon) for f in forecasters.values()}
    if len(shapes) != 1:
        raise ModelError(
            f"forecasters disagree on window/horizon: {sorted(shapes)}; evaluate them separately"
        )
    window, horizon = shapes.pop()
    # rows before a window: the inputs' look-back, or what the caller asks for (a protocol whose
    # other models read further back evaluates every model on the same origins)
    extra = max([lookback(f.inputs) for f in forecasters.values()] + [rows_before - window])
    origins, skipped = valid_origins(candles, window + extra, horizon, stride, start, end)
    if len(origins) == 0:
        raise DataError(
            f"no usable origins between {start} and {end} ({skipped} touch gaps); "
            "pick another range"
        )
    arr = series_arrays(candles)
    feats, close, logc, times = arr.feats, arr.close, arr.logc, arr.times
    ks = np.arange(1, horizon + 1)
    actual = logc[origins[:, None] + ks] - logc[origins, None]
    c0 = close[origins]
    actual_price = close[origins[:, None] + ks]
    sigma = origin_sigma(feats[:, 0], origins, window)
    feats_of = inputs_of(candles, forecasters, feats, input_cache)
    up = actual > 0
    n = len(origins)
    rank = np.empty(n, dtype=int)
    rank[np.argsort(sigma, kind="stable")] = np.arange(n)
    vol_bin = rank * 5 // n  # quintiles of equal size (to one origin)
    hour_bin = ((times[origins] // 3_600_000_000_000) % 24).astype(int)
    if train_up_rate is None:
        up_rates = train_up_rates(logc, int(origins[0]), horizon)
    else:
        up_rates = np.broadcast_to(np.asarray(train_up_rate, dtype=float), (horizon,)).copy()
    starts_cache: dict[int, np.ndarray] = {}
    rows, preds, details = [], {}, {}
    means = predict_all(forecasters, feats_of, logc, times, origins, progress=progress)
    errors = {}
    for name, mean in means.items():
        preds[name] = (origins, mean)
        errors[name] = c0[:, None] * np.exp(mean) - actual_price
    base_err = errors["persistence"]
    for name, f in forecasters.items():
        _, mean = preds[name]
        err = errors[name]
        cal = f.calibration
        details[name] = {}
        if cal is not None:
            scale = _scale_of(f, feats_of[name], logc, times, origins, sigma)
            lo, hi = cal.interval(mean, scale, coverage)
            p_up = np.column_stack(
                [cal.p_up(mean[:, j], scale, horizon_index=j) for j in range(horizon)]
            )
        for j, h in enumerate(ks):
            e = err[:, j]
            mae = float(np.mean(np.abs(e)))
            row = {
                "forecaster": name,
                "horizon": int(h),
                "mae": mae,
                "rmse": float(np.sqrt(np.mean(e**2))),
                "mae_bps": float(np.mean(np.abs(e) / c0) * 1e4),
                "mae_ratio_vs_persistence": _ratio(mae, float(np.mean(np.abs(base_err[:, j])))),
            }
            row.update(
                _direction(mean[:, j], actual[:, j], int(h), stride, up_rates[j], starts_cache)
            )
            if cal is not None:
                inside = (actual[:, j] >= lo[:, j]) & (actual[:, j] <= hi[:, j])
                rel_width = np.exp(hi[:, j]) - np.exp(lo[:, j])
                base_rate = up[:, j].mean()
                row.update(
                    coverage=float(inside.mean()),
                    interval_width=float((c0 * rel_width).mean()),
                    interval_width_bps=float(rel_width.mean() * 1e4),
                    brier=float(np.mean((p_up[:, j] - up[:, j]) ** 2)),
                    brier_base=float(np.mean((base_rate - up[:, j]) ** 2)),
                )
                by_vol, n_vol = _binned_coverage(inside, vol_bin, 5)
                by_hour, n_hour = _binned_coverage(inside, hour_bin, 24)
            else:
                row.update(
                    coverage=math.nan,
                    interval_width=math.nan,
                    interval_width_bps=math.nan,
                    brier=math.nan,
                    brier_base=math.nan,
                )
                by_vol, n_vol = [math.nan] * 5, np.bincount(vol_bin, minlength=5).tolist()
                by_hour, n_hour = [math.nan] * 24, np.bincount(hour_bin, minlength=24).tolist()
            details[name][int(h)] = {
                "coverage_by_vol_quintile": by_vol,
                "n_by_vol_quintile": n_vol,
                "coverage_by_hour": by_hour,
                "n_by_hour": n_hour,
            }
            if name == "persistence":
                row.update(
                    dm_pvalue=math.nan, dm_note="reference: every DM test is against persistence"
                )
            else:
                overlap = math.ceil(int(h) / stride)
                p = diebold_mariano(e, base_err[:, j], overlap)
                note = dm_note(e, base_err[:, j])
                if note == "tested" and math.isnan(p):
                    note = "not tested: the long-run variance is not positive"
                row.update(dm_pvalue=p, dm_note=note)
            rows.append(row)
    table = pd.DataFrame(rows).set_index(["forecaster", "horizon"])[METRICS + EXTRA]
    return Evaluation(
        table=table,
        n_origins=len(origins),
        skipped=skipped,
        start=candles.index[origins[0]],
        end=candles.index[origins[-1]],
        model=model or next(iter(forecasters)),
        data=list(data or []),
        coverage=coverage,
        predictions=preds,
        details=details,
        stride=stride,
    )


def _direction(
    pred: np.ndarray, actual: np.ndarray, h: int, stride: int, train_up: float, starts_cache: dict
) -> dict:
    """Direction accuracy, its overlap-aware 95 % interval and the two constant-call baselines.

    Scored on origins where the actual move is not flat and the forecaster calls a direction
    (for one that never calls any, the baselines use every non-flat move).
    """
    moving = (actual != 0) & (pred != 0)
    scored = moving if moving.any() else actual != 0
    n_dir = int(moving.sum())
    out = {
        "direction_accuracy": math.nan,
        "direction_ci_low": math.nan,
        "direction_ci_high": math.nan,
        "direction_ci_method": "none: no direction called",
        "direction_majority_baseline": math.nan,
        "direction_base_rate": math.nan,
    }
    if scored.any():
        share_up = float((actual[scored] > 0).mean())
        out["direction_base_rate"] = max(share_up, 1 - share_up)
        if not math.isnan(train_up):
            out["direction_majority_baseline"] = share_up if train_up >= 0.5 else 1 - share_up
    if n_dir == 0:
        return out
    hit = np.sign(pred) == np.sign(actual)
    hits = int((hit & moving).sum())
    if stride >= h:
        lo, hi = wilson_interval(hits, n_dir)
        method = "wilson: outcomes do not overlap"
    else:
        n = len(pred)
        block = min(block_length(h, stride, n), n)
        if block not in starts_cache:
            starts_cache[block] = bootstrap_starts(n, block)
        lo, hi = block_bootstrap_ci(hit, moving, block, starts=starts_cache[block])
        method = (
            f"moving-block bootstrap: blocks of {block} origins, {BOOTSTRAP_RESAMPLES} resamples"
        )
    out.update(
        direction_accuracy=hits / n_dir,
        direction_ci_low=lo,
        direction_ci_high=hi,
        direction_ci_method=method,
    )
    return out
