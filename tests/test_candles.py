"""Candle building from trades, gap handling and resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptousd import (
    DataError,
    build_candles,
    fill_gaps,
    find_gaps,
    resample_candles,
    validate_candles,
)

from .conftest import assert_candle_frame


def make_trades(n=20_000, minutes=120, empty=(5, 6, 40), seed=0, shuffle=True):
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2025-01-01", tz="UTC").value
    t = t0 + rng.integers(0, minutes * 60_000_000_000, n)
    minute = (t - t0) // 60_000_000_000
    t = t[~np.isin(minute, empty)]
    price = 100 + np.cumsum(rng.normal(0, 0.01, len(t)))
    qty = rng.gamma(1.0, 0.1, len(t))
    trades = pd.DataFrame(
        {"time": pd.to_datetime(np.sort(t), utc=True), "price": price, "qty": qty}
    )
    return trades.sample(frac=1, random_state=1) if shuffle else trades


def reference(trades: pd.DataFrame) -> pd.DataFrame:
    s = trades.sort_values("time", kind="stable").set_index("time")
    ohlc = s["price"].resample("1min").ohlc()
    vol = s["qty"].resample("1min").sum()
    close = ohlc["close"].ffill()
    for c in ("open", "high", "low"):
        ohlc[c] = ohlc[c].fillna(close)
    ohlc["close"] = close
    ohlc["volume"] = vol
    ohlc.index.name = "open_time"
    return ohlc


def test_build_candles_matches_pandas_resample_with_shuffled_trades_and_empty_minutes():
    trades = make_trades()
    got = build_candles(trades)
    ref = reference(trades)
    assert_candle_frame(got)
    pd.testing.assert_frame_equal(
        got[["open", "high", "low", "close", "volume"]], ref, check_freq=False
    )
    empty = got.loc["2025-01-01 00:05"]
    assert (
        empty["volume"] == 0
        and empty["trades"] == 0
        and empty["open"] == got["close"].loc["2025-01-01 00:04"]
    )


def test_build_candles_buckets_by_trade_time_with_epoch_ms():
    trades = pd.DataFrame(
        {
            "time": [1735689600000, 1735689659999, 1735689660000],
            "price": [1.0, 2.0, 3.0],
            "qty": [1, 1, 1],
        }
    )
    got = build_candles(trades)
    assert (
        got["open"].tolist() == [1.0, 3.0]
        and got["close"].tolist() == [2.0, 3.0]
        and got["trades"].tolist() == [2, 1]
    )


def test_same_timestamp_keeps_input_order():
    trades = pd.DataFrame({"time": [0, 0, 0], "price": [5.0, 7.0, 6.0], "qty": [1.0, 1.0, 1.0]})
    trades["time"] = pd.to_datetime(trades["time"] + 1735689600, unit="s", utc=True)
    got = build_candles(trades)
    assert (got["open"].iloc[0], got["close"].iloc[0], got["high"].iloc[0]) == (5.0, 6.0, 7.0)


def test_build_candles_rejects_bad_trades():
    with pytest.raises(DataError, match="missing column"):
        build_candles(pd.DataFrame({"time": [1], "price": [1.0]}))
    with pytest.raises(DataError, match="finite and > 0"):
        build_candles(pd.DataFrame({"time": [1735689600000], "price": [np.nan], "qty": [1.0]}))
    with pytest.raises(DataError, match="no trades"):
        build_candles(pd.DataFrame({"time": [], "price": [], "qty": []}))


def test_find_and_fill_gaps(candles):
    holed = candles.drop(candles.index[[10, 11, 12, 500]])
    report = find_gaps(holed)
    assert report.n_missing == 4 and report.gaps["missing"].tolist() == [3, 1]
    filled, rep2 = fill_gaps(holed)
    assert rep2.n_missing == 4 and len(filled) == len(candles) and int(filled["filled"].sum()) == 4
    assert filled.loc[candles.index[11], "close"] == holed.loc[candles.index[9], "close"]
    validate_candles(filled)
    assert len(holed) == len(candles) - 4  # input untouched


def test_resample_to_5m_15m_1h(candles):
    for rule, n in (("5min", 5), ("15min", 15), ("1h", 60)):
        out = resample_candles(candles, rule)
        first = candles.iloc[:n]
        row = out.iloc[0]
        assert row["open"] == first["open"].iloc[0] and row["close"] == first["close"].iloc[-1]
        assert row["high"] == first["high"].max() and row["low"] == first["low"].min()
        assert row["volume"] == pytest.approx(first["volume"].sum())
        assert len(out) == len(candles) // n


def test_resample_drops_incomplete_last_bucket(candles):
    out = resample_candles(candles.iloc[:-2], "5min")
    assert out.index[-1] == candles.index[-10]


def test_validate_rejects_naive_index_and_missing_columns(candles):
    with pytest.raises(DataError, match="tz-aware UTC"):
        validate_candles(candles.tz_localize(None))
    with pytest.raises(DataError, match="missing column"):
        validate_candles(candles.drop(columns="volume"))
