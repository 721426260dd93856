"""The Parquet candle store: round trip, de-duplication, atomic writes, ranges."""

from __future__ import annotations

import pandas as pd
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
