"""Reading candles from files: Binance bulk archives, generic OHLCV CSVs, Parquet, the local store.

:func:`load_candles` is the one entry point. Everything it returns is a validated candle frame
(see :mod:`cryptousd.candles`); everything it rejects raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from .candles import check_time_order, fill_gaps, index_ns, validate_candles
from .config import OHLCV
from .errors import DataError

BINANCE_COLUMNS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_asset_volume",
    "number_of_trades", "taker_buy_base_asset_volume", "taker_buy_quote_asset_volume", "ignore",
]

# epoch magnitude -> unit: seconds ~1.7e9, ms ~1.7e12, us ~1.7e15, ns ~1.7e18
_UNIT_BOUNDS = [(1e11, "s", 1_000_000_000), (1e14, "ms", 1_000_000), (1e17, "us", 1_000), (np.inf, "ns", 1)]

Gaps = Literal["fill", "keep", "raise"]


def epoch_units(values: np.ndarray) -> np.ndarray:
    """Index into ``_UNIT_BOUNDS`` for each epoch number (0 = s, 1 = ms, 2 = us, 3 = ns)."""
    a = np.abs(np.asarray(values, dtype="float64"))
    return np.searchsorted(np.array([b for b, _, _ in _UNIT_BOUNDS[:-1]]), a, side="right")


def epoch_to_ns(values: np.ndarray, *, name: str) -> np.ndarray:
    """Epoch numbers in one unit (s, ms, us or ns, told apart by magnitude) to int64 ns.

    Raises :class:`DataError` when one file mixes units (Binance switched its spot archive from
    milliseconds to microseconds on 2025-01-01, so a hand-concatenated file can).
    """
    values = np.asarray(values)
    if len(values) == 0:
        return values.astype("int64")
    units = epoch_units(values)
    if (units != units[0]).any():
        found = sorted({_UNIT_BOUNDS[u][1] for u in np.unique(units)})
        i = int(np.flatnonzero(units != units[0])[0])
        raise DataError(
            f"{name}: mixed timestamp units ({' and '.join(found)}) in one file, first change at row {i + 1}; "
            "split the file by unit"
        )
    mult = _UNIT_BOUNDS[int(units[0])][2]
    if np.issubdtype(values.dtype, np.floating):
        if not np.isfinite(values).all():
            raise DataError(f"{name}: missing or non-numeric timestamps")
        return np.round(values * mult).astype("int64")
    return values.astype("int64") * mult


def _read_bytes(path: Path) -> tuple[bytes, str]:
    """The CSV bytes of a file (unzipping a Binance archive) and a display name."""
    name = path.name
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path (archives are BTCUSDT-1m-YYYY-MM.zip)")
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError(f"{name}: expected one CSV inside the zip, found {len(members)}")
                data = zf.read(members[0])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
            # a truncated directory, a bad CRC or a damaged deflate stream
            raise DataError(f"{name}: truncated or corrupt zip ({exc}); download it again") from None
        return data, name
    return path.read_bytes(), name


def _is_headerless(first_line: bytes) -> bool:
    first = first_line.split(b",")[0].strip()
    try:
        float(first)
        return True
    except ValueError:
        return False


_NAN_WORDS = ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]


def _first_bad_number(frame: pd.DataFrame, cols: Iterable[str]) -> tuple[str, int, str] | None:
    for col in cols:
        as_num = pd.to_numeric(frame[col], errors="coerce")
        spelled_nan = frame[col].astype(str).str.strip().str.lower().isin(_NAN_WORDS)
        bad = as_num.isna() & ~spelled_nan  # NaN/inf are numbers; validation names them
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            return col, i, str(frame[col].iloc[i])
    return None


def _parse_binance(data: bytes, name: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.BytesIO(data), header=None, dtype=str, engine="c", na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: rows with different numbers of columns ({str(exc).strip()}); the file is damaged") from None
    if raw.shape[1] != len(BINANCE_COLUMNS):
        raise DataError(
            f"{name}: {raw.shape[1]} columns, a Binance kline file has {len(BINANCE_COLUMNS)}; "
            "is this a different export? Give it a header row (time,open,high,low,close,volume)"
        )
    raw.columns = BINANCE_COLUMNS
    bad = _first_bad_number(raw, ["open_time", *OHLCV])
    if bad:
        col, i, val = bad
        raise DataError(f"{name}: non-numeric {col} {val!r} on line {i + 1}; repair or drop that line")
    times = epoch_to_ns(raw["open_time"].astype("int64").to_numpy(), name=name)
    frame = pd.DataFrame(
        {c: raw[c].astype("float64").to_numpy() for c in OHLCV},
        index=pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="open_time"),
    )
    frame["trades"] = pd.to_numeric(raw["number_of_trades"], errors="coerce").fillna(0).astype("int64").to_numpy()
    return frame


_TIME_NAMES = ["open_time", "timestamp", "time", "datetime", "date", "unix", "start", "open time", "time_period_start"]


def _pick(columns: dict[str, str], wanted: str) -> str | None:
    if wanted in columns:
        return columns[wanted]
    for low, orig in columns.items():
        if low.startswith(wanted):
            return orig
    return None


def _parse_generic(data: bytes, name: str) -> pd.DataFrame:
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    skip = 0
    while skip < len(lines) and ("," not in lines[skip] or lines[skip].lower().startswith("http")):
        skip += 1  # CryptoDataDownload puts a URL line before the header
    try:
        raw = pd.read_csv(io.StringIO(text), skiprows=skip, dtype=str, na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: rows with different numbers of columns ({str(exc).strip()}); the file is damaged") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: empty file; nothing to load") from None
    columns = {c.strip().lower(): c for c in raw.columns}
    tcol = next((columns[t] for t in _TIME_NAMES if t in columns), None)
    picked = {c: _pick(columns, c) for c in OHLCV}
    if picked["volume"] is None:
        picked["volume"] = _pick(columns, "vol")
    missing = [c for c, v in picked.items() if v is None]
    if tcol is None or missing:
        need = (["a time column"] if tcol is None else []) + missing
        raise DataError(
            f"{name}: cannot find {', '.join(need)} among the header {list(raw.columns)}; "
            "expected time/timestamp, open, high, low, close, volume"
        )
    if len(raw) == 0:
        raise DataError(f"{name}: header but no rows; nothing to load")
    bad = _first_bad_number(raw, [picked[c] for c in OHLCV])
    if bad:
        col, i, val = bad
        raise DataError(f"{name}: non-numeric {col} {val!r} on data row {i + 1}; repair or drop that row")
    tvals = raw[tcol]
    as_num = pd.to_numeric(tvals, errors="coerce")
    if as_num.notna().all():
        times = epoch_to_ns(as_num.to_numpy(), name=name)
    else:
        try:
            parsed = pd.to_datetime(tvals, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise DataError(f"{name}: unreadable time in column {tcol!r} ({exc}); use ISO 8601 or epoch numbers") from None
        times = parsed.array.as_unit("ns").asi8
    return pd.DataFrame(
        {c: raw[picked[c]].astype("float64").to_numpy() for c in OHLCV},
        index=pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="open_time"),
    )


def _reverse_if_newest_first(frame: pd.DataFrame) -> pd.DataFrame:
    ns = index_ns(frame.index)
    if len(ns) > 1 and (np.diff(ns) < 0).all():
        return frame.iloc[::-1]
    return frame


def read_candle_file(path: str | os.PathLike) -> pd.DataFrame:
    """One file (Binance zip/CSV, generic CSV with header, or Parquet) as a validated frame, gaps kept."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataError(f"{path.name}: unreadable Parquet file ({exc})") from None
    else:
        data, name = _read_bytes(path)
        if not data.strip():
            raise DataError(f"{name}: empty file; nothing to load")
        first_line = data.lstrip()[:200].splitlines()[0]
        frame = _parse_binance(data, name) if _is_headerless(first_line) else _parse_generic(data, name)
        frame = _reverse_if_newest_first(frame)
    return validate_candles(frame, name=path.name, allow_gaps=True)


def _expand(source) -> list[Path]:
    if isinstance(source, (list, tuple)):
        out: list[Path] = []
        for s in source:
            out.extend(_expand(s))
        return out
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".zip", ".csv"})
        if not files:
            raise DataError(f"{path}: no .zip or .csv candle files in this folder")
        return files
    return [path]


def load_candles(
    source,
    *,
    start=None,
    end=None,
    symbol: str | None = None,
    store_source: str | None = None,
    gaps: Gaps = "fill",
) -> pd.DataFrame:
    """Load a candle frame from files or the local store.

    Parameters
    ----------
    source : a Binance archive (zip or CSV, header-less, ms or us timestamps), a generic OHLCV CSV
        with a header (ISO or epoch times), a Parquet file, a folder of such files, a list of any
        of these, or a :class:`~cryptousd.store.CandleStore` (or ``"store"`` for the default one).
    start, end : optional time range, ``[start, end)``, anything ``pd.Timestamp`` reads (UTC).
    symbol, store_source : which series to read when ``source`` is a store.
    gaps : ``"fill"`` (default) inserts flat candles at the previous close with volume 0 and marks
        them in a ``filled`` column; ``"keep"`` leaves the holes; ``"raise"`` refuses them.

    Raises
    ------
    DataError : a one-line message naming the file and what is wrong.
    """
    from .store import CandleStore

    if isinstance(source, str) and source == "store":
        source = CandleStore()
    if isinstance(source, CandleStore):
        frame = source.read(symbol=symbol, source=store_source, start=start, end=end)
        name = f"store {source.root}"
    else:
        files = _expand(source)
        parts = [read_candle_file(p) for p in files]
        name = files[0].name if len(files) == 1 else f"{files[0].name} .. {files[-1].name}"
        frame = parts[0] if len(parts) == 1 else pd.concat(parts)
        if len(parts) > 1:
            try:
                check_time_order(index_ns(frame.index), name=name)
            except DataError as exc:
                raise DataError(f"{exc} (files overlap or are given out of order)") from None
        frame = _slice(frame, start, end)
    if len(frame) == 0:
        raise DataError(f"{name}: no candles in the requested range {start} .. {end}")
    if gaps == "fill":
        frame, _ = fill_gaps(frame)
    elif gaps == "raise":
        validate_candles(frame, name=name, allow_gaps=False)
    return frame


def _slice(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame.index >= to_utc(start)]
    if end is not None:
        frame = frame[frame.index < to_utc(end)]
    return frame


def to_utc(ts) -> pd.Timestamp:
    """Anything ``pd.Timestamp`` reads, as a UTC timestamp (naive means UTC)."""
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
