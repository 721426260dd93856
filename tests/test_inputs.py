"""The research inputs: causal (changing later candles moves nothing), defined after their lookback,
scale-free, and refused in one line where the candles lack a column they read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cryptousd as cu
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.errors import DataError
from cryptousd.forecast.inputs import ALL_INPUTS, INPUTS, input_matrix, lookback
from cryptousd.forecast.scale import ScaleModel, scale_features


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    c = cu.load_candles([SAMPLE_FILE]).iloc[:3000].copy()
    if "taker_buy" not in c.columns:  # older loaders: a seeded share of the real volume
        rng = np.random.default_rng(0)
        c["taker_buy"] = c["volume"] * rng.uniform(0, 1, len(c))
    return c


def _shake_after(c: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """The same candles up to row t; every later row replaced by a different valid market."""
    rng = np.random.default_rng(seed)
    out = c.copy()
    n = len(c) - t - 1
    close = c["close"].iloc[t] * np.exp(np.cumsum(rng.normal(0, 2e-3, n)))
    open_ = np.r_[c["close"].iloc[t], close[:-1]]
    out.iloc[t + 1 :, out.columns.get_loc("open")] = open_
    out.iloc[t + 1 :, out.columns.get_loc("close")] = close
    out.iloc[t + 1 :, out.columns.get_loc("high")] = np.maximum(open_, close) * 1.001
    out.iloc[t + 1 :, out.columns.get_loc("low")] = np.minimum(open_, close) * 0.999
    vol = rng.uniform(0, 50, n)
    out.iloc[t + 1 :, out.columns.get_loc("volume")] = vol
    out.iloc[t + 1 :, out.columns.get_loc("taker_buy")] = vol * rng.uniform(0, 1, n)
    out.iloc[t + 1 :, out.columns.get_loc("trades")] = rng.integers(0, 5000, n)
    return out


@pytest.mark.parametrize("name", ALL_INPUTS)
def test_each_input_ignores_the_future(candles, name):
    t = 1500
    before = input_matrix(candles, [name])[: t + 1, 0]
    after = input_matrix(_shake_after(candles, t, seed=1), [name])[: t + 1, 0]
    np.testing.assert_array_equal(before, after)  # the same rows, the same ops, in order: exact
    # and the shake really changed the value after t, so the check could fail
    moved = input_matrix(_shake_after(candles, t, seed=1), [name])[t + 1 :, 0]
    if name not in ("tod_sin", "tod_cos"):
        assert not np.allclose(moved, input_matrix(candles, [name])[t + 1 :, 0], equal_nan=True)


@pytest.mark.parametrize("name", list(INPUTS))
def test_defined_after_lookback_and_nan_before(candles, name):
    x = input_matrix(candles, [name])[:, 0]
    k = INPUTS[name].lookback
    assert np.isfinite(x[max(k, 40) :]).all(), name
    if name in ("rsi", "macd_hist"):
        # recursive averages: a 300-candle head start changes them by less than 1e-6
        full = x[600]
        tail = input_matrix(candles.iloc[600 - k :], [name])[k, 0]
        assert abs(full - tail) < 1e-6 * max(1.0, abs(full))
    else:  # trailing windows: undefined exactly until the look-back is there
        assert np.isnan(x[:k]).all() and np.isfinite(x[k]), name


def test_values_by_hand(candles):
    c = candles
    lc = np.log(c["close"].to_numpy())
    r = np.diff(lc)
    x = input_matrix(c, ["ret_15", "rv_5", "taker_share_5", "trades_rel", "logvol_rel"])
    t = 777
    assert x[t, 0] == pytest.approx(lc[t] - lc[t - 15], rel=1e-12)
    assert x[t, 1] == pytest.approx(np.sqrt(np.sum(r[t - 5 : t] ** 2)), rel=1e-9)
    tb, v = c["taker_buy"].to_numpy(), c["volume"].to_numpy()
    assert x[t, 2] == pytest.approx(tb[t - 4 : t + 1].sum() / v[t - 4 : t + 1].sum() - 0.5, 1e-9)
    lt = np.log1p(c["trades"].to_numpy(dtype=float))
    assert x[t, 3] == pytest.approx(lt[t] - lt[t - 59 : t + 1].mean(), abs=1e-9)
    lv = np.log1p(v)
    assert x[t, 4] == pytest.approx(lv[t] - lv[t - 59 : t + 1].mean(), abs=1e-9)


def test_scale_free(candles):
    """The same market in other units (prices x 40, volumes / 40) gives the same inputs."""
    names = [n for n in ALL_INPUTS if n != "logvol"]
    other = candles.copy()
    other[["open", "high", "low", "close"]] *= 40
    a = input_matrix(candles, names)
    b = input_matrix(other, names)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True)


def test_missing_columns_refused_in_one_line(candles):
    without = candles.drop(columns=["taker_buy"])
    with pytest.raises(DataError, match=r"taker_share_5 need the candle column\(s\) taker_buy"):
        input_matrix(without, ["ret", "taker_share_5"])
    partial = candles.copy()
    partial.iloc[5, partial.columns.get_loc("taker_buy")] = np.nan
    with pytest.raises(DataError, match="lack or only partly have"):
        input_matrix(partial, ["taker_share"])
    with pytest.raises(DataError, match="unknown input"):
        input_matrix(candles, ["ret", "rsi_99"])
    assert input_matrix(without, ["ret", "rv_15"]).shape == (len(candles), 2)


def test_a_flat_market_has_a_defined_percent_b(candles):
    """Twenty equal closes leave Bollinger no band: %b is the mid (0 here), not NaN."""
    c = candles.iloc[:400].copy()
    price = c["close"].iloc[300]
    for col in ("open", "high", "low", "close"):
        c.iloc[300:330, c.columns.get_loc(col)] = price
    x = input_matrix(c, ["bb_pctb"])[:, 0]
    assert (x[320:330] == 0.0).all()
    assert np.isfinite(x[19:]).all()


def test_lookback():
    assert lookback(["ret", "ret_60"]) == 60
    assert lookback(["ret"]) == 0
    assert lookback(["rsi", "ret_5"]) == 300


def test_scale_model_tracks_volatility_and_ignores_the_future(candles):
    c = candles
    logc = np.log(c["close"].to_numpy())
    times = c.index.asi8
    o = np.arange(100, 2500, 2)
    sm = ScaleModel.fit(logc, times, o, np.zeros((len(o), 10)))
    # the realised-volatility coefficients together push the scale up
    assert sm.coef[:4].sum() > 0
    held = np.arange(2500, 2980)
    s = sm.scale(logc, times, held)
    realised = np.abs(logc[held + 10] - logc[held])
    assert np.corrcoef(np.log(s), np.log(realised + 1e-6))[0, 1] > 0.1
    shaken = np.log(_shake_after(c, 2600, seed=3)["close"].to_numpy())
    np.testing.assert_array_equal(
        scale_features(logc, times, np.array([2600])), scale_features(shaken, times, [2600])
    )
