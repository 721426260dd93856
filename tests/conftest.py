"""Shared fixtures: real Binance minutes (the bundled sample always, the 15 months where they
are on disk), small synthetic candles, temp stores.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cryptousd.config import SHARED_BINANCE_DIR
from cryptousd.data.locate import FETCH_HINT, SAMPLE_FILE
from cryptousd.data.sources.replay import simulate_candles


def full_history() -> list:
    """The 15 real months 2024-01..2025-03: ../shared/data where it exists, else data/archive."""
    from cryptousd.data.locate import full_history_files

    return full_history_files()


def need_numba() -> None:
    """The numba path's tests: skipped where the optional ``fast`` extra is not installed, a
    failure under CI (run.py and CI install it, so a skip there would hide a broken install)."""
    from cryptousd.forecast.numpy_lstm import jit_wanted

    if not jit_wanted():
        why = "numba is not installed (pip install -e '.[fast]')"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def archives():
    """The 15 real months. On a clone alone the tests that need them are skipped with the way to
    fetch them; CI has them (../shared/data), and there a missing month fails instead."""
    files = full_history()
    if len(files) != 15:
        why = (
            "needs the 15 months 2024-01..2025-03 of BTC/USDT minutes (not in "
            f"{SHARED_BINANCE_DIR} nor data/archive); fetch them with `{FETCH_HINT}`"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return files


@pytest.fixture(scope="session")
def recent_file():
    """One real file covering 2025-03-25..31: the March 2025 archive where it is on disk, else the
    bundled sample (the same minutes)."""
    files = full_history()
    return files[14] if files else SAMPLE_FILE


@pytest.fixture(scope="session")
def real_candles():
    """The bundled sample: 10,080 real minutes of 2025-03-25..31 (inside the models' test range)."""
    from cryptousd import load_candles

    return load_candles(SAMPLE_FILE)


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


def pytest_collection_modifyitems(config, items):
    """Mark every test that reads the 15 months, so a clone alone can deselect them by name
    (`-m "not full_history"`) instead of counting skips."""
    for item in items:
        if "archives" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.full_history)


# How long the run will take, said before it starts ------------------------------------------
# A full run took 13 min 40 s for 537 tests on a 2-core machine (CI from a clean clone, issue 21;
# a dashboard kept running beside it); the last run's own time, kept in pytest's cache, is better.
SECONDS_PER_TEST = 820 / 537
_STARTED = time.monotonic()


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def pytest_collection_finish(session):
    n = len(session.items)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or n < 50 or session.config.option.collectonly:
        return
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    cache = getattr(session.config, "cache", None)  # None under -p no:cacheprovider
    last = cache.get("cryptousd/last_run", None) if cache else None
    if last and last.get("n"):
        scaled = last["seconds"] * n / last["n"]
        guess = (
            f"about {_minutes(scaled)} (the last run of {last['n']} tests here took "
            f"{_minutes(last['seconds'])})"
        )
    else:
        guess = f"about {_minutes(n * SECONDS_PER_TEST)} on a 2-core machine"
    busy = f"; the machine is busy (load {load:.1f} on {cores} cores): expect longer" * (
        load > cores
    )
    reporter.write_line(f"[tests] {n} tests: {guess}{busy}. Each dot is a test.")


def pytest_sessionfinish(session, exitstatus):
    n = len(getattr(session, "items", ()))
    cache = getattr(session.config, "cache", None)
    if n >= 50 and cache is not None and exitstatus in (0, 1):
        seconds = time.monotonic() - _STARTED
        cache.set("cryptousd/last_run", {"n": n, "seconds": round(seconds)})
