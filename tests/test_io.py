"""load_candles on the real archives and on every kind of bad input."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, load_candles
from cryptousd.candle_files import read_candle_file
from cryptousd.times import epoch_to_ns

from .conftest import assert_candle_frame, binance_line


def test_all_fifteen_real_months_load_without_gaps(archives):
    df = load_candles(archives, gaps="raise")
    expected = pd.date_range("2024-01-01", "2025-04-01", freq="1min", tz="UTC", inclusive="left")
    # every minute of 2024-01-01 .. 2025-03-31 (the files hold 656,640 rows; no minute is missing)
    assert len(df) == len(expected) == 656_640
    assert df.index.equals(pd.DatetimeIndex(expected, name="open_time"))
    assert_candle_frame(df)


def test_change_of_timestamp_unit_between_2024_12_and_2025_01(archives):
    dec, jan = read_candle_file(archives[11]), read_candle_file(archives[12])
    assert dec.index[-1] == pd.Timestamp("2024-12-31 23:59", tz="UTC")  # milliseconds in the file
    assert jan.index[0] == pd.Timestamp("2025-01-01 00:00", tz="UTC")  # microseconds in the file
    both = load_candles(archives[11:13], gaps="raise")
    assert (np.diff(both.index.asi8) == 60_000_000_000).all()


def test_csv_and_zip_give_the_same_frame(write_binance):
    a = read_candle_file(write_binance(n=30))
    b = read_candle_file(write_binance(name="other.csv", n=30, zipped=True))
    pd.testing.assert_frame_equal(a, b)


def test_generic_csv_with_iso_times_and_header(tmp_path):
    p = tmp_path / "kraken.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n2024-05-01T00:00:00Z,1,2,0.5,1.5,3\n2024-05-01T00:01:00Z,1.5,2,1,1.2,4\n"
    )
    df = load_candles(p)
    assert list(df.index) == [
        pd.Timestamp("2024-05-01 00:00", tz="UTC"),
        pd.Timestamp("2024-05-01 00:01", tz="UTC"),
    ]
    assert df["close"].tolist() == [1.5, 1.2]


def test_generic_csv_epoch_seconds_newest_first_is_reversed(tmp_path):
    # CryptoDataDownload style: a URL line, a header, newest row first
    p = tmp_path / "cdd.csv"
    p.write_text(
        "https://www.cryptodatadownload.com\n"
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USD\n"
        "1714521660,2024-05-01 00:01:00,BTC/USD,2,3,1,2.5,7,1\n"
        "1714521600,2024-05-01 00:00:00,BTC/USD,1,2,1,2,5,1\n"
    )
    df = load_candles(p)
    assert df.index.is_monotonic_increasing and df["volume"].tolist() == [5.0, 7.0]


def test_gaps_are_filled_with_previous_close_and_counted(write_binance):
    lines = [binance_line(1704067200000 + i * 60_000, h=110.0, c=100 + i) for i in (0, 1, 4)]
    df = load_candles(write_binance(lines=lines))
    assert len(df) == 5 and df["filled"].tolist() == [False, False, True, True, False]
    filled = df[df["filled"]]
    assert (filled[["open", "high", "low", "close"]] == 101.0).all().all() and (
        filled["volume"] == 0
    ).all()
    with pytest.raises(DataError, match="gap after"):
        load_candles(write_binance(lines=lines), gaps="raise")


def test_time_range_selection(archives):
    df = load_candles(archives[0], start="2024-01-10", end="2024-01-11")
    assert len(df) == 1440 and df.index[0] == pd.Timestamp("2024-01-10", tz="UTC")


# ---- bad input: one line, naming the file, nothing returned --------------------------------------


def _one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_truncated_zip(write_binance, tmp_path):
    good = write_binance(n=500, zipped=True)
    bad = tmp_path / "BTCUSDT-1m-2024-02.zip"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(DataError) as exc:
        load_candles(bad)
    assert "BTCUSDT-1m-2024-02.zip" in _one_line(exc) and "corrupt" in str(exc.value)


def test_corrupt_zip_member(write_binance, tmp_path):
    good = write_binance(n=500, zipped=True).read_bytes()
    data = bytearray(good)
    mid = len(data) // 2
    data[mid : mid + 20] = b"\x00" * 20  # damage the deflate stream, keep the directory
    bad = tmp_path / "damaged.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as exc:
        load_candles(bad)
    assert "damaged.zip" in _one_line(exc)


def test_wrong_number_of_columns(write_binance):
    lines = [",".join(binance_line(1704067200000 + i * 60_000).split(",")[:7]) for i in range(3)]
    with pytest.raises(DataError) as exc:
        load_candles(write_binance(lines=lines))
    assert "7 columns" in _one_line(exc)


def test_ragged_rows(write_binance):
    lines = [binance_line(1704067200000), binance_line(1704067260000) + ",extra"]
    with pytest.raises(DataError, match="different numbers of columns"):
        load_candles(write_binance(lines=lines))


def test_non_numeric_price(write_binance):
    lines = [binance_line(1704067200000), binance_line(1704067260000).replace("101.0", "abc", 1)]
    with pytest.raises(DataError) as exc:
        load_candles(write_binance(lines=lines))
    assert "non-numeric high 'abc' on line 2" in _one_line(exc)


def test_high_below_low(write_binance):
    lines = [binance_line(1704067200000, h=98.0)]
    with pytest.raises(DataError, match="impossible candle"):
        load_candles(write_binance(lines=lines))


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_inf(write_binance, value):
    lines = [binance_line(1704067200000), binance_line(1704067260000).replace("100.5", value, 1)]
    with pytest.raises(DataError, match="NaN or infinite close"):
        load_candles(write_binance(lines=lines))


def test_out_of_order(write_binance):
    t = 1704067200000
    lines = [binance_line(t), binance_line(t + 120_000), binance_line(t + 60_000)]
    with pytest.raises(DataError, match="out of order"):
        load_candles(write_binance(lines=lines))


def test_duplicated(write_binance):
    t = 1704067200000
    with pytest.raises(DataError, match="duplicated timestamp"):
        load_candles(write_binance(lines=[binance_line(t), binance_line(t)]))


def test_mixed_timestamp_units_in_one_file(write_binance):
    t = 1735689600000
    lines = [binance_line(t), binance_line(t + 60_000, unit="us")]
    with pytest.raises(DataError) as exc:
        load_candles(write_binance(lines=lines))
    assert "mixed timestamp units (ms and us)" in _one_line(exc)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(DataError, match="empty.csv: empty file"):
        load_candles(p)


def test_missing_file_and_overlapping_files(write_binance, tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_candles(tmp_path / "nope.zip")
    a = write_binance(name="a.csv", n=5)
    b = write_binance(name="b.csv", n=5)
    with pytest.raises(DataError, match="files overlap"):
        load_candles([a, b])


def test_header_without_ohlcv_columns(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("time,price\n2024-01-01,1\n")
    with pytest.raises(DataError, match="cannot find open, high, low, close, volume"):
        load_candles(p)


def test_epoch_units():
    ns = epoch_to_ns(np.array([1_700_000_000, 1_700_000_060]), name="x")
    assert ns[0] == 1_700_000_000 * 10**9
    assert epoch_to_ns(np.array([1_700_000_000_000_000]), name="x")[0] == 1_700_000_000 * 10**9


def test_zip_with_two_csvs(tmp_path):
    p = tmp_path / "two.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("a.csv", binance_line(1704067200000))
        zf.writestr("b.csv", binance_line(1704067200000))
    with pytest.raises(DataError, match="expected one CSV inside the zip, found 2"):
        load_candles(p)
