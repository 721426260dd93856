"""Shared fixtures: the real Binance data in ../shared/data, small synthetic candles, temp
stores.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cryptousd.config import SHARED_BINANCE_DIR, shared_archives
from cryptousd.sources.replay import simulate_candles


@pytest.fixture(scope="session")
def archives():
    files = shared_archives()
    if len(files) != 15:
        pytest.fail(
            f"expected the 15 shared Binance archives in {SHARED_BINANCE_DIR}; "
            "the tests read ../shared/data"
        )
    return files


@pytest.fixture(scope="session")
def month_2025_02(archives):
    from cryptousd import load_candles

    return load_candles(archives[13])


@pytest.fixture
def candles():
    """Three days of simulated one-minute candles (deterministic)."""
    return simulate_candles(3 * 1440, start="2025-01-01", seed=3)


def binance_line(ms: int, o=100.0, h=101.0, lo=99.0, c=100.5, v=1.0, unit="ms") -> str:
    t = ms if unit == "ms" else ms * 1000
    close_t = t + (59_999 if unit == "ms" else 59_999_999)
    return f"{t},{o},{h},{lo},{c},{v},{close_t},{v * c},10,0.5,{0.5 * c},0"


@pytest.fixture
def write_binance(tmp_path):
    """Write a header-less Binance kline CSV (optionally zipped) of n consecutive minutes."""
    import zipfile

    def write(
        name="BTCUSDT-1m-2024-01.csv",
        n=5,
        start_ms=1704067200000,
        unit="ms",
        zipped=False,
        lines=None,
    ):
        lines = (
            lines
            if lines is not None
            else [binance_line(start_ms + i * 60_000, unit=unit) for i in range(n)]
        )
        text = "\n".join(lines) + "\n"
        path = tmp_path / name
        if zipped:
            path = path.with_suffix(".zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(name, text)
        else:
            path.write_text(text)
        return path

    return write


def assert_candle_frame(df: pd.DataFrame) -> None:
    assert (
        isinstance(df.index, pd.DatetimeIndex)
        and str(df.index.tz) == "UTC"
        and df.index.name == "open_time"
    )
    assert df.index.is_monotonic_increasing and df.index.is_unique
    for c in ("open", "high", "low", "close", "volume"):
        assert df[c].dtype == np.float64
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
