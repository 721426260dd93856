"""Imports and store reads that used to go wrong silently or with a raw traceback (issue 9).

The market of an imported file, prices that disagree with the stored series, damaged Parquet
month files, folders with nothing to import, and the permissions of written files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pandas as pd
import pytest

from cryptousd import CandleStore, DataError, load_candles
from cryptousd.cli import main
from cryptousd.data.candle_files import binance_symbol, import_candle_files
from cryptousd.files import write_json

from .conftest import binance_line

T0 = 1704067200000  # 2024-01-01 00:00 UTC in ms


def snapshot(folder) -> dict[str, bytes]:
    """Every file under a folder with its bytes (empty when the folder does not exist)."""
    if not folder.exists():
        return {}
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def priced_lines(price: float, n: int = 30) -> list[str]:
    return [
        binance_line(T0 + i * 60_000, o=price, h=price * 1.01, lo=price * 0.99, c=price)
        for i in range(n)
    ]


@pytest.fixture
def btc_store(tmp_path, write_binance):
    """A store holding binance/BTC-USDT for 2024-01-01 00:00 .. 00:29 at about 42,000."""
    store = CandleStore(tmp_path / "store")
    path = write_binance(name="BTCUSDT-1m-2024-01.csv", lines=priced_lines(42_000.0))
    import_candle_files(store, path)
    return store


# ---- the market of an imported file -------------------------------------------------------------


def test_binance_symbol_from_file_names():
    assert binance_symbol("ETHUSDT-1m-2025-01.zip") == "ETH/USDT"
    assert binance_symbol("/x/BTCUSDT-1m-2024-12.csv") == "BTC/USDT"
    assert binance_symbol("SOLFDUSD-1m-2025-03-02.csv.gz") == "SOL/FDUSD"
    assert binance_symbol("ETHBTC-1m-2024-05.zip") == "ETH/BTC"
    assert binance_symbol("prices.csv") is None and binance_symbol("USDT-1m-2024-01.zip") is None


def test_ethusdt_file_goes_to_its_own_series(btc_store, tmp_path, write_binance):
    before = snapshot(btc_store.folder("binance", "BTC/USDT"))
    eth = write_binance(name="ETHUSDT-1m-2024-01.csv", lines=priced_lines(2_300.0))
    done = import_candle_files(btc_store, eth)
    assert done["series"][0]["symbol"] == "ETH/USDT" and done["new_rows"] == 30
    assert btc_store.series() == [("binance", "BTC-USDT"), ("binance", "ETH-USDT")]
    assert snapshot(btc_store.folder("binance", "BTC/USDT")) == before  # BTC untouched
    assert btc_store.read(symbol="BTC/USDT")["close"].iloc[0] == 42_000.0
    assert btc_store.read(symbol="ETH/USDT")["close"].iloc[0] == 2_300.0


def test_disagreeing_prices_are_refused_naming_series_and_size(btc_store, write_binance):
    before = snapshot(btc_store.root)
    eth_as_btc = write_binance(name="BTCUSDT-1m-2024-01-eth.csv", lines=priced_lines(2_300.0))
    with pytest.raises(DataError) as exc:
        import_candle_files(btc_store, eth_as_btc, symbol="BTC/USDT", source="binance")
    msg = str(exc.value)
    assert "\n" not in msg and "BTCUSDT-1m-2024-01-eth.csv" in msg
    assert "binance/BTC-USDT" in msg and "median 94.5%" in msg and "30 overlapping minutes" in msg
    assert snapshot(btc_store.root) == before
    # the store itself refuses, whoever calls it
    frame = load_candles(eth_as_btc)
    with pytest.raises(DataError, match=r"binance/BTC-USDT series by a median 94\.5%"):
        btc_store.append(frame, source="binance", symbol="BTC/USDT")
    assert snapshot(btc_store.root) == before


def test_small_disagreements_are_accepted(btc_store, write_binance):
    newer = write_binance(name="BTCUSDT-1m-2024-01.csv", lines=priced_lines(42_100.0, n=40))
    assert import_candle_files(btc_store, newer)["new_rows"] == 10
    assert btc_store.read(symbol="BTC/USDT")["close"].iloc[0] == 42_100.0  # newest write wins


def test_file_name_without_symbol_needs_symbol(btc_store, tmp_path, write_binance, capsys):
    before = snapshot(btc_store.root)
    path = write_binance(name="prices.csv", lines=priced_lines(2_300.0))
    argv = ["fetch", "--archive", str(path), "--store", str(btc_store.root)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "prices.csv: the file name does not tell the market" in err
    assert "--symbol" in err and snapshot(btc_store.root) == before
    assert main([*argv, "--symbol", "ETH/USDT", "--source-name", "kaggle"]) == 0
    assert ("kaggle", "ETH-USDT") in btc_store.series()


def test_symbol_option_that_contradicts_the_file_name_is_refused(btc_store, write_binance, capsys):
    path = write_binance(name="ETHUSDT-1m-2024-01.csv", lines=priced_lines(2_300.0))
    argv = ["fetch", "--archive", str(path), "--store", str(btc_store.root), "--symbol", "BTC/USDT"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ETHUSDT-1m-2024-01.csv: the file name says ETH/USDT but --symbol is BTC/USDT" in err
    assert btc_store.series() == [("binance", "BTC-USDT")]


def test_a_bad_file_among_good_ones_writes_nothing(btc_store, tmp_path, write_binance):
    before = snapshot(btc_store.root)
    folder = tmp_path / "import"
    folder.mkdir()
    good = write_binance(name="ETHUSDT-1m-2024-01.csv", lines=priced_lines(2_300.0))
    bad = write_binance(name="BTCUSDT-1m-2024-02.csv", lines=priced_lines(2_300.0))
    shutil.move(good, folder / good.name)
    shutil.move(bad, folder / "BTCUSDT-1m-2024-01.csv")
    with pytest.raises(DataError, match="BTCUSDT-1m-2024-01.csv: store .* median 94.5%"):
        import_candle_files(btc_store, folder)
    assert snapshot(btc_store.root) == before


def test_real_btc_month_named_ethusdt_lands_beside_btc(tmp_path, archives, capsys):
    store = tmp_path / "store"
    assert main(["fetch", "--archive", str(archives[13]), "--store", str(store)]) == 0
    btc = snapshot(store / "binance" / "BTC-USDT")
    eth = tmp_path / "ETHUSDT-1m-2025-02.zip"
    shutil.copy(archives[13], eth)
    out = tmp_path / "f.json"
    assert main(["fetch", "--archive", str(eth), "--store", str(store), "--json", str(out)]) == 0
    (series,) = json.loads(out.read_text())["series"]
    assert (series["source"], series["symbol"], series["rows"]) == ("binance", "ETH/USDT", 40_320)
    assert snapshot(store / "binance" / "BTC-USDT") == btc
    assert "binance ETH/USDT: 40,320 candles" in capsys.readouterr().out


# ---- folders with nothing to import -------------------------------------------------------------


def test_fetch_archive_on_a_folder_without_candle_files(tmp_path, capsys):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing here")
    store = tmp_path / "store"
    assert main(["fetch", "--archive", str(folder), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: no .zip/.csv/.csv.gz candle files in {folder}; check the folder"
    assert not store.exists()
    assert main(["fetch", "--archive", str(tmp_path / "nowhere"), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nowhere'}: no such file or folder; check the path"
    assert not store.exists()


# ---- damaged store files ------------------------------------------------------------------------


@pytest.fixture
def broken_store(tmp_path, candles):
    """binance/BTC-USDT with 2024-12 healthy (1,440 rows) and 2025-01 overwritten with junk."""
    store = CandleStore(tmp_path / "store")
    data = candles.copy()
    data.index = data.index - pd.Timedelta(days=1)
    store.append(data, source="binance", symbol="BTC/USDT")
    bad = store.months("binance", "BTC/USDT")[1]
    bad.write_bytes(b"PAR1 this is not parquet at all PAR1")
    return store, bad


def test_store_read_and_load_candles_name_the_damaged_file(broken_store):
    store, bad = broken_store
    for read in (
        lambda: store.read(symbol="BTC/USDT"),
        lambda: load_candles(store, symbol="BTC/USDT"),
        lambda: store.last_time(source="binance", symbol="BTC/USDT"),
        store.info,
    ):
        with pytest.raises(DataError) as exc:
            read()
        msg = str(exc.value)
        assert "\n" not in msg and str(bad) in msg
        assert msg.endswith("delete it and fetch that month again")
    # the healthy month is still readable on its own
    assert len(store.read(symbol="BTC/USDT", end="2025-01-01")) == 1440


def test_data_info_reports_healthy_months_and_broken_files(broken_store, tmp_path, capsys):
    store, bad = broken_store
    out = tmp_path / "info.json"
    assert main(["data", "info", "--store", str(store.root), "--json", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    healthy = [line for line in printed if line.startswith("binance    BTC-USDT")]
    assert len(healthy) == 1 and "1,440 candles" in healthy[0]
    assert any(
        line.startswith("broken") and str(bad) in line and "fetch that month again" in line
        for line in printed
    )
    info = json.loads(out.read_text())
    (series,) = info["series"]
    assert (series["rows"], series["months"], series["missing"]) == (1440, 1, 0)
    (broken,) = info["broken"]
    assert broken["path"] == str(bad) and "delete it and fetch that month again" in broken["error"]


def test_appending_into_a_damaged_month_is_refused(broken_store, candles):
    store, bad = broken_store
    before = bad.read_bytes()
    with pytest.raises(DataError, match="unreadable store file"):
        store.append(candles.iloc[-10:], source="binance", symbol="BTC/USDT")
    assert bad.read_bytes() == before


def test_a_parquet_file_that_is_not_candles_is_named(tmp_path):
    store = CandleStore(tmp_path / "store")
    path = store.folder("binance", "BTC/USDT") / "2024-01.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    with pytest.raises(DataError, match="2024-01.parquet: not a candle file .* fetch that month"):
        store.read(symbol="BTC/USDT")


# ---- permissions --------------------------------------------------------------------------------


def test_written_files_get_normal_permissions(tmp_path, candles):
    old = os.umask(0o022)
    try:
        store = CandleStore(tmp_path / "store")
        store.append(candles, source="sim", symbol="BTC/USD")
        (month,) = store.months("sim", "BTC/USD")
        written = write_json(tmp_path / "out" / "result.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(month.stat().st_mode) == 0o644
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert json.loads(written.read_text()) == {"a": 1}
