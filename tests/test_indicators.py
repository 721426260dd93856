"""Indicators: equal to `ta` on real minutes, streaming equal to batch, no look-ahead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import ta

from cryptousd.indicators import (
    COLUMNS,
    MINUTES_PER_YEAR,
    IndicatorParams,
    StreamingIndicators,
    bollinger,
    indicator_frame,
    macd,
    rsi,
    volatility,
    vwap,
)


def same(a, b, rtol=1e-9, atol=1e-9):
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    assert (np.isnan(a) == np.isnan(b)).all(), "warm-up rows differ"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def test_rsi_macd_vwap_equal_ta_on_real_minutes(real_candles):
    c = real_candles
    same(rsi(c["close"]), ta.momentum.RSIIndicator(c["close"], window=14).rsi())
    same(rsi(c["close"], 7), ta.momentum.RSIIndicator(c["close"], window=7).rsi())
    m, ref = macd(c["close"]), ta.trend.MACD(c["close"], 26, 12, 9)
    same(m["macd"], ref.macd())
    same(m["signal"], ref.macd_signal())
    same(m["hist"], ref.macd_diff())
    ref_vwap = ta.volume.VolumeWeightedAveragePrice(
        c["high"], c["low"], c["close"], c["volume"], window=30
    )
    same(vwap(c, 30), ref_vwap.volume_weighted_average_price())
    assert rsi(c["close"]).between(0, 100).where(rsi(c["close"]).notna(), True).all()


def test_bollinger_equals_ta_on_real_minutes(real_candles):
    close = real_candles["close"]
    b, ref = bollinger(close, 20, 2.0), ta.volatility.BollingerBands(close, 20, 2.0)
    same(b["mid"], ref.bollinger_mavg())
    same(b["upper"], ref.bollinger_hband())  # prices: 1e-9 relative
    same(b["lower"], ref.bollinger_lband())
    same(b["width"], ref.bollinger_wband())  # percent of the price: 1e-9 absolute
    # %b is a ratio of two small differences of prices: compare it in price units (USD)
    band = (b["upper"] - b["lower"]).to_numpy()
    same(b["pct_b"] * band, ref.bollinger_pband() * band, atol=1e-9 * close.max())


def test_bollinger_deviation_is_each_windows_own(real_candles):
    """Population std of each window by NumPy (ta's pandas running variance drifts; this does
    not)."""
    x = real_candles["close"].to_numpy()[:3000]
    b = bollinger(pd.Series(x), 20, 2.5)
    for t in (19, 20, 1234, 2999):
        w = x[t - 19 : t + 1]
        assert b["mid"][t] == pytest.approx(w.mean(), rel=1e-14)
        assert (b["upper"][t] - b["mid"][t]) / 2.5 == pytest.approx(w.std(ddof=0), rel=1e-9)
    assert b["mid"][:19].isna().all() and b["mid"][19:].notna().all()


def test_volatility_is_annualised_sample_std_of_log_returns(real_candles):
    close = real_candles["close"].to_numpy()[:2000]
    vol = volatility(pd.Series(close), 30)
    r = np.diff(np.log(close))
    for t in (30, 31, 777, 1999):
        by_hand = np.std(r[t - 30 : t], ddof=1) * math.sqrt(MINUTES_PER_YEAR)
        assert vol[t] == pytest.approx(by_hand, rel=1e-12)
    assert vol[:30].isna().all() and vol[30:].notna().all()
    # BTC's annualised minute volatility is tens of percent, not thousands
    assert 0.05 < vol.median() < 3


def test_flat_prices_and_empty_volume():
    n = 60
    c = pd.DataFrame(
        {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 0.0},
        index=pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC", name="open_time"),
    )
    f = indicator_frame(c)
    assert (f["bb_upper"].dropna() == 100).all() and f["bb_pct_b"].isna().all()
    assert (f["volatility"].dropna() == 0).all() and f["vwap"].isna().all()
    assert (f["rsi"].dropna() == 100).all()  # ta's convention: no losses reads as 100
    s = StreamingIndicators().update_frame(c)
    same(s.to_numpy(), f.to_numpy())


@pytest.mark.parametrize("which", ["real", "simulated"])
def test_streaming_equals_batch_over_thousands_of_candles(which, real_candles, candles):
    c = real_candles if which == "real" else candles
    params = IndicatorParams(rsi=9, bb_window=15, bb_k=1.5, vol_window=45, vwap_window=60)
    for p in (None, params):
        batch = indicator_frame(c, p)
        stream = StreamingIndicators(p).update_frame(c)
        assert list(stream.columns) == COLUMNS and len(stream) == len(c) >= 4000
        for col in COLUMNS:
            same(stream[col], batch[col], rtol=0, atol=1e-9)


def test_streaming_one_candle_at_a_time_matches_a_late_start():
    """A live session starts from whatever it sees first: streaming from candle k equals the
    batch form of the candles from k."""
    from cryptousd.data.sources.replay import simulate_candles

    c = simulate_candles(1500, start="2025-02-01", seed=11)
    s = StreamingIndicators()
    rows = [s.update(*r) for r in c.iloc[500:][["open", "high", "low", "close", "volume"]].values]
    same(pd.DataFrame(rows, columns=COLUMNS), indicator_frame(c.iloc[500:]), rtol=0)


def test_no_indicator_looks_ahead(real_candles):
    c = real_candles.iloc[:1500]
    full = indicator_frame(c)
    for k in (40, 333, 1000):
        changed = c.copy()
        changed.iloc[k + 1 :, :4] *= 1.05  # a different future
        changed.iloc[k + 1 :, 4] *= 3
        part = indicator_frame(changed)
        same(part.iloc[: k + 1], full.iloc[: k + 1], rtol=0, atol=0)
        assert not np.allclose(part.iloc[k + 40 :]["bb_mid"], full.iloc[k + 40 :]["bb_mid"])
