"""The command line: help everywhere, JSON results, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from cryptousd.cli import main

COMMANDS = ["fetch", "data", "train", "evaluate", "backtest", "dashboard", "bench", "notebooks"]


def test_console_script_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "cryptousd.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for c in COMMANDS:
        assert c in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and "--json" in capsys.readouterr().out


def test_fetch_archive_then_data_info(tmp_path, archives, capsys):
    store = tmp_path / "store"
    assert (
        main(
            [
                "fetch",
                "--archive",
                str(archives[13]),
                "--store",
                str(store),
                "--json",
                str(tmp_path / "f.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "f.json").read_text())["new_rows"] == 40_320
    assert main(["data", "info", "--store", str(store), "--json", str(tmp_path / "i.json")]) == 0
    info = json.loads((tmp_path / "i.json").read_text())
    (series,) = info["series"]
    assert series["symbol"] == "BTC-USDT" and series["rows"] == 40_320 and series["missing"] == 0
    assert "40,320 candles" in capsys.readouterr().out


def test_evaluate_writes_the_documented_json(tmp_path, recent_file, capsys):
    out = tmp_path / "e.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(recent_file),
                "--start",
                "2025-03-30",
                "--stride",
                "7",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert set(d) >= {"model", "data", "start", "end", "n_origins", "skipped", "results"}
    assert set(d["results"]) == {d["model"], "persistence", "drift", "ar"}
    row = d["results"]["ar"]["10"]
    assert set(row) >= {
        "mae",
        "rmse",
        "mae_bps",
        "mae_ratio_vs_persistence",
        "direction_accuracy",
        "direction_ci_low",
        "direction_ci_high",
        "coverage",
        "interval_width",
        "dm_pvalue",
        "brier",
        "brier_base",
        "direction_majority_baseline",
        "direction_base_rate",
        "direction_ci_method",
        "interval_width_bps",
        "coverage_by_vol_quintile",
        "coverage_by_hour",
    }
    assert len(row["coverage_by_vol_quintile"]) == 5 and len(row["coverage_by_hour"]) == 24
    assert row["direction_ci_method"].startswith(
        "moving-block bootstrap"
    )  # stride 7 < 10: outcomes overlap
    assert row["direction_ci_low"] <= row["direction_accuracy"] <= row["direction_ci_high"]
    assert d["results"]["persistence"]["1"]["mae_ratio_vs_persistence"] == 1.0
    assert d["n_origins"] > 250 and "origins from" in capsys.readouterr().out


def test_backtest_json(tmp_path, recent_file):
    out = tmp_path / "b.json"
    assert (
        main(
            [
                "backtest",
                "--data",
                str(recent_file),
                "--start",
                "2025-03-25",
                "--fee-bps",
                "5",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert d["fee_bps"] == 5 and set(d["results"]) >= {"persistence", "buy_and_hold"}
    assert {"total_return", "sharpe", "max_drawdown", "hit_rate", "turnover", "trades"} <= set(
        d["results"]["buy_and_hold"]
    )


def test_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path / "missing.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "missing.zip: no such file" in err and "\n" not in err
    assert main(["evaluate", "--model", "nope"]) == 2
    assert "no model folder 'nope'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["data", "info", "--store", str(tmp_path / "empty")]) == 0
    assert "empty" in capsys.readouterr().out


def test_fetch_from_an_exchange_goes_through_the_store(tmp_path, candles, monkeypatch, capsys):
    from cryptousd.data.sources import exchange

    seen = {}

    def history(self, start, end=None, progress=None):
        seen["range"] = (start, end, self.exchange, self.symbol)
        progress(len(candles))
        return candles

    monkeypatch.setattr(exchange.ExchangeSource, "history", history)
    store = tmp_path / "store"
    assert (
        main(
            [
                "fetch",
                "--exchange",
                "kraken",
                "--start",
                "2025-01-01",
                "--end",
                "2025-01-04",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert seen["range"][2:] == ("kraken", "BTC/USD")
    assert f"{len(candles)} new candles" in capsys.readouterr().out
    assert main(["data", "info", "--store", str(store)]) == 0
    assert "kraken" in capsys.readouterr().out
    # without --start, a series already in the store continues from its last candle
    assert (
        main(
            [
                "fetch",
                "--exchange",
                "kraken",
                "--end",
                "2025-01-05",
                "--days",
                "30",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert seen["range"][0] == candles.index[-1] + pd.Timedelta("1min")
