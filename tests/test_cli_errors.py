"""Every error a user can meet on the command line is one line on stderr with exit status 2,
and the numbers the CLI writes are the numbers computed another way."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryptousd import load_candles
from cryptousd.cli import main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--start", "notadate"],
        ["backtest", "--start", "notadate"],
        ["evaluate", "--end", "2025-13-45"],
        ["train", "--train-start", "notadate"],
        ["fetch", "--start", "notadate", "--store", "{tmp}/store"],
    ],
)
def test_a_bad_date_is_one_line_naming_the_value(argv, tmp_path, recent_file, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("evaluate", "backtest", "train"):
        argv += ["--data", str(recent_file)]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert "is not a date" in err and ("notadate" in err or "2025-13-45" in err)


@pytest.mark.parametrize(
    "flag,value,word",
    [
        ("--epochs", "0", "epochs 0"),
        ("--batch-size", "0", "batch-size 0"),
        ("--stride", "0", "stride 0"),
        ("--calib-stride", "-1", "calib-stride -1"),
        ("--variant", "sideways", "invalid choice"),
    ],
)
def test_train_refuses_settings_that_cannot_train_before_loading_tensorflow(
    flag, value, word, recent_file, capsys
):
    import sys

    code = None
    try:
        code = main(["train", "--data", str(recent_file), flag, value])
    except SystemExit as exc:  # argparse's own refusal (invalid choice) exits 2 too
        code = exc.code
    assert code == 2 and word in capsys.readouterr().err
    assert "tensorflow" not in sys.modules or "keras" in sys.modules  # nothing was trained


def test_evaluate_stride_zero_is_refused(recent_file, capsys):
    assert main(["evaluate", "--data", str(recent_file), "--stride", "0"]) == 2
    assert "stride 0" in one_line_error(capsys)


def test_evaluate_json_holds_persistence_mae_computed_by_hand(tmp_path, recent_file):
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
    c = load_candles(recent_file)
    close = c["close"].to_numpy()
    first = int(c.index.searchsorted(pd.Timestamp("2025-03-30", tz="UTC")))
    origins = np.arange(first, len(c) - 10, 7)
    assert d["n_origins"] == len(origins) and d["skipped"] == 0
    by_hand = np.mean(np.abs(close[origins + 10] - close[origins]))
    assert d["results"]["persistence"]["10"]["mae"] == pytest.approx(by_hand, rel=1e-12)
    drift = d["results"]["drift"]["10"]
    assert drift["mae_ratio_vs_persistence"] == pytest.approx(drift["mae"] / by_hand, rel=1e-12)


@pytest.mark.parametrize(
    "argv,words",
    [
        (["evaluate", "--start", "2025-03-30", "--end", "2025-03-29"], "is not after start"),
        (["backtest", "--start", "2025-03-30", "--end", "2025-03-30"], "is not after start"),
        (["evaluate", "--start", "2030-01-01"], "is after the data, which end at"),
        (["evaluate", "--json", "{tmp}"], "that is a folder"),
        (["train", "--task", "direction", "--epochs", "0"], "epochs 0"),
        (["train", "--train-start", "2020-01-01", "--train-end", "2020-02-01"], "the data cover"),
        (["data", "info", "--store", "{tmp}/nope"], "no such folder"),
    ],
)
def test_ranges_outputs_and_folders_that_cannot_work_are_one_line(
    argv, words, tmp_path, recent_file, capsys
):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("evaluate", "backtest", "train"):
        argv += ["--data", str(recent_file)]
    assert main(argv) == 2
    assert words in one_line_error(capsys)


def test_a_port_out_of_range_or_taken_is_refused_before_any_address_is_announced(capsys):
    import socket

    for command in ("serve", "dashboard"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--port", "99999"])
        assert exc.value.code == 2 and "give 1..65535" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "dashboard"):
            assert main([command, "--port", str(port)]) == 2
            out_err = capsys.readouterr()
            assert f"127.0.0.1:{port} is not free" in one_line_error_from(out_err.err)
            assert "http://" not in out_err.out  # no address was announced


def one_line_error_from(err: str) -> str:
    err = err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_run_py_names_an_unknown_task():
    import subprocess
    import sys

    from cryptousd.config import PROJECT_ROOT

    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "run.py"), "dashbaord"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "run.py: unknown task 'dashbaord'; choose one of: "
        "dashboard, serve, test, notebooks, lab, bench, lint"
    )
