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

Optional columns (:data:`cryptousd.config.OPTIONAL_COLUMNS`), present only where the source has
them, never made up as zeros:

- ``trades``: the number of trades in the candle;
- ``taker_buy``: the base-asset volume bought by takers (same unit as ``volume``), so
  ``0 <= taker_buy <= volume``; a NaN means "not known for this candle" (a frame merged from
  sources with and without it) and readers treat a column with any NaN as partial.

Gap filling gives inserted candles ``trades`` 0 and ``taker_buy`` 0 (nothing traded); resampling
sums both like volume (a bucket with a candle of unknown value is unknown, NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import INTERVAL, OHLCV, OPTIONAL_COLUMNS, TAKER_BUY, TRADES
from ..errors import DataError
from ..times import epoch_to_ns, index_ns

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
    if TAKER_BUY in candles.columns:
        _check_taker_buy(candles, v, name)
    interval = interval or frame_interval(candles)
    check_time_order(index_ns(idx), name=name, interval=interval, allow_gaps=allow_gaps)
    return candles


def impossible_taker_buy(taker_buy: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """Rows whose taker-buy volume is negative, infinite or above the volume (beyond rounding).

    NaN (not known) is not impossible.
    """
    tb = np.asarray(taker_buy, dtype="float64")
    v = np.asarray(volume, dtype="float64")
    with np.errstate(invalid="ignore"):
        return (tb < 0) | np.isinf(tb) | (tb > v * (1 + 1e-9) + 1e-12)


def _check_taker_buy(candles: pd.DataFrame, volume: np.ndarray, name: str) -> None:
    col = candles[TAKER_BUY]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise DataError(
            f"{name}: {TAKER_BUY} column is {col.dtype}, not numbers; "
            "give it the taker-buy base volume or drop the column"
        )
    tb = col.to_numpy(dtype="float64", na_value=np.nan)
    bad = impossible_taker_buy(tb, volume)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: impossible {TAKER_BUY} {tb[i]} at {candles.index[i]} (volume {volume[i]}); "
            "taker-buy volume must be between 0 and the candle's volume: repair or drop that row"
        )


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
            # only the inserted rows: a NaN in a real row means "not known", kept as it is
            out[col] = out[col].where(~new, 0)
    if TRADES in out.columns and pd.api.types.is_integer_dtype(candles[TRADES].dtype):
        out[TRADES] = out[TRADES].astype(candles[TRADES].dtype)
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
    present = grouped["close"].count()
    for col in OPTIONAL_COLUMNS:  # summed like volume; unknown (NaN) if any candle's is unknown
        if col in candles.columns:
            total = grouped[col].sum()
            known = grouped[col].count() == present
            out[col] = total if known.all() else total.where(known)
    if complete_only:
        out = out[present == per_bucket]
    out.index.name = "open_time"
    out = out.dropna(subset=OHLCV)
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
        An optional ``side`` column holds the taker's side, ``"buy"`` or ``"sell"`` (as ccxt
        gives it).
    interval : bucket width, ``"1min"`` by default.

    Returns
    -------
    A candle frame from the first to the last traded interval, with a ``trades`` column (count)
    and, when the trades have a ``side``, a ``taker_buy`` column (the qty of the buys).
    Intervals with no trade carry the previous close with volume 0 (and taker_buy 0).

    Raises
    ------
    DataError : a missing column, a bad price or quantity, or a side other than buy/sell.
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
    buy_qty = None
    if "side" in trades.columns:
        side = trades["side"].to_numpy(dtype=object)
        is_buy = side == "buy"
        other = ~(is_buy | (side == "sell"))
        if other.any():
            bad = side[int(np.flatnonzero(other)[0])]
            raise DataError(
                f"trades: side {bad!r} is neither 'buy' nor 'sell' (the taker's side); "
                "fix those trades or drop the side column"
            )
        buy_qty = np.where(is_buy, qty, 0.0)
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")
        t, price, qty = t[order], price[order], qty[order]
        if buy_qty is not None:
            buy_qty = buy_qty[order]
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
    extra = {TRADES: count}
    if buy_qty is not None:
        taker_buy = np.zeros(n)
        # clipped: float summation order must not put a candle's buys above its volume
        taker_buy[pos] = np.minimum(np.add.reduceat(buy_qty, starts), volume[pos])
        extra[TAKER_BUY] = taker_buy
    times = (np.arange(n, dtype="int64") + first) * step
    out = make_candle_frame(times, open_, high, low, close_ff, volume, **extra)
    out.attrs["interval"] = interval_name(step)
    return out
