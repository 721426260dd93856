"""The research protocol: every candidate against persistence, chosen on validation, tested once.

One run (:func:`run`) does, with fixed seeds:

1. **Splits by time** (:class:`Ranges`): training 2024, validation 2025-01, test 2025-02..03 and,
   where the data have it, a later range 2025-04..05 that nothing was chosen on. Training origins
   whose 10-minute targets would reach into validation are *purged*; validation, test and later
   origins start an *embargo* (60 minutes, at least the horizon) after their range begins, and end
   ``horizon`` minutes before it ends, so no target is shared across ranges. Inputs may look back
   across a boundary (that is information available at the origin).
2. **Fit** each candidate (:data:`CANDIDATES`) on training origins; every choice a model makes
   (ridge penalty, boosting rounds, epochs) is made on validation origins only.
3. **Intervals that use the model**: a :class:`~cryptousd.forecast.scale.ScaleModel` of each
   candidate's own errors, fitted on training origins, then split-conformal quantiles on
   validation (``persistence+vol`` is persistence with such a model, to separate the two effects).
4. **Evaluate** all candidates on the same origins of each range with
   :func:`cryptousd.evaluation.evaluate.walk_forward` (MAE ratio and Diebold-Mariano p against
   persistence,
   direction accuracy with overlap-aware intervals beside the training majority, coverage and
   width) and backtest them after costs (:func:`cryptousd.evaluation.backtest.backtest_all`).
   Direction classifiers (:data:`DIRECTION_CANDIDATES`) are scored on the same origins
   against the training majority (accuracy with overlap-aware intervals, AUC, Brier skill).
   Two variations: ``<model>+2023`` is fitted on 2023 and 2024 where the data have 2023, and
   ``<model>@monthly`` is refitted every month on everything before it (rolling origin: a test
   month becomes training data for the months after it, as it would in use).
5. **Choose** on validation only: the candidate with the lowest 10-minute MAE ratio. It would
   replace the shipped default only if it beats persistence at 10 minutes (ratio < 1, DM p < 0.05)
   on validation *and* test.
6. **Record**: every run appends its rows to ``runs/research/results.csv`` and every touch of the
   test range to ``runs/research/test-log.csv`` (how many times each configuration has seen the
   test range is a column of the results); fitted models go to ``runs/research/<run>/models``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import RUNS_DIR, SHARED_DATA_DIR
from ..errors import DataError, ModelError
from ..evaluation.backtest import backtest_all
from ..evaluation.evaluate import Evaluation, valid_origins, walk_forward
from ..forecast.base import Forecaster
from ..forecast.baselines import Drift, Persistence
from ..forecast.features import FEATURES, series_arrays
from ..forecast.inputs import FLOW_INPUTS, PRICE_INPUTS, input_matrix, lookback, missing_columns
from ..forecast.scale import ScaleModel
from ..times import to_utc

HORIZONS_SHOWN = (1, 5, 10)
DECISION_HORIZON = 10  # the horizon the dashboard shows; a new default must win here
ALPHA = 0.05


@dataclass(frozen=True)
class Ranges:
    """[start, end) of each range, UTC; ``later`` is skipped where the data end before it."""

    train: tuple[str, str] = ("2024-01-01", "2025-01-01")
    val: tuple[str, str] = ("2025-01-01", "2025-02-01")
    test: tuple[str, str] = ("2025-02-01", "2025-04-01")
    later: tuple[str, str] | None = ("2025-04-01", "2025-06-01")


#: a split inside the 7-day sample shipped with the package, for quick runs on a fresh clone
SAMPLE_RANGES = Ranges(
    ("2025-03-25", "2025-03-29"),
    ("2025-03-29", "2025-03-30 12:00"),
    ("2025-03-30 12:00", "2025-04-01"),
    None,
)


@dataclass
class Config:
    ranges: Ranges = field(default_factory=Ranges)
    models: tuple[str, ...] = (
        "ridge-price",
        "ridge-flow",
        "lgbm-flow",
        "lstm-flow",
        "gru-flow",
    )
    #: direction classifiers (LightGBM) scored against the training majority at 1 and 10 min
    direction_models: tuple[str, ...] = ("lgbm-dir-price", "lgbm-dir-flow")
    #: a longer training history (2023 + 2024) for these candidates, named ``<model>+2023``
    long_history: tuple[str, str] | None = ("2023-01-01", "2025-01-01")
    long_models: tuple[str, ...] = ("ridge-flow", "lgbm-flow")
    #: candidates also refitted every month (training up to a month before, early stopping on
    #: that month, predicting the next), named ``<model>@monthly``
    refit_monthly: tuple[str, ...] = ()
    embargo: int = 60  # minutes; at least the horizon
    seed: int = 0
    stride_engineered: int = 3  # training origins of ridge and LightGBM, minutes apart
    stride_neural: int = 15  # training windows of the recurrent nets, minutes apart
    stride_val: int = 3  # validation windows the nets' early stopping reads
    epochs: int = 8
    coverage: float = 0.8
    fee_bps: float = 10.0
    slippage_bps: float = 1.0
    allow_short: bool = True  # a forecast of a fall is a signal too
    scale_stride: int = 10  # training origins the error-scale models are fitted on
    out: Path = RUNS_DIR / "research"

    def fingerprint(self, model: str) -> str:
        """A short hash of what defines one model's fit and its test evaluation: the model, the
        ranges, embargo, seed, its training strides (and epochs for the nets), the error-scale
        model and the coverage; not fees, nor which other models ran beside it."""
        base = model.split("+")[0].split("@")[0]
        d = {
            "model": model,
            "ranges": asdict(self.ranges),
            "embargo": self.embargo,
            "seed": self.seed,
            "scale_stride": self.scale_stride,
            "coverage": self.coverage,
        }
        if base in NEURAL:
            d.update(stride=self.stride_neural, stride_val=self.stride_val, epochs=self.epochs)
        elif base in CANDIDATES or base in DIRECTION_CANDIDATES:
            d.update(stride=self.stride_engineered)
        if model.endswith("+2023"):
            d.update(long_history=self.long_history)
        return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


# ---- candidates ---------------------------------------------------------------------------------


def _engineered(kind: str, inputs: tuple[str, ...]) -> Callable[[str, Config], object]:
    def build(name: str, cfg: Config):
        from ..forecast import engineered

        cls = {"ridge": engineered.RidgeForecaster, "lgbm": engineered.LGBMForecaster}[kind]
        return cls(inputs=inputs, name=name)

    return build


def _neural(cell: str, inputs: tuple[str, ...]) -> Callable[[str, Config], object]:
    def build(name: str, cfg: Config):
        from ..forecast.neural import NeuralForecaster

        return NeuralForecaster(cell=cell, inputs=inputs, name=name)

    return build


CANDIDATES: dict[str, Callable[[str, Config], object]] = {
    "ridge-price": _engineered("ridge", PRICE_INPUTS),
    "ridge-flow": _engineered("ridge", FLOW_INPUTS),
    "lgbm-price": _engineered("lgbm", PRICE_INPUTS),
    "lgbm-flow": _engineered("lgbm", FLOW_INPUTS),
    "lstm-base": _neural("lstm", tuple(FEATURES)),
    "lstm-flow": _neural("lstm", FLOW_INPUTS),
    "gru-flow": _neural("gru", FLOW_INPUTS),
}
"""Every model the protocol knows, by name: ``<model>-<inputs>``."""

NEURAL = {"lstm-base", "lstm-flow", "gru-flow"}

DIRECTION_CANDIDATES: dict[str, tuple[str, ...]] = {
    "lgbm-dir-price": PRICE_INPUTS,
    "lgbm-dir-flow": FLOW_INPUTS,
}
"""LightGBM direction classifiers, by the inputs they read."""
DIRECTION_HORIZONS = (1, 10)


# ---- data ---------------------------------------------------------------------------------------

EXTRA_DIR = SHARED_DATA_DIR / "binance" / "BTCUSDT-1m-extra"


def research_files(data=None) -> tuple[list[Path], str]:
    """The archive files to research on and a line saying which: what ``data`` names (see
    :func:`cryptousd.data.locate.locate_candles`), else the located archives plus the extra months
    (2023, 2025-04..05) where ``../shared`` has them, else the shipped 7-day sample."""
    from ..data.locate import locate_candles

    loc = locate_candles(data, files_only=True)
    files = loc.files()
    if data is None and not loc.is_sample:
        files = files + sorted(EXTRA_DIR.glob("BTCUSDT-1m-*.zip"))
    by_name = {f.name: f for f in files}
    files = [by_name[k] for k in sorted(by_name)]
    what = (
        str(loc)
        if len(files) == len(loc.files())
        else f"{loc} + {len(files) - len(loc.files())} more months ({EXTRA_DIR.name})"
    )
    return files, what


# ---- splits -------------------------------------------------------------------------------------


def range_origins(
    candles: pd.DataFrame, rng: tuple[str, str], *, rows_before: int, horizon: int, embargo: int
) -> np.ndarray:
    """Origins whose window (``rows_before`` rows up to the origin) and targets avoid gaps, from
    ``embargo`` minutes after the range starts to ``horizon`` minutes before it ends (purged)."""
    start = to_utc(rng[0]) + pd.Timedelta(minutes=embargo)
    end = to_utc(rng[1]) - pd.Timedelta(minutes=horizon)
    origins, _ = valid_origins(candles, rows_before, horizon, 1, start, end)
    return origins


def check_ranges(
    candles: pd.DataFrame, ranges: Ranges, say: Callable[[str], None] = print
) -> Ranges:
    """The ranges, in order and inside the data (``later`` dropped, with a line saying so, when
    the data end before it does); a one-line error otherwise."""
    first, last = candles.index[0], candles.index[-1]
    cover = f"the data cover {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
    named = [("training", ranges.train), ("validation", ranges.val), ("test", ranges.test)]
    prev_end = None
    for what, (a, b) in named:
        a, b = to_utc(a), to_utc(b)
        if b <= a:
            raise DataError(f"{what} range ends before it starts ({a} .. {b}); swap them")
        if prev_end is not None and a < prev_end:
            raise DataError(f"{what} range starts before the previous one ends; keep them in order")
        if a < first - pd.Timedelta(days=1) or b > last + pd.Timedelta(minutes=2):
            raise DataError(
                f"{what} range {a:%Y-%m-%d} .. {b:%Y-%m-%d} is outside the data ({cover}); "
                "load more months or give ranges inside them (--train/--val/--test START END)"
            )
        prev_end = b
    later = ranges.later
    if later is not None and to_utc(later[0]) < prev_end:
        raise DataError(
            f"the later range {later[0]} .. {later[1]} starts before the test range ends; "
            "it must be data nothing was chosen or tested on"
        )
    if later is not None and to_utc(later[1]) > last + pd.Timedelta(minutes=2):
        say(
            f"later range {later[0]} .. {later[1]} skipped: the data end "
            f"{last:%Y-%m-%d %H:%M} (fetch those months to use it)"
        )
        later = None
    return Ranges(ranges.train, ranges.val, ranges.test, later)


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class Result:
    """What one run produced; :attr:`table` is the tidy results table (one row per range, model
    and horizon), :attr:`backtests` one row per range and model."""

    run_id: str
    config: Config
    forecasters: dict
    evaluations: dict[str, Evaluation]
    table: pd.DataFrame
    backtests: pd.DataFrame
    direction: pd.DataFrame  # one row per range, classifier and horizon
    directions: dict  # the fitted direction classifiers, by name
    fit_seconds: dict[str, float]
    choice: dict
    folder: Path | None = None

    def summary(self, range_name: str = "test", horizons=HORIZONS_SHOWN) -> pd.DataFrame:
        """MAE ratio, DM p, direction accuracy beside the majority, coverage and width."""
        t = self.table
        t = t[(t["range"] == range_name) & t["horizon"].isin(horizons)]
        cols = [
            "mae_ratio",
            "dm_pvalue",
            "direction_accuracy",
            "direction_ci_low",
            "direction_ci_high",
            "majority",
            "coverage",
            "width_bps",
        ]
        return t.set_index(["model", "horizon"])[cols]


def _fit_one(f, feats, arr, train, val, cfg: Config, progress) -> None:
    if not hasattr(f, "fit_origins"):
        return
    if f.name in NEURAL or type(f).__name__ == "NeuralForecaster":
        f.fit_origins(
            feats,
            arr.logc,
            arr.times,
            train[:: cfg.stride_neural],
            val[:: cfg.stride_val],
            seed=cfg.seed,
            progress=progress,
            epochs=cfg.epochs,
        )
    else:
        f.fit_origins(
            feats,
            arr.logc,
            arr.times,
            train[:: cfg.stride_engineered],
            val,
            seed=cfg.seed,
            progress=progress,
        )


def run(
    candles: pd.DataFrame,
    config: Config | None = None,
    *,
    shipped: dict | None = None,
    progress: bool | None = None,
    save: bool = True,
    say: Callable[[str], None] = print,
) -> Result:
    """Run the protocol (see the module docstring) on one-minute ``candles``.

    ``shipped`` adds already-trained forecasters (e.g. the shipped LSTM and its baselines, by
    name), evaluated beside the candidates but not refitted. ``save`` writes the run under
    ``config.out`` and logs the touch of the test range before evaluating it; ``save=False``
    writes nothing at all (for experiments: a result that is reported comes from a saved run).
    """
    cfg = config or Config()
    if cfg.embargo < 10:
        raise DataError(f"embargo {cfg.embargo} minutes: give at least the horizon (10)")
    unknown = [
        m for m in (*cfg.models, *cfg.long_models, *cfg.refit_monthly) if m not in CANDIDATES
    ] + [m for m in cfg.direction_models if m not in DIRECTION_CANDIDATES]
    if unknown:
        raise DataError(
            f"unknown model(s) {', '.join(unknown)}; forecasters: {', '.join(CANDIDATES)}; "
            f"direction classifiers: {', '.join(DIRECTION_CANDIDATES)}"
        )
    if Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise DataError(f"out {cfg.out}: that is a file; give a folder for the run's record")
    ranges = check_ranges(candles, cfg.ranges, say)
    run_id = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
    n = 1
    while (Path(cfg.out) / run_id).exists():  # two runs in one second
        n += 1
        run_id = f"{run_id.split('-')[0]}-{n}"
    arr = series_arrays(candles)

    # 1. every model this run will fit, so that all of them read the same origins
    def usable(f) -> bool:
        lacking = missing_columns(candles, f.inputs)
        if lacking:
            say(f"{f.name}: skipped, the candles lack {', '.join(lacking)}")
        return not lacking

    built = {m: f for m in cfg.models if usable(f := CANDIDATES[m](m, cfg))}
    long_ok = cfg.long_history is not None and to_utc(cfg.long_history[0]) >= candles.index[
        0
    ] - pd.Timedelta(days=1)
    if cfg.long_history and not long_ok:
        say(f"longer history skipped: the data start {candles.index[0]:%Y-%m-%d}")
    longs = {
        f"{m}+2023": f
        for m in (cfg.long_models if long_ok else ())
        if usable(f := CANDIDATES[m](f"{m}+2023", cfg))
    }
    for m in cfg.refit_monthly:
        if m not in built:
            say(f"{m}@monthly: skipped, {m} is not among this run's models")
    from ..forecast.engineered import LGBMDirection

    directions = {
        m: d
        for m in cfg.direction_models
        if usable(
            d := LGBMDirection(inputs=DIRECTION_CANDIDATES[m], name=m, horizons=DIRECTION_HORIZONS)
        )
    }
    everyone = [*built.values(), *longs.values(), *directions.values()]
    rows_before = max([f.window + lookback(f.inputs) for f in everyone] + [60])
    cut = {
        k: range_origins(candles, r, rows_before=rows_before, horizon=10, embargo=e)
        for k, r, e in [
            ("train", ranges.train, 0),
            ("val", ranges.val, cfg.embargo),
            ("test", ranges.test, cfg.embargo),
            *([("later", ranges.later, cfg.embargo)] if ranges.later else []),
        ]
    }
    for k, o in cut.items():
        if len(o) < 200:
            raise DataError(
                f"the {k} range has {len(o)} usable origins; give it more candles (at least a day)"
            )
    say(
        "origins: "
        + ", ".join(f"{k} {len(o):,d} ({candles.index[o[0]]:%Y-%m-%d} ..)" for k, o in cut.items())
    )

    feats_cache: dict[tuple, np.ndarray] = {}

    def feats_of(f) -> np.ndarray:
        if f.inputs not in feats_cache:
            feats_cache[f.inputs] = input_matrix(candles, f.inputs)
        return feats_cache[f.inputs]

    # 2. fit on training origins (choices on validation)
    forecasters: dict = {"persistence": Persistence()}
    persist_vol = Persistence()
    persist_vol.name = "persistence+vol"
    forecasters["persistence+vol"] = persist_vol
    forecasters["drift"] = Drift()
    fit_seconds: dict[str, float] = {}
    for name, f in (shipped or {}).items():
        if name != "persistence":
            forecasters[name] = f

    def fit(name, f, train, val):
        step = cfg.stride_neural if (name.split("+")[0] in NEURAL) else cfg.stride_engineered
        say(
            f"fitting {name} on {len(train[::step]):,d} of {len(train):,d} training origins "
            f"(one in {step}) ..."
        )
        t0 = time.perf_counter()
        _fit_one(f, feats_of(f), arr, train, val, cfg, progress)
        fit_seconds[name] = time.perf_counter() - t0
        forecasters[name] = f

    for name, f in built.items():
        fit(name, f, cut["train"], cut["val"])
    if longs:
        long_train = range_origins(
            candles,
            (cfg.long_history[0], ranges.train[1]),
            rows_before=rows_before,
            horizon=10,
            embargo=0,
        )
        for name, f in longs.items():
            fit(name, f, long_train, cut["val"])
    monthly = {}
    for m in cfg.refit_monthly:
        if m in built:
            t0 = time.perf_counter()
            f = _monthly(m, built[m], candles, arr, feats_of(built[m]), ranges, cfg, say, progress)
            fit_seconds[f.name] = time.perf_counter() - t0
            forecasters[f.name] = monthly[f.name] = f
    for m, d in directions.items():
        say(f"fitting {m} ...")
        t0 = time.perf_counter()
        d.fit_origins(
            feats_of(d),
            arr.logc,
            arr.times,
            cut["train"][:: cfg.stride_engineered],
            cut["val"],
            seed=cfg.seed,
            progress=progress,
        )
        fit_seconds[m] = time.perf_counter() - t0

    # 3. intervals: an error-scale model per fitted candidate (and persistence+vol), fitted on
    # training origins, then split-conformal quantiles on validation
    fitted = {**built, **longs}
    scale_origins = cut["train"][:: cfg.scale_stride]
    for name, f in forecasters.items():
        if isinstance(f, MonthlyRefit):
            f.scale_model, f.calibration = f.base.scale_model, f.base.calibration
            continue
        if name in fitted or name == "persistence+vol":
            fx = feats_of(f)
            pred = f.predict_origins(fx, arr.logc, arr.times, scale_origins)
            f.scale_model = ScaleModel.fit(arr.logc, arr.times, scale_origins, pred)
        if f.calibration is None or name in fitted or name == "persistence+vol":
            f.calibrate(feats_of(f), arr.logc, arr.times, cut["val"])

    # 4. every model on the same origins of each range; the test range is logged as touched
    # before it is evaluated
    up_rates = np.array([_train_up_rate(arr.logc, cut["train"], h) for h in range(1, 11)])
    evaluations: dict[str, Evaluation] = {}
    backtests = []
    for k in ("val", "test", "later"):
        if k not in cut:
            continue
        if k == "test" and save:
            _log_touch(cfg, run_id, [*forecasters, *directions])
        o = cut[k]
        start, end = candles.index[o[0]], candles.index[o[-1]] + pd.Timedelta(minutes=1)
        say(f"evaluating on {k}: {len(o):,d} origins ...")
        ev = walk_forward(
            candles,
            forecasters,
            start=start,
            end=end,
            coverage=cfg.coverage,
            model="research",
            progress=progress,
            train_up_rate=up_rates,
            rows_before=rows_before,
            input_cache=feats_cache,
        )
        if not np.array_equal(ev.predictions["persistence"][0], o):
            raise DataError(
                f"the {k} evaluation used other origins than the protocol's; this is a bug: "
                "please report it with the ranges given"
            )
        evaluations[k] = ev
        for fee, slip in ((cfg.fee_bps, cfg.slippage_bps), (0.0, 0.0)):
            bt = backtest_all(
                candles,
                forecasters,
                start=start,
                end=end,
                fee_bps=fee,
                slippage_bps=slip,
                allow_short=cfg.allow_short,
                forecasts=ev.predictions,
                input_cache=feats_cache,
            )
            for name, r in bt.results.items():
                st = r.stats()
                backtests.append(
                    {
                        "range": k,
                        "model": name,
                        "cost_bps_per_side": fee + slip,
                        **{c: st[c] for c in ("total_return", "trades", "exposure", "sharpe")},
                    }
                )

    direction = _direction_table(directions, feats_of, arr, cut, evaluations)
    table = _tidy(evaluations, run_id, cfg, forecasters)
    touches = _touches(cfg)
    table["test_touches"] = table["fingerprint"].map(touches).fillna(0).astype(int)
    result = Result(
        run_id=run_id,
        config=cfg,
        forecasters=forecasters,
        evaluations=evaluations,
        table=table,
        backtests=pd.DataFrame(backtests),
        direction=direction,
        directions=directions,
        fit_seconds=fit_seconds,
        choice=choose(table, list(fitted)),  # not the monthly refits: they learn from test months
    )
    if save:
        result.folder = _save(result, candles)
    return result


def _direction_table(directions, feats_of, arr, cut, evaluations) -> pd.DataFrame:
    """Direction classifiers (and the training majority) on each range's evaluation origins,
    scored like notebook 05: accuracy with overlap-aware intervals, AUC, Brier skill."""
    from ..evaluation.direction import direction_scores

    rows = []
    for k, ev in evaluations.items():
        origins = ev.predictions["persistence"][0]
        for j, h in enumerate(DIRECTION_HORIZONS):
            ret = arr.logc[origins + h] - arr.logc[origins]
            up_rate = _train_up_rate(arr.logc, cut["train"], h)
            probs = {
                m: d.predict_proba_origins(feats_of(d), origins)[:, j]
                for m, d in directions.items()
            }
            probs["majority"] = np.full(len(origins), up_rate)
            for m, p in probs.items():
                sc = direction_scores(p, ret, h, 1, up_rate, {})
                rows.append(
                    {
                        "range": k,
                        "model": m,
                        "horizon": h,
                        "n": sc["n"],
                        "accuracy": sc["direction_accuracy"],
                        "ci_low": sc["direction_ci_low"],
                        "ci_high": sc["direction_ci_high"],
                        "majority": sc["direction_majority_baseline"],
                        "auc": sc["roc_auc"],
                        "brier_skill": sc["brier_skill"],
                    }
                )
    return pd.DataFrame(rows)


class MonthlyRefit(Forecaster):
    """A candidate refitted every month: each month's origins are forecast by the model fitted on
    everything up to the month before (early-stopped on that month); origins before the first
    refit use the candidate fitted on the training range. Intervals: the candidate's."""

    def __init__(self, name: str, base, months: list[tuple[int, object]]):
        self.name, self.base, self.months = name, base, months  # (first open time ns, model)
        self.inputs, self.window, self.horizon = base.inputs, base.window, base.horizon

    def predict_cum(self, feats, logc, next_time_ns):
        raise ModelError(
            f"{self.name} forecasts at origins of one series (predict_origins), not one window"
        )

    def predict_origins(self, feats, logc, times_ns, origins, chunk: int = 8192):
        out = self.base.predict_origins(feats, logc, times_ns, origins)
        t = times_ns[origins]
        for a, f in self.months:
            use = t >= a
            if use.any():
                out[use] = f.predict_origins(feats, logc, times_ns, origins[use])
        return out


def _monthly(m, base, candles, arr, feats, ranges, cfg, say, progress) -> MonthlyRefit:
    """Refit ``base``'s kind every month from the second month after validation to the data's
    end (the first month after validation is what ``base`` itself was fitted for)."""
    first = to_utc(ranges.val[1]) + pd.DateOffset(months=1)
    last = to_utc((ranges.later or ranges.test)[1])
    months = []
    for start in pd.date_range(first, last - pd.Timedelta(minutes=1), freq="MS"):
        prev = start - pd.DateOffset(months=1)
        rows_before = 60 + lookback(base.inputs)
        train = range_origins(
            candles, (ranges.train[0], prev), rows_before=rows_before, horizon=10, embargo=0
        )
        val = range_origins(
            candles, (prev, start), rows_before=rows_before, horizon=10, embargo=cfg.embargo
        )
        f = CANDIDATES[m](m, cfg)
        say(f"{m}@monthly: fitting for {start:%Y-%m} on {len(train):,d} origins, val {prev:%Y-%m}")
        _fit_one(f, feats, arr, train, val, cfg, progress)
        months.append((start.value, f))
    return MonthlyRefit(f"{m}@monthly", base, months)


def _train_up_rate(logc: np.ndarray, train: np.ndarray, h: int = 10) -> float:
    """Share of up moves among the training origins' h-minute moves (flat ones excluded)."""
    move = logc[train + h] - logc[train]
    moving = move != 0
    return float((move[moving] > 0).mean()) if moving.any() else 0.5


def _tidy(evaluations: dict, run_id: str, cfg: Config, forecasters: dict) -> pd.DataFrame:
    rows = []
    for k, ev in evaluations.items():
        t = ev.table
        for (name, h), r in t.iterrows():
            rows.append(
                {
                    "run": run_id,
                    "range": k,
                    "model": name,
                    "horizon": int(h),
                    "origins": ev.n_origins,
                    "mae_bps": r["mae_bps"],
                    "mae_ratio": r["mae_ratio_vs_persistence"],
                    "dm_pvalue": r["dm_pvalue"],
                    "direction_accuracy": r["direction_accuracy"],
                    "direction_ci_low": r["direction_ci_low"],
                    "direction_ci_high": r["direction_ci_high"],
                    "majority": r["direction_majority_baseline"],
                    "base_rate": r["direction_base_rate"],
                    "coverage": r["coverage"],
                    "width_bps": r["interval_width_bps"],
                    "inputs": len(forecasters[name].inputs),
                    "fingerprint": cfg.fingerprint(name),
                }
            )
    return pd.DataFrame(rows)


def beats(table: pd.DataFrame, model: str, range_name: str, h: int = DECISION_HORIZON) -> bool:
    """MAE ratio below 1 with a Diebold-Mariano p below 0.05 at horizon ``h``."""
    r = table[(table["range"] == range_name) & (table["model"] == model) & (table["horizon"] == h)]
    if r.empty:
        return False
    ratio, p = float(r["mae_ratio"].iloc[0]), float(r["dm_pvalue"].iloc[0])
    return ratio < 1 and not math.isnan(p) and p < ALPHA


def choose(table: pd.DataFrame, candidates: list[str]) -> dict:
    """The candidate with the lowest validation MAE ratio at the decision horizon, and whether it
    earns the default: significant on validation and on test."""
    val = table[(table["range"] == "val") & (table["horizon"] == DECISION_HORIZON)]
    val = val[val["model"].isin(candidates)]
    if val.empty:
        return {"best": None, "ship": False, "why": "no candidate was fitted"}
    best = str(val.sort_values("mae_ratio", kind="stable")["model"].iloc[0])
    on_val, on_test = beats(table, best, "val"), beats(table, best, "test")
    ship = on_val and on_test
    why = (
        f"{best} beats persistence at {DECISION_HORIZON} min on validation and test "
        "(validation also tuned it, so the test range is the real check)"
        if ship
        else f"{best} (best on validation) does not beat persistence significantly at "
        f"{DECISION_HORIZON} min on "
        + " and ".join(w for w, ok in (("validation", on_val), ("test", on_test)) if not ok)
        + "; the shipped default stays"
    )
    return {
        "best": best,
        "ship": ship,
        "why": why,
        "beats_on_val": on_val,
        "beats_on_test": on_test,
    }


def _save(result: Result, candles: pd.DataFrame) -> Path:
    from ..files import atomic_write, write_json

    cfg = result.config
    out = Path(cfg.out)
    folder = out / result.run_id
    (folder / "models").mkdir(parents=True, exist_ok=True)
    for name, f in result.forecasters.items():
        if hasattr(f, "to_folder"):
            f.to_folder(folder / "models" / name)
            if f.scale_model is not None:
                write_json(folder / "models" / name / "scale.json", f.scale_model.to_dict())
    for name, d in result.directions.items():
        d.to_folder(folder / "models" / name)
    for k, ev in result.evaluations.items():
        ev.to_json(folder / f"evaluation-{k}.json")
    write_json(
        folder / "run.json",
        {
            "run": result.run_id,
            "config": {**asdict(cfg), "out": str(cfg.out)},
            "data": f"{candles.index[0]} .. {candles.index[-1]}",
            "fit_seconds": result.fit_seconds,
            "choice": result.choice,
            "fit_info": {
                n: getattr(f, "fit_info", None)
                for n, f in result.forecasters.items()
                if getattr(f, "fit_info", None)
            },
        },
    )
    res_path = out / "results.csv"
    old = pd.read_csv(res_path) if res_path.exists() else pd.DataFrame()
    allrows = pd.concat([old, result.table], ignore_index=True)
    atomic_write(res_path, lambda p: allrows.to_csv(p, index=False, float_format="%.6g"))
    return folder


def load_model(folder) -> Forecaster:
    """A research model folder written by a run (``runs/research/<run>/models/<name>``), with its
    error-scale model, so its intervals are the ones the run evaluated."""
    from ..forecast.engineered import EngineeredForecaster
    from ..forecast.neural import NeuralForecaster

    folder = Path(folder)
    card_path = folder / "card.json"
    if not card_path.exists():
        raise ModelError(f"{folder}: no card.json; give a folder under runs/research/<run>/models")
    kind = str(json.loads(card_path.read_text()).get("kind", ""))
    f = (NeuralForecaster if kind == "neural" else EngineeredForecaster).from_folder(folder)
    if (folder / "scale.json").exists():
        f.scale_model = ScaleModel.from_dict(json.loads((folder / "scale.json").read_text()))
    return f


def _log_touch(cfg: Config, run_id: str, models) -> None:
    """Append one line per model to ``test-log.csv`` before the test range is evaluated."""
    from ..files import atomic_write

    path = Path(cfg.out) / "test-log.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    log = pd.read_csv(path) if path.exists() else pd.DataFrame()
    new = pd.DataFrame(
        [
            {
                "run": run_id,
                "time": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                "model": m,
                "fingerprint": cfg.fingerprint(m),
            }
            for m in models
        ]
    )
    log = pd.concat([log, new], ignore_index=True)
    atomic_write(path, lambda p: log.to_csv(p, index=False))


def _touches(cfg: Config) -> pd.Series:
    """How many times each fingerprint has seen the test range."""
    path = Path(cfg.out) / "test-log.csv"
    if not path.exists():
        return pd.Series(dtype=int)
    return pd.read_csv(path).groupby("fingerprint").size()
