"""Walk-forward evaluation: exact identities, leakage detection, hand-computed metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, ModelError, fill_gaps, load_forecaster
from cryptousd.evaluate import (
    METRICS, LookAheadForecaster, diebold_mariano, valid_origins, walk_forward, wilson_interval,
)
from cryptousd.features import candle_features
from cryptousd.forecast import Drift, Persistence


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
    assert ev.table.loc["persistence", "direction_accuracy"].isna().all()  # persistence never calls a direction
    assert ev.table.loc["persistence", "dm_pvalue"].isna().all()


def test_a_leaky_forecaster_scores_far_better(candles, forecasters):
    ev = walk_forward(candles, {**forecasters, "leaky": Leaky()}, start=candles.index[2000])
    leaky = ev.table.loc["leaky"]
    assert (leaky["mae_ratio_vs_persistence"] < 0.01).all() and (leaky["direction_accuracy"] > 0.99).all()
    honest = ev.table.loc["drift"]
    assert (honest["mae_ratio_vs_persistence"] > 0.9).all()


def test_the_look_ahead_forecaster_cannot_forecast_live(candles):
    with pytest.raises(ModelError, match="cannot forecast live"):
        LookAheadForecaster().predict_cum(None, None, None)


def test_json_shape(candles, forecasters, tmp_path):
    ev = walk_forward(candles, forecasters, start=candles.index[3000], stride=5, data=["x.zip"], model="drift")
    d = ev.to_dict()
    assert set(d) >= {"model", "data", "start", "end", "n_origins", "skipped", "results"}
    assert set(d["results"]) == {"drift", "persistence"} and list(d["results"]["drift"]) == [str(h) for h in range(1, 11)]
    assert set(d["results"]["drift"]["1"]) == set(METRICS)
    assert d["results"]["persistence"]["3"]["direction_accuracy"] is None
    ev.to_json(tmp_path / "e.json")
    assert (tmp_path / "e.json").read_text().startswith("{")


def test_origins_touching_a_gap_are_skipped_and_counted(candles):
    holed, _ = fill_gaps(candles.drop(candles.index[1000]))
    origins, skipped = valid_origins(holed, 60, 10, 1)
    assert skipped == 70  # 60 windows and 10 horizons contain minute 1000
    assert not np.any((origins >= 990) & (origins <= 1059))


def test_metrics_on_a_hand_computed_case():
    idx = pd.date_range("2025-01-01", periods=72, freq="1min", tz="UTC", name="open_time").as_unit("ns")
    close = np.full(72, 100.0)
    close[60:] = [101, 99, 102, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    c = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx)
    ev = walk_forward(c, {"persistence": Persistence()}, start=idx[59], end=idx[60])  # one origin, t = 59
    row = ev.table.loc[("persistence", 1)]
    assert ev.n_origins == 1 and row["mae"] == pytest.approx(1.0) and row["mae_bps"] == pytest.approx(100.0)
    assert ev.table.loc[("persistence", 3), "rmse"] == pytest.approx(2.0)


def test_wilson_and_dm():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
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
    with pytest.raises(DataError, match="too few candles"):
        walk_forward(candles, forecasters, start="2030-01-01")
    with pytest.raises(DataError, match="positive"):
        walk_forward(candles, forecasters, stride=0)


def test_default_model_on_real_data_is_compared_on_the_same_origins(month_2025_02):
    from cryptousd import Forecaster, load_baselines

    m = load_forecaster()
    ev = walk_forward(month_2025_02.iloc[:5000], {m.name: m, **load_baselines()}, stride=7)
    n = ev.table.groupby(level=0).size()
    assert (n == 10).all() and len(n) == 4
    cov = ev.table["coverage"]
    assert ((cov > 0.6) & (cov < 0.95)).all()
    assert (ev.table["mae_ratio_vs_persistence"] > 0.9).all()  # nobody beats persistence by much at minute scale
