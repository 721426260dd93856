"""load_candles on the real archives and on every kind of bad input."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, load_candles
from cryptousd.data.candle_files import read_candle_file
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


# the optional trades and taker_buy columns ------------------------------------------------------


def test_the_sample_zip_has_taker_buy_equal_to_column_10():
    import csv
    import io

    from cryptousd.data.locate import SAMPLE_FILE

    df = load_candles(SAMPLE_FILE)
    assert df["taker_buy"].dtype == "float64" and df["trades"].dtype == "int64"
    assert ((df["taker_buy"] >= 0) & (df["taker_buy"] <= df["volume"])).all()
    with zipfile.ZipFile(SAMPLE_FILE) as zf:
        text = zf.read(zf.namelist()[0]).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(df) == 10_080
    assert df["taker_buy"].sum() == pytest.approx(sum(float(r[9]) for r in rows), rel=1e-12)
    assert df["trades"].sum() == sum(int(r[8]) for r in rows)


def _with_field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("index", "value", "words"),
    [
        (9, "abc", "non-numeric taker_buy_base_asset_volume 'abc' on line 2"),
        (9, "", "non-numeric taker_buy_base_asset_volume '' on line 2"),
        (9, "-0.5", "impossible taker_buy_base_asset_volume '-0.5' with volume 1.0 on line 2"),
        (9, "1.5", "impossible taker_buy_base_asset_volume '1.5' with volume 1.0 on line 2"),
        (9, "nan", "impossible taker_buy_base_asset_volume 'nan' on line 2"),
        (8, "x", "non-numeric number_of_trades 'x' on line 2"),
        (8, "-3", "impossible number_of_trades '-3' on line 2"),
    ],
)
def test_bad_taker_buy_or_trades_in_a_binance_file(write_binance, index, value, words):
    t = 1704067200000
    lines = [binance_line(t), _with_field(binance_line(t + 60_000), index, value)]
    path = write_binance(lines=lines)
    with pytest.raises(DataError) as exc:
        load_candles(path)
    msg = _one_line(exc)
    assert words in msg and path.name in msg and "\n" not in str(exc.value)


def test_taker_buy_equal_to_volume_is_fine(write_binance):
    t = 1704067200000
    lines = [_with_field(binance_line(t + i * 60_000), 9, "1.0") for i in range(3)]
    df = load_candles(write_binance(lines=lines))
    assert df["taker_buy"].tolist() == [1.0, 1.0, 1.0] and df["trades"].tolist() == [10] * 3


def test_header_csv_without_the_columns_has_none(tmp_path):
    p = tmp_path / "plain.csv"
    p.write_text("time,open,high,low,close,volume\n2024-05-01T00:00:00Z,1,2,0.5,1.5,3\n")
    df = load_candles(p)
    assert "taker_buy" not in df.columns and "trades" not in df.columns


@pytest.mark.parametrize(
    ("names", "ext"),
    [
        (("taker_buy", "trades"), "csv"),
        (("taker_buy_base_asset_volume", "number_of_trades"), "csv"),
        (("taker_buy_base_asset_volume", "number_of_trades"), "parquet"),
    ],
)
def test_header_file_keeps_taker_buy_and_trades(tmp_path, names, ext):
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-05-01T00:00:00Z", "2024-05-01T00:01:00Z", "2024-05-01T00:03:00Z"],
            "open": [1.0, 1.5, 1.2],
            "high": [2.0, 2.0, 1.3],
            "low": [0.5, 1.0, 1.1],
            "close": [1.5, 1.2, 1.2],
            "volume": [3.0, 4.0, 2.0],
            names[0]: [1.0, 4.0, 0.0],
            names[1]: [7, 9, 1],
        }
    )
    p = tmp_path / f"x.{ext}"
    if ext == "csv":
        frame.to_csv(p, index=False)
    else:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        frame.set_index(pd.DatetimeIndex(frame.pop("timestamp"), name="open_time")).to_parquet(p)
    df = load_candles(p)  # the missing minute 00:02 is filled
    assert df["taker_buy"].tolist() == [1.0, 4.0, 0.0, 0.0]
    assert df["trades"].tolist() == [7, 9, 0, 1] and df["trades"].dtype == "int64"


def test_header_csv_refuses_bad_taker_buy_and_keeps_empty_as_unknown(tmp_path):
    head = "time,open,high,low,close,volume,taker_buy\n"
    p = tmp_path / "x.csv"
    p.write_text(head + "2024-05-01T00:00:00Z,1,2,0.5,1.5,3,abc\n")
    with pytest.raises(DataError, match="x.csv: non-numeric taker_buy 'abc' on data row 1"):
        load_candles(p)
    p.write_text(head + "2024-05-01T00:00:00Z,1,2,0.5,1.5,3,3.5\n")
    with pytest.raises(DataError, match="x.csv: impossible taker_buy '3.5' with volume 3.0"):
        load_candles(p)
    p.write_text(head + "2024-05-01T00:00:00Z,1,2,0.5,1.5,3,\n2024-05-01T00:01:00Z,1,2,0.5,1,3,2\n")
    df = load_candles(p)
    assert np.isnan(df["taker_buy"].iloc[0]) and df["taker_buy"].iloc[1] == 2.0
