"""The Parquet candle store: round trip, de-duplication, atomic writes, ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cryptousd import CandleStore, DataError, load_candles


def test_round_trip_over_month_boundaries(tmp_path, candles):
    store = CandleStore(tmp_path)
    data = candles.copy()
    data.index = data.index - pd.Timedelta(days=1)  # 2024-12-31 .. 2025-01-02: two month files
    assert store.append(data, source="sim", symbol="BTC/USD") == len(data)
    assert [p.name for p in store.months("sim", "BTC/USD")] == [
        "2024-12.parquet",
        "2025-01.parquet",
    ]
    back = store.read(symbol="BTC/USD")
    pd.testing.assert_frame_equal(
        back[["open", "high", "low", "close", "volume"]], data, check_freq=False
    )


def test_append_deduplicates_newest_wins(tmp_path, candles):
    store = CandleStore(tmp_path)
    store.append(candles.iloc[:100], source="sim", symbol="BTC/USD")
    newer = candles.iloc[50:150].copy()
    newer["volume"] = 123.0
    assert store.append(newer, source="sim", symbol="BTC/USD") == 50
    back = store.read(symbol="BTC/USD")
    assert len(back) == 150 and back.index.is_unique
    assert (back["volume"].iloc[50:] == 123.0).all() and (back["volume"].iloc[:50] != 123.0).all()


def test_crash_during_write_leaves_previous_file_whole(tmp_path, candles, monkeypatch):
    store = CandleStore(tmp_path)
    store.append(candles.iloc[:100], source="sim", symbol="BTC/USD")
    path = store.months("sim", "BTC/USD")[0]
    before = path.read_bytes()
    real_write = pq.write_table

    def crash(table, where, **kw):
        real_write(table.slice(0, 3), where, **kw)  # half-written temporary file
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="simulated"):
        store.append(candles.iloc[100:200], source="sim", symbol="BTC/USD")
    monkeypatch.setattr(pq, "write_table", real_write)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    assert len(store.read(symbol="BTC/USD")) == 100


def test_invalid_candles_write_nothing(tmp_path, candles):
    store = CandleStore(tmp_path)
    bad = candles.iloc[:10].copy()
    bad.iloc[5, bad.columns.get_loc("high")] = 1.0
    with pytest.raises(DataError, match="impossible candle"):
        store.append(bad, source="sim", symbol="BTC/USD")
    assert store.series() == []


def test_filled_candles_are_not_stored(tmp_path, candles):
    from cryptousd import fill_gaps

    filled, _ = fill_gaps(candles.drop(candles.index[3]))
    CandleStore(tmp_path).append(filled, source="sim", symbol="BTC/USD")
    assert len(CandleStore(tmp_path).read(symbol="BTC/USD")) == len(candles) - 1


def test_read_range_and_load_candles_from_store(tmp_path, candles):
    store = CandleStore(tmp_path)
    store.append(candles, source="sim", symbol="BTC/USD")
    part = store.read(symbol="BTC/USD", start="2025-01-02", end="2025-01-02 01:00")
    assert len(part) == 60 and part.index[0] == pd.Timestamp("2025-01-02", tz="UTC")
    assert len(load_candles(store, symbol="BTC/USD", start="2025-01-02")) == 2 * 1440


def test_info_and_errors(tmp_path, candles):
    store = CandleStore(tmp_path)
    with pytest.raises(DataError, match="run `cryptousd fetch` first"):
        store.read(symbol="BTC/USD")
    store.append(candles.drop(candles.index[[7, 8]]), source="sim", symbol="BTC/USD")
    (info,) = store.info()
    assert (info.source, info.symbol, info.rows, info.missing) == (
        "sim",
        "BTC-USD",
        len(candles) - 2,
        2,
    )


# the optional taker_buy and trades columns ------------------------------------------------------


def with_taker(candles, seed=5):
    rng = np.random.default_rng(seed)
    out = candles.copy()
    out["trades"] = rng.integers(1, 500, len(out)).astype("int64")
    out["taker_buy"] = out["volume"] * rng.uniform(0, 1, len(out))
    return out


def test_taker_buy_and_trades_round_trip(tmp_path, candles):
    store = CandleStore(tmp_path)
    data = with_taker(candles)
    store.append(data, source="sim", symbol="BTC/USD")
    back = store.read(symbol="BTC/USD")
    pd.testing.assert_frame_equal(back, data, check_freq=False)
    assert back["trades"].dtype == "int64" and back["taker_buy"].dtype == "float64"
    loaded = load_candles(store, symbol="BTC/USD")
    assert loaded["taker_buy"].notna().all()


def test_a_store_written_before_taker_buy_still_reads(tmp_path, candles):
    store = CandleStore(tmp_path)
    old = with_taker(candles.iloc[:100]).drop(columns="taker_buy")  # as the store wrote it then
    path = store.folder("sim", "BTC/USD") / "2025-01.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(old, preserve_index=True), path, compression="zstd")
    back = store.read(symbol="BTC/USD")
    assert "taker_buy" not in back.columns
    pd.testing.assert_frame_equal(back, old, check_freq=False)
    assert "taker_buy" not in load_candles(store, symbol="BTC/USD").columns


def test_appending_with_and_without_taker_buy_invents_nothing(tmp_path, candles):
    store = CandleStore(tmp_path)
    plain = candles.iloc[:100]
    store.append(plain, source="sim", symbol="BTC/USD")
    assert "taker_buy" not in store.read(symbol="BTC/USD").columns
    rich = with_taker(candles.iloc[50:150])
    store.append(rich, source="sim", symbol="BTC/USD")
    back = store.read(symbol="BTC/USD")
    # rows only the plain write gave are unknown (NaN), the rich write's rows keep their values
    assert back["taker_buy"].iloc[:50].isna().all() and back["trades"].iloc[:50].isna().all()
    np.testing.assert_array_equal(back["taker_buy"].iloc[50:], rich["taker_buy"])
    # the newest write of a minute wins as a whole row, unknown columns included
    store.append(candles.iloc[140:150], source="sim", symbol="BTC/USD")
    back = store.read(symbol="BTC/USD")
    assert back["taker_buy"].iloc[140:150].isna().all()
    assert back["taker_buy"].iloc[50:140].notna().all()
    # nothing known left: the column is dropped, not kept as NaN (nor zeros)
    store.append(candles.iloc[:150], source="sim", symbol="BTC/USD")
    back = store.read(symbol="BTC/USD")
    assert "taker_buy" not in back.columns and "trades" not in back.columns
