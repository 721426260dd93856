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


# the optional taker_buy and trades columns ------------------------------------------------------


def with_taker(candles, seed=5):
    """Candles with a trade count and a taker-buy volume between 0 and the volume."""
    rng = np.random.default_rng(seed)
    out = candles.copy()
    out["trades"] = rng.integers(1, 500, len(out)).astype("int64")
    out["taker_buy"] = out["volume"] * rng.uniform(0, 1, len(out))
    return out


def test_resample_sums_taker_buy_and_trades_like_volume(candles):
    data = with_taker(candles)
    out = resample_candles(data, "5min")
    ref = data[["volume", "trades", "taker_buy"]].resample("5min").sum()
    np.testing.assert_allclose(out["taker_buy"], ref["taker_buy"].loc[out.index])
    assert out["trades"].tolist() == ref["trades"].loc[out.index].tolist()
    assert out["trades"].dtype == "int64"
    assert ((out["taker_buy"] >= 0) & (out["taker_buy"] <= out["volume"])).all()


def test_resample_without_the_columns_gives_none_and_unknown_stays_unknown(candles):
    assert "taker_buy" not in resample_candles(candles, "5min").columns
    data = with_taker(candles)
    data.loc[data.index[7], "taker_buy"] = np.nan  # not known for one candle of bucket 1
    out = resample_candles(data, "5min")
    assert np.isnan(out["taker_buy"].iloc[1]) and out["taker_buy"].drop(out.index[1]).notna().all()
    assert len(out) == len(data) // 5  # the bucket is kept, only its taker_buy is unknown


def test_fill_gaps_gives_inserted_candles_zero_trades_and_taker_buy(candles):
    data = with_taker(candles.iloc[:30])
    data.loc[data.index[2], "taker_buy"] = np.nan  # a real candle whose value is not known
    holed = data.drop(data.index[10:13])
    filled, report = fill_gaps(holed)
    assert report.n_missing == 3
    new = filled[filled["filled"]]
    assert (
        (new["volume"] == 0).all() and (new["taker_buy"] == 0).all() and (new["trades"] == 0).all()
    )
    assert filled["trades"].dtype == "int64"
    assert np.isnan(filled["taker_buy"].iloc[2])  # unknown stays unknown, not 0
    pd.testing.assert_frame_equal(
        filled.loc[~filled["filled"], ["trades", "taker_buy"]], holed[["trades", "taker_buy"]]
    )


def test_build_candles_taker_buy_from_the_side():
    t0 = 1735689600000
    trades = pd.DataFrame(
        {
            "time": [t0 + 1000, t0 + 2000, t0 + 3000, t0 + 130_000, t0 + 10],
            "price": [10.0, 11.0, 12.0, 13.0, 9.0],
            "qty": [1.0, 2.0, 4.0, 8.0, 0.5],
            "side": ["buy", "sell", "buy", "sell", "buy"],
        }
    )
    got = build_candles(trades)
    assert got["taker_buy"].tolist() == [5.5, 0.0, 0.0]  # the empty minute 2 gets 0
    assert got["volume"].tolist() == [7.5, 0.0, 8.0]
    assert "taker_buy" not in build_candles(trades.drop(columns="side")).columns


@pytest.mark.parametrize("side", ["BUY", None, "bid"])
def test_build_candles_refuses_an_unknown_side(side):
    trades = pd.DataFrame(
        {"time": [1735689600000, 1735689601000], "price": [1.0, 2.0], "qty": [1.0, 1.0]}
    )
    trades["side"] = ["buy", side]
    with pytest.raises(DataError) as exc:
        build_candles(trades)
    msg = str(exc.value)
    shown = "nan" if side is None else repr(side)  # pandas keeps a missing side as NaN
    assert "\n" not in msg and f"side {shown} is neither 'buy' nor 'sell'" in msg


@pytest.mark.parametrize("value", [-0.1, 1.5, np.inf])
def test_validate_refuses_impossible_taker_buy(candles, value):
    data = with_taker(candles.iloc[:10])
    data.loc[data.index[4], "taker_buy"] = data["volume"].iloc[4] * value
    with pytest.raises(DataError) as exc:
        validate_candles(data, name="x")
    assert "\n" not in str(exc.value) and "x: impossible taker_buy" in str(exc.value)
    assert str(data.index[4]) in str(exc.value)
