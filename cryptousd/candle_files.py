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

from .candle_store import CandleStore
from .candles import check_time_order, fill_gaps, validate_candles
from .config import OHLCV
from .errors import DataError
from .times import epoch_to_ns, index_ns, to_utc

BINANCE_COLUMNS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_asset_volume",
    "number_of_trades", "taker_buy_base_asset_volume", "taker_buy_quote_asset_volume", "ignore",
]

Gaps = Literal["fill", "keep", "raise"]


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


def expand_paths(source) -> list[Path]:
    """Files named by a path, a folder (its .zip and .csv files, sorted) or a list of these."""
    if isinstance(source, (list, tuple)):
        out: list[Path] = []
        for s in source:
            out.extend(expand_paths(s))
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
        of these, or a :class:`~cryptousd.candle_store.CandleStore` (or ``"store"`` for the default one).
    start, end : optional time range, ``[start, end)``, anything ``pd.Timestamp`` reads (UTC).
    symbol, store_source : which series to read when ``source`` is a store.
    gaps : ``"fill"`` (default) inserts flat candles at the previous close with volume 0 and marks
        them in a ``filled`` column; ``"keep"`` leaves the holes; ``"raise"`` refuses them.

    Raises
    ------
    DataError : a one-line message naming the file and what is wrong.
    """
    if isinstance(source, str) and source == "store":
        source = CandleStore()
    if isinstance(source, CandleStore):
        frame = source.read(symbol=symbol, source=store_source, start=start, end=end)
        name = f"store {source.root}"
    else:
        files = expand_paths(source)
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

