"""Reading candles from files: Binance bulk archives, generic OHLCV CSVs, Parquet, the local store.

:func:`load_candles` is the one entry point. Everything it returns is a validated candle frame
(see :mod:`cryptousd.data.candles`); everything it rejects raises :class:`DataError` naming the
file.

What a file holds is read, not assumed:

- its interval is the most common spacing of its timestamps (``frame.attrs["interval"]``);
  :func:`load_candles` asks for one-minute candles unless told otherwise;
- ``dd/mm/yyyy`` and ``mm/dd/yyyy`` dates are told apart by a day above 12; when no value
  decides, the caller says which with ``dayfirst=``;
- zip and gzip files are unpacked, a UTF-8 byte-order mark is skipped; semicolon- or
  tab-separated files, decimal commas and truncated rows are refused with a message that says so;
- the optional ``trades`` (count) and ``taker_buy`` (base volume bought by takers) columns are kept
  where the file has them: Binance archives always (``number_of_trades``,
  ``taker_buy_base_asset_volume``), a file with a header when it has a column of either name. A file
  without them gives a frame without them (absent, never zeros). A non-numeric value is refused
  like a non-numeric price, and so is a taker-buy volume below 0 or above the candle's volume.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..config import INTERVAL, OHLCV, TAKER_BUY, TRADES
from ..errors import DataError
from ..times import epoch_to_ns, index_ns, to_utc
from .candle_store import CandleStore
from .candles import (
    check_time_order,
    detect_interval,
    fill_gaps,
    impossible_taker_buy,
    interval_name,
    validate_candles,
)

BINANCE_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_asset_volume",
    "number_of_trades",
    "taker_buy_base_asset_volume",
    "taker_buy_quote_asset_volume",
    "ignore",
]

Gaps = Literal["fill", "keep", "raise"]


CANDLE_SUFFIXES = (".zip", ".csv", ".csv.gz")


def _read_bytes(path: Path) -> tuple[bytes, str]:
    """The CSV bytes of a file (unzipping a zip, un-gzipping a gzip) and a display name."""
    name = path.name
    if not path.exists():
        raise DataError(
            f"{path}: no such file; check the path (archives are BTCUSDT-1m-YYYY-MM.zip)"
        )
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError(
                        f"{name}: expected one CSV inside the zip, found {len(members)}"
                    )
                data = zf.read(members[0])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
            # a truncated directory, a bad CRC or a damaged deflate stream
            raise DataError(
                f"{name}: truncated or corrupt zip ({exc}); download it again"
            ) from None
    else:
        data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{name}: truncated or corrupt gzip file ({exc}); download it again"
            ) from None
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise DataError(f"{name}: UTF-16 text; save it as UTF-8 (plain CSV) and load it again")
    return data.removeprefix(codecs.BOM_UTF8), name


def _check_separators(data: bytes, name: str) -> None:
    """Refuse semicolon- or tab-separated text (and say when it uses decimal commas)."""
    lines = [ln for ln in data[:4000].splitlines()[:6] if ln.strip()]
    lines = [ln for ln in lines if not ln.lower().startswith(b"http")][:5]
    if not lines:
        return
    for sep, word in ((b";", "semicolons"), (b"\t", "tabs")):
        if all(ln.count(sep) >= 4 and ln.count(sep) > ln.count(b",") for ln in lines):
            decimal = re.search(rb"\d,\d", b"\n".join(lines))
            also = f" and decimal commas (e.g. {decimal.group().decode()!r})" if decimal else ""
            raise DataError(
                f"{name}: fields are separated by {word}{also}, not commas; "
                "export it as comma-separated CSV with '.' decimals"
            )


def _is_headerless(first_line: bytes) -> bool:
    first = first_line.split(b",")[0].strip()
    try:
        float(first)
        return True
    except ValueError:
        return False


_NAN_WORDS = ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def _bad_number_hint(value: str) -> str:
    """What to do about a value that is not a number."""
    if _DECIMAL_COMMA.match(value):
        return "a decimal comma; export the file with '.' decimals"
    return "repair or drop that line"


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
        raise DataError(
            f"{name}: rows with different numbers of columns ({str(exc).strip()}); "
            "not a candle file, or a damaged one"
        ) from None
    if raw.shape[1] != len(BINANCE_COLUMNS):
        raise DataError(
            f"{name}: {raw.shape[1]} columns, a Binance kline file has {len(BINANCE_COLUMNS)}; "
            "is this a different export? Give it a header row (time,open,high,low,close,volume)"
        )
    raw.columns = BINANCE_COLUMNS
    _check_short_rows(raw, data, name)
    optional = {TRADES: "number_of_trades", TAKER_BUY: "taker_buy_base_asset_volume"}
    bad = _first_bad_number(raw, ["open_time", *OHLCV, *optional.values()])
    if bad:
        col, i, val = bad
        hint = _bad_number_hint(val)
        raise DataError(f"{name}: non-numeric {col} {val!r} on line {i + 1}; {hint}")
    times = epoch_to_ns(raw["open_time"].astype("int64").to_numpy(), name=name)
    frame = pd.DataFrame(
        {c: raw[c].astype("float64").to_numpy() for c in OHLCV},
        index=pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="open_time"),
    )
    for col, src in optional.items():
        frame[col] = _optional_values(raw, src, col, frame["volume"], name, "line", unknown=False)
    return frame


def _optional_values(
    raw: pd.DataFrame,
    src: str,
    col: str,
    volume: pd.Series,
    name: str,
    row_word: str,
    *,
    unknown: bool,
) -> np.ndarray:
    """An optional column (``trades`` or ``taker_buy``) read from text column ``src``.

    ``unknown``: empty cells and NaN mean "not known" (a file with a header, written from a frame
    with a partial column); in a Binance archive they are damage and refused.
    Refuses a negative or fractional trade count and a taker-buy volume outside 0..volume.
    """
    text = raw[src].astype(str).str.strip()
    if unknown:
        text = text.where(text != "", "nan")
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    v = volume.to_numpy(dtype="float64")
    nan = np.isnan(values)
    if col == TRADES:
        bad = np.isinf(values) | (values < 0) | (values != np.floor(values))
        what = "a trade count must be a whole number >= 0"
    else:
        bad = impossible_taker_buy(values, v)
        what = f"taker-buy volume must be between 0 and the volume ({src} <= volume)"
    if not unknown:
        bad |= nan
    bad &= ~(nan & unknown)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        extra = f" with volume {v[i]}" if col == TAKER_BUY and not nan[i] else ""
        raise DataError(
            f"{name}: impossible {src} {raw[src].iloc[i]!r}{extra} on {row_word} {i + 1}; "
            f"{what}: repair or drop that {row_word.split()[-1]}"
        )
    if col == TRADES and not nan.any():
        return values.astype("int64")
    return values


def _check_short_rows(raw: pd.DataFrame, data: bytes, name: str) -> None:
    """Refuse rows with fewer fields than the first (pandas pads them with empty strings)."""
    short = (raw[BINANCE_COLUMNS[-1]] == "").to_numpy()
    if not short.any():
        return
    row = int(np.flatnonzero(short)[0])
    lines = [(i, ln) for i, ln in enumerate(data.splitlines()) if ln.strip()]
    line_no, line = lines[row] if row < len(lines) else (row, b"")
    fields = line.count(b",") + 1
    if fields >= len(BINANCE_COLUMNS):  # twelve fields with an empty last one: not truncation
        return
    if row == len(raw) - 1:
        what = "the file is truncated, download it again"
    else:
        what = "the row is damaged; repair or drop it"
    raise DataError(
        f"{name}: line {line_no + 1} has {fields} of {len(BINANCE_COLUMNS)} fields; {what}"
    )


_TIME_NAMES = [
    "open_time",
    "timestamp",
    "time",
    "datetime",
    "date",
    "unix",
    "start",
    "open time",
    "time_period_start",
]


def _pick(columns: dict[str, str], wanted: str) -> str | None:
    if wanted in columns:
        return columns[wanted]
    for low, orig in columns.items():
        if low.startswith(wanted):
            return orig
    return None


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)(.*)$", re.DOTALL)


def _day_first(first: pd.Series, second: pd.Series, text: pd.Series, where: str, dayfirst):
    """Decide the order of ``nn/nn/yyyy`` dates: a value above 12 in either place decides."""
    day_first_seen = np.flatnonzero((first > 12).to_numpy())
    month_first_seen = np.flatnonzero((second > 12).to_numpy())
    if len(day_first_seen) and len(month_first_seen):
        a, b = text.iloc[day_first_seen[0]], text.iloc[month_first_seen[0]]
        raise DataError(
            f"{where} mixes day-first ({a.strip()!r}) and month-first ({b.strip()!r}) dates; "
            "write them one way (ISO 8601 yyyy-mm-dd is safest)"
        )
    detected = True if len(day_first_seen) else False if len(month_first_seen) else None
    if detected is None:
        if dayfirst is None:
            raise DataError(
                f"{where}: dates such as {text.iloc[0].strip()!r} read day-first or month-first "
                "(no value above 12 decides); pass dayfirst=True (dd/mm/yyyy) or dayfirst=False "
                "(mm/dd/yyyy)"
            )
        return bool(dayfirst)
    if dayfirst is not None and bool(dayfirst) != detected:
        i = (day_first_seen if detected else month_first_seen)[0]
        order = "day" if detected else "month"
        raise DataError(
            f"{where}: dayfirst={dayfirst} but {text.iloc[i].strip()!r} can only be {order}-first; "
            f"drop dayfirst= or pass dayfirst={detected}"
        )
    return detected


def _parse_text_times(tvals: pd.Series, name: str, tcol: str, dayfirst) -> np.ndarray:
    """Text times as int64 ns; ``nn/nn/yyyy`` dates are put in ISO order first."""
    tvals = tvals.astype(str)
    parts = tvals.str.extract(_NUMERIC_DATE)
    numeric = parts[0].notna()
    if numeric.any():
        sub = parts[numeric]
        first, second = sub[0].astype("int64"), sub[2].astype("int64")
        where = f"{name}: column {tcol!r}"
        day_first = _day_first(first, second, tvals[numeric], where, dayfirst)
        day, month = (sub[0], sub[2]) if day_first else (sub[2], sub[0])
        year = sub[3].where(sub[3].str.len() == 4, "20" + sub[3])
        iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + sub[4]
        tvals = tvals.where(~numeric, iso)
    try:
        parsed = pd.to_datetime(tvals, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{name}: unreadable time in column {tcol!r} ({' '.join(str(exc).split())}); "
            "use ISO 8601 or epoch numbers"
        ) from None
    return parsed.array.as_unit("ns").asi8


def _parse_generic(data: bytes, name: str, dayfirst: bool | None = None) -> pd.DataFrame:
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    skip = 0
    while skip < len(lines) and ("," not in lines[skip] or lines[skip].lower().startswith("http")):
        skip += 1  # CryptoDataDownload puts a URL line before the header
    try:
        raw = pd.read_csv(io.StringIO(text), skiprows=skip, dtype=str, na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{name}: rows with different numbers of columns ({str(exc).strip()}); "
            "not a candle file, or a damaged one"
        ) from None
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
    optional = {c: _pick_optional(columns, c) for c in _OPTIONAL_NAMES}
    optional = {c: src for c, src in optional.items() if src is not None}
    bad = _first_bad_number(raw, [picked[c] for c in OHLCV])
    if not bad and optional:  # empty cells there mean "not known", not a bad number
        known = raw[list(optional.values())].apply(lambda s: s.str.strip().replace("", "nan"))
        bad = _first_bad_number(known, optional.values())
    if bad:
        col, i, val = bad
        hint = _bad_number_hint(val).replace("line", "row")
        raise DataError(f"{name}: non-numeric {col} {val!r} on data row {i + 1}; {hint}")
    tvals = raw[tcol]
    as_num = pd.to_numeric(tvals, errors="coerce")
    if as_num.notna().all():
        times = epoch_to_ns(as_num.to_numpy(), name=name)
    else:
        times = _parse_text_times(tvals, name, tcol, dayfirst)
    frame = pd.DataFrame(
        {c: raw[picked[c]].astype("float64").to_numpy() for c in OHLCV},
        index=pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="open_time"),
    )
    for col, src in optional.items():
        frame[col] = _optional_values(
            raw, src, col, frame["volume"], name, "data row", unknown=True
        )
    return frame


# the optional columns of a file with a header (or a Parquet file), by the names they go by
_OPTIONAL_NAMES = {
    TRADES: (TRADES, "number_of_trades"),
    TAKER_BUY: (TAKER_BUY, "taker_buy_base_asset_volume"),
}


def _pick_optional(columns: dict[str, str], col: str) -> str | None:
    """The header column holding optional column ``col`` (exact names only), or None."""
    return next((columns[n] for n in _OPTIONAL_NAMES[col] if n in columns), None)


def _rename_optional(frame: pd.DataFrame) -> pd.DataFrame:
    """A Parquet frame's ``number_of_trades``/``taker_buy_base_asset_volume`` under our names."""
    columns = {str(c).strip().lower(): c for c in frame.columns}
    rename = {}
    for col in _OPTIONAL_NAMES:
        src = _pick_optional(columns, col)
        if src is not None and src != col:
            rename[src] = col
    return frame.rename(columns=rename) if rename else frame


def _reverse_if_newest_first(frame: pd.DataFrame) -> pd.DataFrame:
    ns = index_ns(frame.index)
    if len(ns) > 1 and (np.diff(ns) < 0).all():
        return frame.iloc[::-1]
    return frame


def read_candle_file(path: str | os.PathLike, *, dayfirst: bool | None = None) -> pd.DataFrame:
    """One file as a validated candle frame at the file's own interval, gaps kept.

    Parameters
    ----------
    path : a Binance archive (zip, CSV or gzip'd CSV, header-less), a generic OHLCV CSV with a
        header (possibly gzip'd), or a Parquet file.
    dayfirst : the order of ``nn/nn/yyyy`` dates when no value above 12 tells (``None``: detect,
        and refuse when the file does not tell).

    Returns
    -------
    The candle frame; ``frame.attrs["interval"]`` is the most common spacing of its timestamps
    (absent for a single candle, which has no spacing).

    Raises
    ------
    DataError : a one-line message naming the file and what is wrong.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a bad file
            raise DataError(
                f"{path.name}: unreadable Parquet file ({' '.join(str(exc).split())})"
            ) from None
        frame = _rename_optional(frame)
    else:
        data, name = _read_bytes(path)
        if not data.strip():
            raise DataError(f"{name}: empty file; nothing to load")
        _check_separators(data, name)
        first_line = data.lstrip()[:200].splitlines()[0]
        if _is_headerless(first_line):
            frame = _parse_binance(data, name)
        else:
            frame = _parse_generic(data, name, dayfirst)
        frame = _reverse_if_newest_first(frame)
    if isinstance(frame.index, pd.DatetimeIndex):
        interval = detect_interval(frame.index)
        frame.attrs.pop("interval", None)
        if interval is not None:
            frame.attrs["interval"] = interval
    return validate_candles(frame, name=path.name, allow_gaps=True)


def expand_paths(source) -> list[Path]:
    """Files named by a path, a folder (its .zip, .csv and .csv.gz files, sorted) or a list.

    Raises
    ------
    DataError : a folder with no candle file in it.
    """
    if isinstance(source, (list, tuple)):
        out: list[Path] = []
        for s in source:
            out.extend(expand_paths(s))
        return out
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(CANDLE_SUFFIXES))
        if not files:
            raise DataError(f"no .zip/.csv/.csv.gz candle files in {path}; check the folder")
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
    interval: str | None = INTERVAL,
    dayfirst: bool | None = None,
) -> pd.DataFrame:
    """Load a candle frame from files or the local store.

    Parameters
    ----------
    source : a Binance archive (zip, CSV or gzip'd CSV, header-less, ms or us timestamps), a
        generic OHLCV CSV with a header (ISO, ``dd/mm/yyyy``, ``mm/dd/yyyy`` or epoch times), a
        Parquet file, a folder of such files, a list of any of these, or a
        :class:`~cryptousd.data.candle_store.CandleStore` (or ``"store"`` for the default one).
    start, end : optional time range, ``[start, end)``, anything ``pd.Timestamp`` reads (UTC).
    symbol, store_source : which series to read when ``source`` is a store.
    gaps : ``"fill"`` (default) inserts flat candles at the previous close with volume 0 and marks
        them in a ``filled`` column; ``"keep"`` leaves the holes; ``"raise"`` refuses them. Gaps
        are counted and filled at the frame's interval.
    interval : the candle interval required (``"1min"`` by default; ``"5min"``, ``"1h"``, ...).
        A file at another interval is refused, never padded into invented minutes. ``None``
        loads whatever interval the files hold (all files must agree).
    dayfirst : the order of ``nn/nn/yyyy`` dates when no value above 12 tells: ``True`` for
        dd/mm/yyyy, ``False`` for mm/dd/yyyy, ``None`` (default) to detect and refuse when
        undecided.

    Returns
    -------
    A validated candle frame; ``frame.attrs["interval"]`` holds its interval.

    Raises
    ------
    DataError : a one-line message naming the file and what is wrong.
    """
    want = None if interval is None else interval_name(pd.Timedelta(interval).value)
    if isinstance(source, str) and source == "store":
        source = CandleStore()
    if isinstance(source, CandleStore):
        frame = source.read(symbol=symbol, source=store_source, start=start, end=end)
        name = f"store {source.root}"
        if want is not None and want != INTERVAL:
            raise DataError(
                f"{name}: holds {INTERVAL} candles, not {want}; load them with interval='1min' "
                f"and aggregate with cryptousd.resample_candles(frame, {want!r})"
            )
        found = INTERVAL
    else:
        files = expand_paths(source)
        parts = [read_candle_file(p, dayfirst=dayfirst) for p in files]
        found = _check_intervals(files, parts, want)
        name = files[0].name if len(files) == 1 else f"{files[0].name} .. {files[-1].name}"
        frame = parts[0] if len(parts) == 1 else pd.concat(parts)
        if len(parts) > 1:
            try:
                check_time_order(index_ns(frame.index), name=name, interval=found)
            except DataError as exc:
                raise DataError(f"{exc} (files overlap or are given out of order)") from None
        frame = _slice(frame, start, end)
    frame.attrs["interval"] = found
    if len(frame) == 0:
        raise DataError(f"{name}: no candles in the requested range {start} .. {end}")
    if gaps == "fill":
        frame, _ = fill_gaps(frame)
    elif gaps == "raise":
        validate_candles(frame, name=name, allow_gaps=False)
    return frame


def _check_intervals(files: list[Path], parts: list[pd.DataFrame], want: str | None) -> str:
    """The one interval of the files' frames; refuse another than ``want`` or a mix."""
    for path, part in zip(files, parts):
        have = part.attrs.get("interval")
        if want is not None and have is not None and have != want:
            raise DataError(
                f"{path.name}: {have} candles (the most common spacing of its timestamps), not "
                f"{want}; load it with interval={have!r}, or interval=None for whatever it holds"
            )
    found = {p.attrs["interval"] for p in parts if p.attrs.get("interval")}
    if len(found) > 1:
        each = ", ".join(f"{f.name}: {p.attrs.get('interval')}" for f, p in zip(files, parts))
        raise DataError(f"files at different intervals ({each}); load each interval on its own")
    return want or (found.pop() if found else INTERVAL)


def _slice(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame.index >= to_utc(start)]
    if end is not None:
        frame = frame[frame.index < to_utc(end)]
    return frame


# importing files into the store ------------------------------------------------------------------

QUOTE_ASSETS = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "USD",
    "EUR",
    "GBP",
    "TRY",
    "BRL",
    "JPY",
    "BTC",
    "ETH",
    "BNB",
)
_BINANCE_NAME = re.compile(
    r"^([A-Z0-9]{2,20})-(\d+[smhdwM])-\d{4}-\d{2}(?:-\d{2})?\.(?:zip|csv|csv\.gz)$", re.IGNORECASE
)


def binance_symbol(path: str | os.PathLike) -> str | None:
    """The market a Binance archive's name tells: ``ETHUSDT-1m-2025-01.zip`` -> ``"ETH/USDT"``.

    Returns ``None`` for a name that is not a Binance archive name or whose quote asset is not
    one of :data:`QUOTE_ASSETS`.
    """
    match = _BINANCE_NAME.match(Path(path).name)
    if not match:
        return None
    pair = match.group(1).upper()
    for quote in QUOTE_ASSETS:
        if pair.endswith(quote) and len(pair) > len(quote):
            return f"{pair[: -len(quote)]}/{quote}"
    return None


def _series_of(path: Path, symbol: str | None, source: str | None) -> tuple[str, str]:
    """(source, symbol) a file is stored under: from its Binance name or the options."""
    from .candle_store import symbol_key

    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path")
    named = binance_symbol(path)
    if symbol and named and symbol_key(symbol) != symbol_key(named):
        raise DataError(
            f"{path.name}: the file name says {named} but --symbol is {symbol}; "
            "rename the file or drop --symbol"
        )
    if not symbol and not named:
        raise DataError(
            f"{path.name}: the file name does not tell the market (Binance archives are "
            "SYMBOL-1m-YYYY-MM.zip); pass --symbol, e.g. --symbol BTC/USDT"
        )
    return source or ("binance" if named else "import"), symbol or named


def import_candle_files(
    store: CandleStore,
    paths,
    *,
    symbol: str | None = None,
    source: str | None = None,
    progress=None,
) -> dict:
    """Read candle files and merge them into the store, all or nothing.

    Parameters
    ----------
    store : the store to write to.
    paths : files, folders (their .zip/.csv/.csv.gz files) or a list of these.
    symbol : the market of every file (``"ETH/USDT"``); by default read from each Binance name
        (``ETHUSDT-1m-2025-01.zip``); required for a file whose name does not tell.
    source : the store's source name; by default ``"binance"`` for Binance names, else
        ``"import"``.
    progress : optional wrapper around the file list (``tqdm``).

    Returns
    -------
    ``{"files": [...], "series": [{"source", "symbol", "files", "rows"}], "new_rows": n}``.

    Raises
    ------
    DataError : one line naming the file: unreadable, not one-minute candles, an unknown market,
        or closes that disagree with the stored series (another market). Nothing is written
        unless every file passes.
    """
    files = expand_paths(paths)
    where = {f: _series_of(f, symbol, source) for f in files}  # name problems before reading
    groups: dict[tuple[str, str], list[tuple[Path, pd.DataFrame]]] = {}
    for f in progress(files) if progress else files:
        frame = read_candle_file(f)
        have = frame.attrs.get("interval", INTERVAL)
        if have != INTERVAL:
            raise DataError(
                f"{f.name}: {have} candles (the most common spacing of its timestamps); the store "
                "keeps one-minute candles, import a 1m file (nothing written)"
            )
        groups.setdefault(where[f], []).append((f, frame))
    prepared = []
    series = []
    for (src, sym), items in groups.items():
        names = ", ".join(f.name for f, _ in items)
        frame = pd.concat([fr for _, fr in items]) if len(items) > 1 else items[0][1]
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        frame.attrs["interval"] = INTERVAL
        try:
            prepared.extend(store.prepare_append(frame, source=src, symbol=sym))
        except DataError as exc:
            raise DataError(f"{names}: {exc}") from None
        series.append(
            {"source": src, "symbol": sym, "files": [str(f) for f, _ in items], "rows": len(frame)}
        )
    added = store.write_prepared(prepared)
    return {"files": [str(f) for f in files], "series": series, "new_rows": added}
