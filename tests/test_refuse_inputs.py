"""Files that used to be accepted silently: read right, or refused in one line naming the file.

Other intervals, day-first dates, truncated rows, gzip, byte-order marks, semicolons and decimal
commas (issue 9, data layer).
"""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest

from cryptousd import CandleStore, DataError, fill_gaps, find_gaps, load_candles, resample_candles
from cryptousd.data.candle_files import read_candle_file
from cryptousd.data.candles import detect_interval

from .conftest import binance_line

T0 = 1704067200000  # 2024-01-01 00:00 UTC in ms


def one_line(exc: pytest.ExceptionInfo, *names: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for name in names:
        assert name in msg, msg
    return msg


def real_lines(archive, n: int = 120) -> list[bytes]:
    with zipfile.ZipFile(archive) as zf:
        (member,) = zf.namelist()
        return zf.read(member).splitlines()[:n]


# ---- intervals ----------------------------------------------------------------------------------


def five_minute_lines(minutes=(0, 5, 10, 20)) -> list[str]:
    return [binance_line(T0 + m * 60_000, h=200.0, c=100 + m) for m in minutes]


def test_five_minute_file_is_refused_as_one_minute_data(write_binance):
    path = write_binance(name="BTCUSDT-5m-2024-01.csv", lines=five_minute_lines())
    with pytest.raises(DataError) as exc:
        load_candles(path)
    msg = one_line(exc, "BTCUSDT-5m-2024-01.csv", "5min candles", "not 1min")
    assert "interval='5min'" in msg and "interval=None" in msg


def test_five_minute_file_loads_as_five_minutes_and_fills_at_five_minutes(write_binance):
    path = write_binance(name="BTCUSDT-5m-2024-01.csv", lines=five_minute_lines())
    for interval in ("5min", None):
        df = load_candles(path, interval=interval)
        assert df.attrs["interval"] == "5min"
        # one missing 5-minute candle (00:15), never fifteen invented minutes
        assert len(df) == 5 and df["filled"].tolist() == [False, False, False, True, False]
        assert df.index[3] == pd.Timestamp("2024-01-01 00:15", tz="UTC")
        assert df["close"].iloc[3] == 110.0 and df["volume"].iloc[3] == 0.0
    kept = load_candles(path, interval="5min", gaps="keep")
    assert find_gaps(kept).n_missing == 1 and len(fill_gaps(kept)[0]) == 5
    with pytest.raises(DataError, match="gap after 2024-01-01 00:10:00"):
        load_candles(path, interval="5min", gaps="raise")


@pytest.mark.parametrize(("step", "name"), [("1h", "1h"), ("1D", "1D")])
def test_hourly_and_daily_csv_are_detected(tmp_path, step, name):
    times = pd.date_range("2024-03-01", periods=6, freq=step, tz="UTC").drop(
        pd.Timestamp("2024-03-01", tz="UTC") + 3 * pd.Timedelta(step)
    )
    p = tmp_path / f"btc-{name}.csv"
    rows = [f"{t.isoformat()},1,2,0.5,1.5,3" for t in times]
    p.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as exc:
        load_candles(p)
    one_line(exc, p.name, f"{name} candles", f"interval={name!r}")
    df = load_candles(p, interval=None)
    assert df.attrs["interval"] == name and len(df) == 6 and int(df["filled"].sum()) == 1


def test_one_minute_file_with_gaps_is_still_one_minute(write_binance):
    lines = [binance_line(T0 + m * 60_000) for m in (0, 1, 2, 7, 8, 30)]
    df = load_candles(write_binance(lines=lines))
    assert df.attrs["interval"] == "1min" and len(df) == 31 and int(df["filled"].sum()) == 25


def test_detect_interval_and_resample_carry_the_interval(candles):
    ns = np.array([0, 300, 600, 1200, 1500]) * 10**9
    assert detect_interval(ns) == "5min"
    assert detect_interval(np.array([0])) is None
    assert detect_interval(candles.index) == "1min"
    out = resample_candles(candles, "15min")
    assert out.attrs["interval"] == "15min" and detect_interval(out.index) == "15min"
    assert len(resample_candles(out, "1h")) == len(candles) // 60  # 4 quarter-hours per hour


def test_store_refuses_five_minute_candles_and_writes_nothing(tmp_path, write_binance):
    df = load_candles(write_binance(lines=five_minute_lines()), interval="5min", gaps="keep")
    store = CandleStore(tmp_path / "store")
    with pytest.raises(DataError) as exc:
        store.append(df, source="binance", symbol="BTC/USDT")
    one_line(exc, "5min candles", "one-minute")
    assert not (tmp_path / "store").exists()


def test_files_at_different_intervals_are_refused_together(write_binance):
    a = write_binance(name="a.csv", lines=five_minute_lines())
    lines = [binance_line(T0 + 3_600_000 + m * 60_000) for m in range(3)]
    b = write_binance(name="b.csv", lines=lines)
    with pytest.raises(DataError) as exc:
        load_candles([a, b], interval=None)
    one_line(exc, "a.csv: 5min", "b.csv: 1min")


# ---- day-first dates ----------------------------------------------------------------------------


def dated_csv(tmp_path, dates, name="dates.csv"):
    p = tmp_path / name
    rows = [f"{d},1,2,0.5,1.5,3" for d in dates]
    p.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return p


def test_day_first_dates_are_detected(tmp_path):
    p = dated_csv(tmp_path, ["12/01/2024 00:00", "13/01/2024 00:00", "14/01/2024 00:00"])
    df = load_candles(p, interval="1D")
    assert df.index[0] == pd.Timestamp("2024-01-12", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-01-14", tz="UTC")


def test_month_first_dates_are_detected(tmp_path):
    p = dated_csv(tmp_path, ["01/12/2024 23:59", "01/13/2024 00:00"])
    df = load_candles(p)
    assert list(df.index) == [
        pd.Timestamp("2024-01-12 23:59", tz="UTC"),
        pd.Timestamp("2024-01-13 00:00", tz="UTC"),
    ]


def test_ambiguous_dates_need_dayfirst(tmp_path):
    p = dated_csv(tmp_path, ["01/02/2024 10:00", "01/02/2024 10:01"], name="ambiguous.csv")
    with pytest.raises(DataError) as exc:
        load_candles(p)
    one_line(exc, "ambiguous.csv", "'01/02/2024 10:00'", "dayfirst=True", "dayfirst=False")
    assert load_candles(p, dayfirst=True).index[0] == pd.Timestamp("2024-02-01 10:00", tz="UTC")
    assert load_candles(p, dayfirst=False).index[0] == pd.Timestamp("2024-01-02 10:00", tz="UTC")


def test_dayfirst_that_contradicts_the_file_and_mixed_orders_are_refused(tmp_path):
    p = dated_csv(tmp_path, ["13.01.2024 00:00", "13.01.2024 00:01"], name="dots.csv")
    assert load_candles(p).index[0] == pd.Timestamp("2024-01-13", tz="UTC")
    with pytest.raises(DataError) as exc:
        load_candles(p, dayfirst=False)
    one_line(exc, "dots.csv", "'13.01.2024 00:00' can only be day-first")
    m = dated_csv(tmp_path, ["13/01/2024 00:00", "01/14/2024 00:00"], name="mixed.csv")
    with pytest.raises(DataError) as exc:
        load_candles(m)
    one_line(exc, "mixed.csv", "day-first", "month-first")


# ---- truncated rows -----------------------------------------------------------------------------


def test_truncated_last_row_is_refused_not_stored_with_a_wrong_volume(write_binance):
    lines = [binance_line(T0 + i * 60_000, v=12.345678) for i in range(3)]
    lines[-1] = ",".join(lines[-1].split(",")[:6])[:-3]  # cut mid-volume: 6 of 12 fields
    for zipped in (False, True):
        path = write_binance(name="BTCUSDT-1m-2024-01.csv", lines=lines, zipped=zipped)
        with pytest.raises(DataError) as exc:
            load_candles(path)
        msg = one_line(exc, path.name, "line 3 has 6 of 12 fields")
        assert "the file is truncated, download it again" in msg


def test_short_row_in_the_middle_is_named(write_binance):
    lines = [binance_line(T0 + i * 60_000) for i in range(4)]
    lines[1] = ",".join(lines[1].split(",")[:9])
    with pytest.raises(DataError) as exc:
        load_candles(write_binance(lines=[lines[0], "", *lines[1:]]))  # a blank line is skipped
    one_line(exc, "line 3 has 9 of 12 fields", "repair or drop it")


# ---- gzip, byte-order marks, separators ---------------------------------------------------------


def test_gzip_csv_of_real_rows_reads_like_the_plain_csv(tmp_path, archives):
    text = b"\n".join(real_lines(archives[13])) + b"\n"
    plain = tmp_path / "BTCUSDT-1m-2025-02.csv"
    plain.write_bytes(text)
    packed = tmp_path / "BTCUSDT-1m-2025-02.csv.gz"
    packed.write_bytes(gzip.compress(text))
    a, b = load_candles(plain), load_candles(packed)
    pd.testing.assert_frame_equal(a, b)
    assert len(b) == 120 and b.index[0] == pd.Timestamp("2025-02-01", tz="UTC")
    # a gzip'd file without the .gz suffix is recognised by its magic bytes
    disguised = tmp_path / "disguised.csv"
    disguised.write_bytes(gzip.compress(text))
    pd.testing.assert_frame_equal(load_candles(disguised), a)


def test_truncated_gzip_is_refused_as_gzip(tmp_path, archives):
    data = gzip.compress(b"\n".join(real_lines(archives[13], 2000)))
    bad = tmp_path / "BTCUSDT-1m-2025-02.csv.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as exc:
        load_candles(bad)
    msg = one_line(exc, bad.name, "gzip", "download it again")
    assert "damaged" not in msg


def test_headerless_file_with_a_utf8_bom_is_read(tmp_path, archives):
    text = b"\n".join(real_lines(archives[13])) + b"\n"
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + text)
    df = load_candles(p)
    assert len(df) == 120 and df.index[0] == pd.Timestamp("2025-02-01", tz="UTC")
    assert df["open"].iloc[0] == float(text.split(b",")[1])


def test_semicolons_and_decimal_commas_are_named(tmp_path):
    p = tmp_path / "excel.csv"
    p.write_text(
        "time;open;high;low;close;volume\n2024-01-01 00:00;42000,5;42010;41990;42001,25;3,5\n"
    )
    with pytest.raises(DataError) as exc:
        load_candles(p)
    one_line(exc, "excel.csv", "separated by semicolons", "decimal commas", "'0,5'")
    q = tmp_path / "semi.csv"
    q.write_text("time;open;high;low;close;volume\n2024-01-01 00:00;1;2;0.5;1.5;3\n")
    with pytest.raises(DataError) as exc:
        load_candles(q)
    msg = one_line(exc, "semi.csv", "separated by semicolons")
    assert "decimal commas" not in msg


def test_decimal_comma_in_a_comma_separated_file_is_named(tmp_path):
    p = tmp_path / "quoted.csv"
    p.write_text(
        'time,open,high,low,close,volume\n2024-01-01 00:00,"42000,5",42010,41990,42001,3\n'
    )
    with pytest.raises(DataError) as exc:
        load_candles(p)
    one_line(exc, "quoted.csv", "non-numeric open '42000,5'", "decimal comma")


def test_a_single_candle_file_is_one_minute(write_binance):
    df = read_candle_file(write_binance(n=1))
    assert "interval" not in df.attrs
    assert load_candles(write_binance(n=1)).attrs["interval"] == "1min"
