"""The candle frame: validation, gap handling, resampling and building candles from trades.

A candle frame is a ``pandas.DataFrame`` indexed by a tz-aware UTC ``DatetimeIndex`` named
``open_time`` (start of the interval), strictly increasing at a fixed interval, with float64 columns
``open, high, low, close, volume`` (more columns allowed) and ``low <= open, close <= high``.
The interval is one minute unless the frame says otherwise in ``frame.attrs["interval"]`` (a
pandas offset string such as ``"5min"``, ``"1h"``, ``"1D"``); validation, gap finding and gap
filling use the frame's interval.

Rules for messy input (documented, applied everywhere):

- rows out of order or duplicated inside one file are an error (:class:`DataError`); the one
  exception is a file sorted strictly newest-first (as some exporters write), which is reversed;
- the local store de-duplicates on ``open_time`` with the newest write winning;
- missing minutes are found by :func:`find_gaps` and filled by :func:`fill_gaps` with the previous
  close and volume 0; filled rows are marked in a boolean ``filled`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import INTERVAL, OHLCV
from .errors import DataError
from .times import epoch_to_ns, index_ns

__all__ = [
    "GapReport",
    "build_candles",
    "detect_interval",
    "fill_gaps",
    "find_gaps",
    "frame_interval",
    "interval_name",
    "make_candle_frame",
    "resample_candles",
    "validate_candles",
]


def interval_name(step_ns: int) -> str:
    """A spacing in nanoseconds as an offset string: ``"1min"``, ``"5min"``, ``"1h"``, ``"1D"``."""
    step_ns = int(step_ns)
    units = (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9))
    for unit, size in units:
        if step_ns % size == 0:
            return f"{step_ns // size}{unit}"
    return f"{step_ns}ns"


def detect_interval(index: pd.DatetimeIndex | np.ndarray) -> str | None:
    """The interval of a candle index: the most common spacing of its timestamps.

    Parameters
    ----------
    index : a ``DatetimeIndex`` or int64 nanoseconds, oldest first.

    Returns
    -------
    A pandas offset string (``"1min"``, ``"5min"``, ``"1h"``, ``"1D"``), or ``None`` when fewer
    than two increasing timestamps leave nothing to measure.
    """
    if isinstance(index, pd.DatetimeIndex):
        ns = index_ns(index)
    else:
        ns = np.asarray(index, dtype="int64")
    d = np.diff(ns)
    d = d[d > 0]
    if len(d) == 0:
        return None
    values, counts = np.unique(d, return_counts=True)
    return interval_name(int(values[np.argmax(counts)]))  # ties: the smaller spacing


def frame_interval(candles: pd.DataFrame, default: str = INTERVAL) -> str:
    """The interval a frame declares in ``attrs["interval"]`` (``default`` when it has none)."""
    return str(candles.attrs.get("interval") or default)


def make_candle_frame(open_time, open_, high, low, close, volume, **extra) -> pd.DataFrame:
    """Assemble a candle frame from arrays (``open_time`` as UTC datetimes or int64 ns)."""
    index = pd.DatetimeIndex(pd.to_datetime(open_time, utc=True), name="open_time")
    cols = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    frame = pd.DataFrame({k: np.asarray(v, dtype="float64") for k, v in cols.items()}, index=index)
    for k, v in extra.items():
        frame[k] = np.asarray(v)
    return frame


def validate_candles(
    candles: pd.DataFrame,
    *,
    name: str = "candles",
    interval: str | None = None,
    allow_gaps: bool = False,
) -> pd.DataFrame:
    """Check the candle-frame contract and return the frame unchanged; raise :class:`DataError`.

    Parameters
    ----------
    candles : DataFrame to check.
    name : what to call it in error messages (a file name, a source).
    interval : the fixed spacing of the index; by default the frame's own
        (``candles.attrs["interval"]``, one minute when it has none).
    allow_gaps : accept missing intervals (the index still has to be increasing and on the grid).
    """
    if not isinstance(candles, pd.DataFrame):
        raise DataError(
            f"{name}: expected a pandas DataFrame of candles, got {type(candles).__name__}"
        )
    missing = [c for c in OHLCV if c not in candles.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)}; "
            f"a candle frame needs {', '.join(OHLCV)}"
        )
    idx = candles.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None or str(idx.tz) != "UTC":
        raise DataError(f"{name}: the index must be a tz-aware UTC DatetimeIndex named open_time")
    if len(candles) == 0:
        raise DataError(f"{name}: no candles")
    values = candles[OHLCV].to_numpy(dtype="float64", copy=False)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{name}: NaN or infinite {OHLCV[col]} at {idx[row]}; drop or repair that row"
        )
    o, h, lo, c, v = values.T
    bad_rows = (h < lo) | (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (lo <= 0) | (v < 0)
    if bad_rows.any():
        i = int(np.flatnonzero(bad_rows)[0])
        raise DataError(
            f"{name}: impossible candle at {idx[i]} "
            f"(open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]}, "
            f"volume {v[i]}); high must be >= open, close >= low > 0 and volume >= 0"
        )
    interval = interval or frame_interval(candles)
    check_time_order(index_ns(idx), name=name, interval=interval, allow_gaps=allow_gaps)
    return candles


def check_time_order(
    ns: np.ndarray, *, name: str, interval: str = INTERVAL, allow_gaps: bool = True
) -> None:
    """Raise :class:`DataError` for duplicated, out-of-order or off-grid timestamps (int64 ns)."""
    step = pd.Timedelta(interval).value
    if len(ns) == 0:
        return
    d = np.diff(ns)
    if (d == 0).any():
        i = int(np.flatnonzero(d == 0)[0])
        raise DataError(
            f"{name}: duplicated timestamp {pd.Timestamp(ns[i], tz='UTC')}; "
            "each interval must appear once"
        )
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0])
        raise DataError(
            f"{name}: timestamps out of order at {pd.Timestamp(ns[i + 1], tz='UTC')} "
            f"(after {pd.Timestamp(ns[i], tz='UTC')}); sort the rows by time"
        )
    # intervals that divide a day sit on the epoch grid; longer ones (a week) on the first candle's
    grid = ns % step if 86_400 * 10**9 % step == 0 else (ns - ns[0]) % step
    if (grid != 0).any():
        i = int(np.flatnonzero(grid != 0)[0])
        raise DataError(
            f"{name}: timestamp {pd.Timestamp(ns[i], tz='UTC')} is not on the {interval} grid"
        )
    if not allow_gaps and (d != step).any():
        i = int(np.flatnonzero(d != step)[0])
        raise DataError(
            f"{name}: gap after {pd.Timestamp(ns[i], tz='UTC')} ({(d[i] // step) - 1} missing); "
            "fill it with cryptousd.fill_gaps(...) first"
        )


@dataclass(frozen=True)
class GapReport:
    """Where a candle frame has missing intervals."""

    n_missing: int
    gaps: pd.DataFrame  # one row per gap: start (first missing), end (last missing), missing

    def __str__(self) -> str:
        if self.n_missing == 0:
            return "no gaps"
        return f"{self.n_missing} missing interval(s) in {len(self.gaps)} gap(s)"


def find_gaps(candles: pd.DataFrame, interval: str | None = None) -> GapReport:
    """List the runs of missing intervals in an increasing candle index.

    ``interval`` defaults to the frame's own (``candles.attrs["interval"]``, else one minute).
    """
    interval = interval or frame_interval(candles)
    step = pd.Timedelta(interval).value
    ns = index_ns(candles.index)
    d = np.diff(ns)
    where = np.flatnonzero(d > step)
    missing = (d[where] // step - 1).astype("int64")
    gaps = pd.DataFrame(
        {
            "start": pd.to_datetime(ns[where] + step, utc=True),
            "end": pd.to_datetime(ns[where + 1] - step, utc=True),
            "missing": missing,
        }
    )
    return GapReport(int(missing.sum()), gaps)


def fill_gaps(candles: pd.DataFrame, interval: str | None = None) -> tuple[pd.DataFrame, GapReport]:
    """Insert the missing intervals as flat candles at the previous close with volume 0.

    ``interval`` defaults to the frame's own (``candles.attrs["interval"]``, else one minute), so
    five-minute candles are filled with five-minute candles, never with invented minutes.

    Returns the filled frame (with a boolean ``filled`` column marking inserted rows) and the
    :class:`GapReport` of what was filled. The input is not changed.
    """
    interval = interval or frame_interval(candles)
    report = find_gaps(candles, interval)
    out = candles.copy()
    out.attrs["interval"] = interval
    if "filled" not in out.columns:
        out["filled"] = False
    if report.n_missing == 0:
        return out, report
    full = pd.date_range(out.index[0], out.index[-1], freq=interval, name="open_time")
    out = out.reindex(full)
    out.attrs["interval"] = interval
    new = out["close"].isna().to_numpy()
    close = out["close"].ffill()
    for col in ("open", "high", "low", "close"):
        out[col] = out[col].where(~new, close)
    out["volume"] = out["volume"].fillna(0.0)
    out["filled"] = out["filled"].astype("boolean").fillna(True).astype(bool)
    for col in out.columns.difference([*OHLCV, "filled"]):
        if pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].fillna(0)
    return out, report


def resample_candles(
    candles: pd.DataFrame, rule: str = "5min", *, complete_only: bool = True
) -> pd.DataFrame:
    """Aggregate candles to a coarser interval (``"5min"``, ``"15min"``, ``"1h"``).

    Buckets are labelled by their start. With ``complete_only`` a bucket is kept only when every one
    of its source candles is present, so a half-formed last bucket never looks final.
    """
    validate_candles(candles, name="resample input", allow_gaps=True)
    per_bucket = pd.Timedelta(rule) // pd.Timedelta(frame_interval(candles))
    grouped = candles.resample(rule, label="left", closed="left")
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    if complete_only:
        out = out[grouped["close"].count() == per_bucket]
    out.index.name = "open_time"
    out = out.dropna()
    out.attrs["interval"] = interval_name(pd.Timedelta(rule).value)
    return out


def _trade_times_ns(time: pd.Series | np.ndarray) -> np.ndarray:
    """Trade times as int64 UTC nanoseconds; numbers are read as epoch s/ms/us/ns by magnitude."""
    if isinstance(time, pd.Series) and isinstance(time.dtype, pd.DatetimeTZDtype):
        return time.dt.tz_convert("UTC").array.as_unit("ns").asi8
    arr = np.asarray(time)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ns]").astype("int64")
    if np.issubdtype(arr.dtype, np.number):
        return epoch_to_ns(arr, name="trades")
    return pd.to_datetime(arr, utc=True).as_unit("ns").asi8


def build_candles(trades: pd.DataFrame, interval: str = INTERVAL) -> pd.DataFrame:
    """Bucket trades into candles by trade time (never the wall clock).

    Parameters
    ----------
    trades : DataFrame with columns ``time`` (datetimes, or epoch s/ms/us/ns), ``price`` and ``qty``
        (base-currency amount), in any order. Trades with the same time keep their input order.
    interval : bucket width, ``"1min"`` by default.

    Returns
    -------
    A candle frame from the first to the last traded interval, with a ``trades`` column (count).
    Intervals with no trade carry the previous close with volume 0.
    """
    missing = {"time", "price", "qty"} - set(trades.columns)
    if missing:
        raise DataError(
            f"trades: missing column(s) {', '.join(sorted(missing))}; expected time, price, qty"
        )
    if len(trades) == 0:
        raise DataError("trades: no trades to build candles from")
    t = _trade_times_ns(trades["time"])
    price = trades["price"].to_numpy(dtype="float64")
    qty = trades["qty"].to_numpy(dtype="float64")
    if (
        not (np.isfinite(price).all() and np.isfinite(qty).all())
        or (price <= 0).any()
        or (qty < 0).any()
    ):
        raise DataError("trades: prices must be finite and > 0, quantities finite and >= 0")
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")
        t, price, qty = t[order], price[order], qty[order]
    step = pd.Timedelta(interval).value
    bucket = t // step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:] - 1, len(bucket) - 1]
    first, last = bucket[0], bucket[-1]
    n = int(last - first + 1)
    pos = bucket[starts] - first
    close = np.full(n, np.nan)
    close[pos] = price[ends]
    # carry the previous close into empty intervals
    has = np.zeros(n, dtype=bool)
    has[pos] = True
    idx = np.where(has, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    close_ff = close[idx]
    open_ = close_ff.copy()
    high = close_ff.copy()
    low = close_ff.copy()
    volume = np.zeros(n)
    count = np.zeros(n, dtype="int64")
    open_[pos] = price[starts]
    high[pos] = np.maximum.reduceat(price, starts)
    low[pos] = np.minimum.reduceat(price, starts)
    volume[pos] = np.add.reduceat(qty, starts)
    count[pos] = ends - starts + 1
    times = (np.arange(n, dtype="int64") + first) * step
    out = make_candle_frame(times, open_, high, low, close_ff, volume, trades=count)
    out.attrs["interval"] = interval_name(step)
    return out
