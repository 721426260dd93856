"""Forecasters on engineered inputs (cryptousd.forecast.engineered): they recover a planted
signal, read no future candle, go through walk_forward, save and load exactly, and refuse bad
inputs and foreign folders in one line.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryptousd import load_candles
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.errors import ModelError
from cryptousd.evaluation.evaluate import walk_forward
from cryptousd.forecast.baselines import Persistence
from cryptousd.forecast.engineered import (
    BASIC_INPUTS,
    EngineeredForecaster,
    LGBMDirection,
    LGBMForecaster,
    RidgeForecaster,
    default_inputs,
)
from cryptousd.forecast.inputs import input_matrix, lookback

DAY = 1440
PLANTED = ("ret", "range", "logvol", "tod_sin", "tod_cos", "ret_5", "rv_15")
FAST = {"max_rounds": 200, "patience": 20, "min_data_in_leaf": 100}


def planted_candles(days: int = 6, beta: float = -0.25, seed: int = 0) -> pd.DataFrame:
    """Minutes whose next return is ``beta`` times the last 5-minute return plus 5 bps noise."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    eps = rng.normal(0, 5e-4, n)
    r = np.zeros(n)
    for t in range(5, n):
        r[t] = beta * r[t - 5 : t].sum() + eps[t]
    close = 60_000 * np.exp(np.cumsum(r))
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rng.normal(0, 2e-4, (2, n)))
    index = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC", name="open_time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.lognormal(2, 0.5, n),
        },
        index=index,
    )


def arrays(candles, inputs):
    return (
        input_matrix(candles, inputs),
        np.log(candles["close"].to_numpy()),
        candles.index.asi8,
    )


def split(inputs, train_days=4, val_day=None):
    """Train origins in the first ``train_days`` days (after the lookback), val the next day."""
    val_day = train_days if val_day is None else val_day
    start = lookback(inputs) + 60
    train = np.arange(start, train_days * DAY - 10)
    val = np.arange(val_day * DAY + 10, (val_day + 1) * DAY - 10)
    return train, val


@pytest.fixture(scope="module")
def planted():
    return planted_candles()


@pytest.fixture(scope="module")
def sample():
    """The real sample with a synthetic taker-buy volume (seeded share of each minute's volume)."""
    c = load_candles(SAMPLE_FILE)
    c["taker_buy"] = c["volume"] * np.random.default_rng(1).uniform(0, 1, len(c))
    return c


@pytest.fixture(scope="module")
def fitted_planted(planted):
    feats, logc, times = arrays(planted, PLANTED)
    train, val = split(PLANTED)
    models = {
        "ridge": RidgeForecaster(PLANTED, "ridge").fit_origins(feats, logc, times, train, val),
        "lgbm": LGBMForecaster(PLANTED, "lgbm", objective="l2", **FAST).fit_origins(
            feats, logc, times, train, val
        ),
    }
    for m in models.values():
        m.calibrate(feats, logc, times, val)
    return models


@pytest.fixture(scope="module")
def fitted_sample(sample):
    inputs = default_inputs(sample)
    feats, logc, times = arrays(sample, inputs)
    train, val = split(inputs, train_days=5)
    ridge = RidgeForecaster(inputs).fit_origins(feats, logc, times, train, val)
    lgbm = LGBMForecaster(inputs, stride=2, **FAST).fit_origins(feats, logc, times, train, val)
    for m in (ridge, lgbm):
        m.calibrate(feats, logc, times, val)
    return {"ridge": ridge, "lgbm": lgbm}


def test_ridge_recovers_the_planted_signal(fitted_planted):
    ridge = fitted_planted["ridge"]
    coef = ridge.coefficients()
    assert coef.loc["ret_5", 1] < 0  # beta < 0: mean reversion of the last 5 minutes
    assert abs(coef.loc["ret_5", 1]) == coef[1].abs().max()
    assert ridge.fit_info["val_mse_ratio"][0] < 0.95
    assert set(ridge.fit_info) >= {"alpha", "n_train", "n_val", "val_mse_zero_bps2", "seconds"}


@pytest.mark.parametrize("name", ["ridge", "lgbm"])
def test_walk_forward_beats_persistence_on_the_planted_signal(planted, fitted_planted, name):
    model = fitted_planted[name]
    ev = walk_forward(
        planted,
        {"persistence": Persistence(), name: model},
        start=planted.index[5 * DAY],
        progress=False,
    )
    ratio = ev.table.loc[name, "mae_ratio_vs_persistence"]
    assert ratio.loc[1] < 0.97 and (ratio < 1).all()
    assert np.isfinite(ev.table.loc[name, "coverage"]).all()


def test_lgbm_recovers_the_planted_signal(fitted_planted):
    lgbm = fitted_planted["lgbm"]
    gain = lgbm.feature_importance()
    assert gain[1].idxmax() == "ret_5"
    assert lgbm.fit_info["val_mse_ratio"][0] < 0.95
    assert lgbm.fit_info["objective"] == "l2" and len(lgbm.fit_info["best_iteration"]) == 10


def test_real_sample_gives_finite_predictions(sample, fitted_sample):
    inputs = default_inputs(sample)
    assert "taker_share_15" in inputs and "trades_rel" in inputs
    feats, logc, times = arrays(sample, inputs)
    origins = np.arange(6 * DAY, len(sample) - 10)
    for name, m in fitted_sample.items():
        mean = m.predict_origins(feats, logc, times, origins)
        assert mean.shape == (len(origins), 10) and mean.dtype == np.float64
        assert np.isfinite(mean).all(), name
        assert np.abs(mean).max() < 0.01  # under 100 bps
    info = fitted_sample["lgbm"].fit_info
    assert info["objective"] in ("l2", "huber") and set(info["objective_trial_val_mse_bps2"]) == {
        "l2",
        "huber",
    }
    assert info["stride"] == 2 and info["n_val"] == DAY - 20
    assert info["n_train_used"] == (info["n_train"] + 1) // 2


def test_inputs_without_taker_buy():
    candles = load_candles(SAMPLE_FILE)
    assert any(n.startswith("taker") for n in default_inputs(candles))  # the archive has it
    candles = candles.drop(columns=["taker_buy"])
    inputs = default_inputs(candles)
    assert inputs[0] == "ret" and not any(n.startswith("taker") for n in inputs)
    assert set(BASIC_INPUTS) <= set(inputs)
    input_matrix(candles, inputs)  # computes without the column


def test_future_candles_do_not_move_a_prediction(sample, fitted_sample):
    inputs = default_inputs(sample)
    origin = 6 * DAY + 123
    changed = sample.copy()
    changed.iloc[origin + 1 :, :4] *= 1.05
    changed.iloc[origin + 1 :, changed.columns.get_loc("volume")] *= 3
    for m in fitted_sample.values():
        a = m.predict_origins(*arrays(sample, inputs), np.array([origin]))
        b = m.predict_origins(*arrays(changed, inputs), np.array([origin]))
        np.testing.assert_array_equal(a, b)  # same inputs, same calls: exact


def test_predict_on_candles_equals_predict_origins(sample, fitted_sample):
    inputs = default_inputs(sample)
    feats, logc, times = arrays(sample, inputs)
    origin = 6 * DAY + 500
    for m in fitted_sample.values():
        fc = m.predict(sample.iloc[: origin + 1])
        want = m.predict_origins(feats, logc, times, np.array([origin]))[0]
        close = sample["close"].iloc[origin]
        np.testing.assert_allclose(np.log(fc.close.to_numpy() / close), want, atol=1e-12)
        # only the window plus the inputs' lookback is read
        rows = m.window + lookback(inputs)
        fc2 = m.predict(sample.iloc[origin + 1 - rows : origin + 1])
        np.testing.assert_allclose(fc2.close.to_numpy(), fc.close.to_numpy(), rtol=1e-12)


def test_base_inputs_predict_through_the_window_path(planted):
    base = ("ret", "range", "logvol", "tod_sin", "tod_cos")
    feats, logc, times = arrays(planted, base)
    train, val = split(base)
    m = RidgeForecaster(base).fit_origins(feats, logc, times, train, val)
    m.calibrate(feats, logc, times, val)
    origin = 5 * DAY
    fc = m.predict(planted.iloc[: origin + 1])
    want = m.predict_origins(feats, logc, times, np.array([origin]))[0]
    np.testing.assert_allclose(np.log(fc.close.to_numpy() / fc.last_close), want, atol=1e-12)


@pytest.mark.parametrize("name", ["ridge", "lgbm"])
def test_save_load_round_trip(tmp_path, sample, fitted_sample, name):
    m = fitted_sample[name]
    folder = m.to_folder(tmp_path / name)
    card = json.loads((folder / "card.json").read_text())
    assert card["kind"] == m.kind and card["inputs"] == list(m.inputs)
    assert card["fit_info"]["n_train"] == m.fit_info["n_train"]
    back = EngineeredForecaster.from_folder(folder)
    assert type(back) is type(m) and back.inputs == m.inputs
    feats, logc, times = arrays(sample, m.inputs)
    origins = np.arange(6 * DAY, len(sample) - 10)
    np.testing.assert_array_equal(  # the same weights through the same calls: exact
        back.predict_origins(feats, logc, times, origins),
        m.predict_origins(feats, logc, times, origins),
    )
    np.testing.assert_array_equal(back.calibration.quantiles, m.calibration.quantiles)
    m.to_folder(tmp_path / name)  # replacing a folder works
    assert type(m).from_folder(tmp_path / name).fitted


def test_nan_inputs_are_refused_in_one_line(sample, fitted_sample):
    m = fitted_sample["ridge"]
    feats, logc, times = arrays(sample, m.inputs)
    with pytest.raises(ModelError, match=r"input ret_5 is NaN or infinite at 1 of 2 origin") as exc:
        m.predict_origins(feats, logc, times, np.array([3, 7000]))
    assert "\n" not in str(exc.value)
    train, val = split(m.inputs, train_days=5)
    with pytest.raises(ModelError, match=r"NaN at \d+ train origin") as exc:
        RidgeForecaster(m.inputs).fit_origins(feats, logc, times, np.arange(0, 2000), val)
    assert "\n" not in str(exc.value)
    with pytest.raises(ModelError, match="rows after it"):
        RidgeForecaster(m.inputs).fit_origins(feats, logc, times, train, np.array([len(logc) - 3]))


def test_bad_models_and_folders_are_refused_in_one_line(tmp_path, fitted_sample):
    with pytest.raises(ModelError, match="must start with 'ret'"):
        RidgeForecaster(("range", "ret"))
    with pytest.raises(ModelError, match="not fitted"):
        RidgeForecaster().predict_rows(np.zeros((1, len(BASIC_INPUTS))))
    ridge = fitted_sample["ridge"].to_folder(tmp_path / "ridge")
    with pytest.raises(ModelError, match="engineered_ridge model, not one of engineered_lgbm") as e:
        LGBMForecaster.from_folder(ridge)
    assert "\n" not in str(e.value)
    lstm = tmp_path / "lstm"
    lstm.mkdir()
    (lstm / "card.json").write_text(json.dumps({"name": "lstm", "variant": "lstm"}))
    with pytest.raises(ModelError, match="load it with its own loader"):
        EngineeredForecaster.from_folder(lstm)
    with pytest.raises(ModelError, match="no card.json"):
        EngineeredForecaster.from_folder(tmp_path / "nothing")
    (tmp_path / "lgbm").mkdir()
    (tmp_path / "lgbm" / "card.json").write_text(
        json.dumps({**json.loads((ridge / "card.json").read_text()), "kind": "engineered_lgbm"})
    )
    (ridge / "card.json").replace(tmp_path / "spare.json")
    np.savez(tmp_path / "lgbm" / "weights.npz", best_iteration=np.zeros(10, dtype=int))
    with pytest.raises(ModelError, match="missing booster_h01.txt"):
        EngineeredForecaster.from_folder(tmp_path / "lgbm")


def test_direction_classifier(tmp_path, planted):
    feats, logc, times = arrays(planted, PLANTED)
    train, val = split(PLANTED)
    m = LGBMDirection(PLANTED, **FAST).fit_origins(feats, logc, times, train, val)
    origins = np.arange(5 * DAY, 6 * DAY - 10)
    p = m.predict_proba_origins(feats, origins)
    assert p.shape == (len(origins), 2) and ((p >= 0) & (p <= 1)).all()
    up1 = logc[origins + 1] > logc[origins]
    assert ((p[:, 0] > 0.5) == up1).mean() > 0.6
    assert m.fit_info["val_brier"][0] < m.fit_info["val_brier_base"][0]
    back = EngineeredForecaster.from_folder(m.to_folder(tmp_path / "dir"))
    assert isinstance(back, LGBMDirection) and back.horizons == (1, 10)
    np.testing.assert_array_equal(back.predict_proba_origins(feats, origins), p)
    with pytest.raises(ModelError, match="direction classifier"):
        m.predict_origins(feats, logc, times, origins)
