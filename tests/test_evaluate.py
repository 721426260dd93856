"""Walk-forward evaluation: exact identities, leakage detection, hand-computed metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, ModelError, fill_gaps, load_forecaster
from cryptousd.evaluation.evaluate import (
    EXTRA,
    METRICS,
    LookAheadForecaster,
    block_bootstrap_ci,
    diebold_mariano,
    valid_origins,
    walk_forward,
    wilson_interval,
)
from cryptousd.forecast import Drift, Persistence
from cryptousd.forecast.features import candle_features


class Leaky(LookAheadForecaster):
    """Reads the future on purpose (nudged off exact zero so it always calls a direction)."""

    name = "leaky"

    def predict_origins(self, feats, logc, times_ns, origins, chunk=8192):
        return super().predict_origins(feats, logc, times_ns, origins) + 1e-6


def calibrated(candles, *models):
    feats, logc = candle_features(candles), np.log(candles["close"].to_numpy())
    times = candles.index.as_unit("ns").asi8
    for m in models:
        m.calibrate(feats, logc, times, np.arange(59, len(candles) - 11, 2))
    return models


@pytest.fixture
def forecasters(candles):
    p, d = calibrated(candles.iloc[:2000], Persistence(), Drift())
    return {"drift": d, "persistence": p}


def test_persistence_ratio_to_itself_is_exactly_one(candles, forecasters):
    ev = walk_forward(candles, forecasters, start=candles.index[2000])
    assert (ev.table.loc["persistence", "mae_ratio_vs_persistence"] == 1.0).all()
    assert (
        ev.table.loc["persistence", "direction_accuracy"].isna().all()
    )  # persistence never calls a direction
    assert ev.table.loc["persistence", "dm_pvalue"].isna().all()


def test_a_leaky_forecaster_scores_far_better(candles, forecasters):
    ev = walk_forward(candles, {**forecasters, "leaky": Leaky()}, start=candles.index[2000])
    leaky = ev.table.loc["leaky"]
    assert (leaky["mae_ratio_vs_persistence"] < 0.01).all() and (
        leaky["direction_accuracy"] > 0.99
    ).all()
    honest = ev.table.loc["drift"]
    assert (honest["mae_ratio_vs_persistence"] > 0.9).all()


def test_the_look_ahead_forecaster_cannot_forecast_live(candles):
    with pytest.raises(ModelError, match="cannot forecast live"):
        LookAheadForecaster().predict_cum(None, None, None)


def test_json_shape(candles, forecasters, tmp_path):
    ev = walk_forward(
        candles, forecasters, start=candles.index[3000], stride=5, data=["x.zip"], model="drift"
    )
    d = ev.to_dict()
    assert set(d) >= {"model", "data", "start", "end", "n_origins", "skipped", "results"}
    assert set(d["results"]) == {"drift", "persistence"} and list(d["results"]["drift"]) == [
        str(h) for h in range(1, 11)
    ]
    diag = d["results"]["drift"]["10"]
    assert set(diag) == set(METRICS) | set(EXTRA) | {
        "coverage_by_vol_quintile",
        "n_by_vol_quintile",
        "coverage_by_hour",
        "n_by_hour",
    }
    assert len(diag["coverage_by_vol_quintile"]) == 5 and len(diag["coverage_by_hour"]) == 24
    assert isinstance(diag["direction_ci_method"], str) and isinstance(diag["dm_note"], str)
    assert d["results"]["persistence"]["3"]["direction_accuracy"] is None
    ev.to_json(tmp_path / "e.json")
    assert (tmp_path / "e.json").read_text().startswith("{")


def test_origins_touching_a_gap_are_skipped_and_counted(candles):
    holed, _ = fill_gaps(candles.drop(candles.index[1000]))
    origins, skipped = valid_origins(holed, 60, 10, 1)
    assert skipped == 70  # 60 windows and 10 horizons contain minute 1000
    assert not np.any((origins >= 990) & (origins <= 1059))


def test_metrics_on_a_hand_computed_case():
    idx = pd.date_range("2025-01-01", periods=72, freq="1min", tz="UTC", name="open_time").as_unit(
        "ns"
    )
    close = np.full(72, 100.0)
    close[60:] = [101, 99, 102, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    c = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx
    )
    ev = walk_forward(
        c, {"persistence": Persistence()}, start=idx[59], end=idx[60]
    )  # one origin, t = 59
    row = ev.table.loc[("persistence", 1)]
    assert (
        ev.n_origins == 1
        and row["mae"] == pytest.approx(1.0)
        and row["mae_bps"] == pytest.approx(100.0)
    )
    assert ev.table.loc[("persistence", 3), "rmse"] == pytest.approx(2.0)


def test_wilson_and_dm():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    from scipy.stats import binomtest

    ci = binomtest(37, 80).proportion_ci(method="wilson")
    assert wilson_interval(37, 80) == (ci.low, ci.high)
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 5000)
    assert diebold_mariano(base * 0.5, base, 1) < 1e-6  # clearly better
    same = diebold_mariano(rng.normal(0, 1, 5000), rng.normal(0, 1, 5000), 1)
    assert same > 0.01
    assert math.isnan(diebold_mariano(base, base, 1))


def test_bad_requests(candles, forecasters):
    with pytest.raises(ModelError, match="needs a 'persistence'"):
        walk_forward(candles, {"drift": forecasters["drift"]})
    with pytest.raises(DataError, match="too few candles"):
        walk_forward(candles.iloc[:65], forecasters)
    with pytest.raises(DataError, match="is after the data, which end at"):
        walk_forward(candles, forecasters, start="2030-01-01")
    with pytest.raises(DataError, match="is not after start"):
        walk_forward(candles, forecasters, start=candles.index[100], end=candles.index[90])
    with pytest.raises(DataError, match="positive"):
        walk_forward(candles, forecasters, stride=0)


def test_default_model_on_real_data_is_compared_on_the_same_origins(real_candles):
    from cryptousd import load_baselines

    m = load_forecaster()
    ev = walk_forward(real_candles.iloc[:5000], {m.name: m, **load_baselines()}, stride=7)
    n = ev.table.groupby(level=0).size()
    assert (n == 10).all() and len(n) == 4
    cov = ev.table["coverage"]
    assert ((cov > 0.6) & (cov < 0.95)).all()
    assert (
        ev.table["mae_ratio_vs_persistence"] > 0.9
    ).all()  # nobody beats persistence by much at minute scale


def test_direction_ci_overlapping_horizons_use_a_block_bootstrap_wider_than_wilson(
    candles, forecasters
):
    ev = walk_forward(candles, forecasters, start=candles.index[2000])
    t = ev.table.loc["drift"]
    # h = 1 with origins a minute apart: outcomes do not overlap, Wilson from scipy
    one = t.loc[1]
    assert one["direction_ci_method"].startswith("wilson")
    actual = np.diff(np.log(candles["close"].to_numpy()))
    n1 = int(np.count_nonzero(actual[2000 : 2000 + ev.n_origins]))  # drift always calls one
    lo, hi = wilson_interval(round(one["direction_accuracy"] * n1), n1)
    assert (one["direction_ci_low"], one["direction_ci_high"]) == pytest.approx((lo, hi))
    # h = 10: ten-minute outcomes started every minute share nine minutes
    ten = t.loc[10]
    assert ten["direction_ci_method"].startswith("moving-block bootstrap: blocks of ")
    assert ten["direction_ci_low"] < ten["direction_accuracy"] < ten["direction_ci_high"]
    n10 = ev.n_origins  # a close-to-close move over ten minutes is never exactly flat here
    w_lo, w_hi = wilson_interval(round(ten["direction_accuracy"] * n10), n10)
    assert ten["direction_ci_high"] - ten["direction_ci_low"] > 1.5 * (w_hi - w_lo)
    # origins ten minutes apart do not overlap again
    sparse = walk_forward(candles, forecasters, start=candles.index[2000], stride=10)
    assert sparse.table.loc[("drift", 10), "direction_ci_method"].startswith("wilson")


def test_block_bootstrap_is_wider_than_wilson_on_strongly_overlapping_data():
    rng = np.random.default_rng(1)
    hits = np.repeat(rng.random(600) < 0.55, 10)  # each outcome shared by ten origins
    used = np.ones_like(hits)
    est = hits.mean()
    lo, hi = block_bootstrap_ci(hits, used, block=20)
    w_lo, w_hi = wilson_interval(int(hits.sum()), len(hits))
    assert lo < est < hi and hi - lo > 2 * (w_hi - w_lo)
    # about sqrt(10) wider: the 6000 origins carry 600 outcomes' worth of information
    i_lo, i_hi = wilson_interval(int(hits[::10].sum()), 600)
    assert 0.7 < (hi - lo) / (i_hi - i_lo) < 1.3
    assert block_bootstrap_ci(hits, used, block=20) == (lo, hi)  # fixed seed
    assert math.isnan(block_bootstrap_ci(hits, np.zeros_like(used), block=20)[0])


class Calls(Persistence):
    """Calls a scripted direction per row, on a one-minute window and a two-minute horizon."""

    name = "calls"
    window, horizon = 1, 2

    def __init__(self, values):
        self.values = np.asarray(values, "float64")

    def predict_origins(self, feats, logc, times_ns, origins, chunk=8192):
        return np.repeat(self.values[origins, None], self.horizon, axis=1) * 1e-3


def small_frame(close):
    idx = pd.date_range("2025-01-01", periods=len(close), freq="1min", tz="UTC", name="open_time")
    close = np.asarray(close, "float64")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0},
        index=idx.as_unit("ns"),
    )


def test_majority_baseline_and_base_rate_by_hand():
    # rows 0-5 train (up, up, down, up, up, then row 5 -> 6 up); origins 6 .. 12 are evaluated
    c = small_frame([100, 101, 102, 101, 102, 103, 104, 103, 102, 101, 102, 101, 100, 100, 100])
    p = Persistence()
    p.window, p.horizon = 1, 2
    fs = {"persistence": p, "calls": Calls(np.ones(len(c)))}  # always calls up
    t = walk_forward(c, fs, start=c.index[6]).table
    # h = 1: before origin 6, 5 of 6 one-minute moves are up -> the training majority is up.
    # After it: 104>103>102>101<102>101>100=100: 1 up, 5 down, 1 flat (excluded).
    row = t.loc[("calls", 1)]
    assert row["direction_accuracy"] == pytest.approx(1 / 6)
    assert row["direction_majority_baseline"] == pytest.approx(1 / 6)  # always up
    assert row["direction_base_rate"] == pytest.approx(5 / 6)  # always down, in hindsight
    # h = 2: training moves 100->102 up, two flat, 101->103 and 102->104 up -> up;
    # evaluated: 104->102, 103->101, 102=102, 101=101, 102->100, 101->100, 100=100: 4 down
    row = t.loc[("calls", 2)]
    assert row["direction_accuracy"] == 0 and row["direction_majority_baseline"] == 0
    assert row["direction_base_rate"] == 1
    # persistence calls nothing: the baselines still read every non-flat move
    assert t.loc[("persistence", 1), "direction_majority_baseline"] == pytest.approx(1 / 6)
    assert math.isnan(t.loc[("persistence", 1), "direction_accuracy"])
    # told that the training period mostly went down, the baseline calls down
    told = walk_forward(c, fs, start=c.index[6], train_up_rate=0.2).table
    assert told.loc[("calls", 1), "direction_majority_baseline"] == pytest.approx(5 / 6)
    # nothing before the first origin: no training majority to call
    alone = walk_forward(c, fs, start=c.index[0]).table
    assert math.isnan(alone.loc[("calls", 1), "direction_majority_baseline"])
    with pytest.raises(DataError, match="between 0 and 1"):
        walk_forward(c, fs, train_up_rate=1.5)


def dm_by_hand(e1, e2, h):
    """Diebold-Mariano with the HLN correction, written out term by term."""
    n = len(e1)
    d = [a * a - b * b for a, b in zip(e1, e2)]
    dbar = sum(d) / n
    gamma = []
    for k in range(h):  # autocovariances 0 .. h-1 of the loss differential
        gamma.append(sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n)
    long_run = gamma[0] + 2 * sum(gamma[1:])
    dm = dbar / math.sqrt(long_run / n)
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    from scipy.stats import t as student

    return 2 * (1 - student.cdf(abs(hln), df=n - 1)), long_run


def test_diebold_mariano_at_h3_against_a_hand_computation():
    base = [1.0, -2.0, 3.0, 1.0, 0.5, -1.0, 2.0, -1.5, 1.0, 0.5, -2.0, 1.0]
    model = [0.9, -1.0, 2.0, 1.2, 0.1, -0.5, 2.1, -1.0, 0.2, 0.6, -1.0, 0.8]
    p3, v3 = dm_by_hand(model, base, 3)
    p1, _ = dm_by_hand(model, base, 1)
    assert v3 > 0 and p3 != pytest.approx(p1)  # the MA(2) terms matter here
    assert diebold_mariano(np.array(model), np.array(base), 3) == pytest.approx(p3, rel=1e-12)
    assert diebold_mariano(np.array(model), np.array(base), 1) == pytest.approx(p1, rel=1e-12)


def test_coverage_by_volatility_quintile_and_hour_average_back_to_coverage(candles, forecasters):
    ev = walk_forward(candles, forecasters, start=candles.index[2000])
    d = ev.to_dict()
    for h in (1, 5, 10):
        diag = d["results"]["drift"][str(h)]
        cov = d["results"]["drift"][str(h)]["coverage"]
        q, nq = np.array(diag["coverage_by_vol_quintile"]), np.array(diag["n_by_vol_quintile"])
        assert len(q) == 5 and nq.sum() == ev.n_origins and nq.max() - nq.min() <= 1
        assert (q * nq).sum() / nq.sum() == pytest.approx(cov, rel=1e-12)
        hr, nh = np.array(diag["coverage_by_hour"], dtype=float), np.array(diag["n_by_hour"])
        assert len(hr) == 24 and nh.sum() == ev.n_origins
        assert np.nansum(hr * nh) / nh.sum() == pytest.approx(cov, rel=1e-12)
        row = ev.table.loc[("drift", h)]
        c0 = candles["close"].iloc[2000 : 2000 + ev.n_origins].mean()
        width_bps = row["interval_width"] / c0 * 1e4
        assert row["interval_width_bps"] == pytest.approx(width_bps, rel=0.02)


def test_a_missing_dm_pvalue_says_why_and_never_reads_as_tied(candles, forecasters):
    same = calibrated(candles.iloc[:2000], Persistence())[0]
    ev = walk_forward(candles, {**forecasters, "copy": same}, start=candles.index[3000], stride=5)
    t = ev.table
    assert t.loc[("copy", 1), "dm_note"] == "not tested: identical errors at every origin"
    assert t.loc[("persistence", 1), "dm_note"].startswith("reference")
    assert (t.loc["drift", "dm_note"] == "tested").all()
    text = json.dumps(ev.to_dict()) + ev.summary().to_string()
    assert "tie" not in text.lower()


def test_block_bootstrap_equals_gluing_the_drawn_blocks_one_replicate_at_a_time():
    from cryptousd.evaluation.evaluate import bootstrap_starts

    rng = np.random.default_rng(4)
    hits, used = rng.random(1003) < 0.5, rng.random(1003) < 0.8
    block, resamples = 7, 200
    starts = bootstrap_starts(len(hits), block, resamples, seed=9)
    ratios = []
    for row in starts:  # glue the blocks of each replicate literally
        idx = np.concatenate([np.arange(s, s + block) for s in row])
        ratios.append((hits & used)[idx].sum() / used[idx].sum())
    expected = tuple(np.quantile(ratios, [0.025, 0.975]))
    got = block_bootstrap_ci(hits, used, block, resamples=resamples, seed=9)
    assert got == expected


def test_chunked_evaluation_equals_one_chunk_and_shows_progress(
    candles, forecasters, monkeypatch, capsys
):
    import cryptousd.evaluation.evaluate as ev_mod

    whole = walk_forward(candles, forecasters, start=candles.index[2000], progress=False)
    monkeypatch.setattr(ev_mod, "CHUNK_ORIGINS", 97)
    chunked = walk_forward(candles, forecasters, start=candles.index[2000], progress=True)
    pd.testing.assert_frame_equal(whole.table, chunked.table)
    # persistence and drift are elementwise (no BLAS): the same operations in the same order
    # whatever the chunk, so exact
    for name, (origins, mean) in whole.predictions.items():
        np.testing.assert_array_equal(chunked.predictions[name][1], mean)
    assert "forecasting" in capsys.readouterr().err
