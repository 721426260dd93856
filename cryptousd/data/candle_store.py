"""The local candle store: Parquet files under ``data/store/<source>/<SYMBOL>/1m/YYYY-MM.parquet``.

- ``append`` merges new candles into the month files they belong to, de-duplicating on
  ``open_time`` (the newest write wins) and validating before anything is written;
- every write is atomic: a temporary file in the same folder, fsync, then ``os.replace``, so a crash
  mid-write leaves the previous file whole;
- ``read`` opens only the months a time range touches; every month file is opened by
  :func:`read_store_file`, which turns a damaged file into a one-line :class:`DataError` naming it;
- an import whose closes disagree with the stored ones at the same minutes (median relative
  difference above :data:`MAX_PRICE_DISAGREEMENT`) is refused: it is most likely another symbol.

The store keeps what the source said (OHLCV and the optional ``trades`` count and ``taker_buy``
volume, :data:`cryptousd.config.OPTIONAL_COLUMNS`, where the source has them); gap filling happens
on read (:func:`cryptousd.load_candles` with ``gaps="fill"``).

Optional columns on merge (nothing is made up):

- a month file stores an optional column only when some row of it has a value; files written
  before ``taker_buy`` existed simply lack it and read back without it;
- the newest write of a minute wins as a whole row: a row written from a frame that lacks an
  optional column has NaN there ("not known"), even where an older write of that minute had one;
- so a column with any NaN is partial (a month mixing sources with and without it, or a read
  across such months); readers that need the column must check for NaN. ``trades`` is int64 when
  complete and float64 when partial.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import INTERVAL, OHLCV, OPTIONAL_COLUMNS, STORE_DIR, TRADES
from ..errors import DataError
from ..files import atomic_write
from ..times import index_ns, to_utc
from .candles import find_gaps, frame_interval, validate_candles

STORED_COLUMNS = [*OHLCV, *OPTIONAL_COLUMNS]
MAX_PRICE_DISAGREEMENT = 0.05  # median relative difference of closes at overlapping minutes


def _one_line(text: object, limit: int = 200) -> str:
    """An exception's text squeezed onto one line (pyarrow's messages span several)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def read_store_file(path: str | os.PathLike) -> pd.DataFrame:
    """One month file of the store as a candle frame (gaps kept, index in ns).

    Every read of the store goes through this function.

    Raises
    ------
    DataError : one line naming the file when it cannot be read or is not a candle file, saying
        to delete it and fetch that month again.
    """
    path = Path(path)
    fix = "delete it and fetch that month again"
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        raise DataError(f"{path}: unreadable store file ({_one_line(exc)}); {fix}") from None
    if not isinstance(frame.index, pd.DatetimeIndex) or any(c not in frame.columns for c in OHLCV):
        raise DataError(f"{path}: not a candle file (no open_time index or OHLCV columns); {fix}")
    frame.index = pd.DatetimeIndex(frame.index, name="open_time").as_unit("ns")
    if frame.index.tz is None:
        frame.index = frame.index.tz_localize("UTC")
    frame.attrs["interval"] = INTERVAL
    return _tidy_optional(frame)


def _tidy_optional(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop an optional column nobody gave a value for; a complete trade count as int64."""
    empty = [c for c in OPTIONAL_COLUMNS if c in frame.columns and frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
    if TRADES in frame.columns and not frame[TRADES].isna().any():
        frame[TRADES] = frame[TRADES].astype("int64")
    return frame


@dataclass(frozen=True)
class BrokenFile:
    """A store file that cannot be read, and why."""

    path: Path
    error: str


def symbol_key(symbol: str) -> str:
    """``"BTC/USD"`` -> ``"BTC-USD"`` (a folder name)."""
    return symbol.replace("/", "-").replace(":", "-").upper()


@dataclass(frozen=True)
class SeriesInfo:
    source: str
    symbol: str
    first: pd.Timestamp
    last: pd.Timestamp
    rows: int
    missing: int
    months: int


class CandleStore:
    """Parquet candle store rooted at ``root`` (``data/store`` by default)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else STORE_DIR

    def __repr__(self) -> str:
        return f"CandleStore({str(self.root)!r})"

    # layout ---------------------------------------------------------------------------------
    def folder(self, source: str, symbol: str) -> Path:
        return self.root / source / symbol_key(symbol) / "1m"

    def series(self) -> list[tuple[str, str]]:
        """(source, SYMBOL-KEY) pairs that have at least one month file."""
        out = []
        if self.root.exists():
            for src in sorted(p for p in self.root.iterdir() if p.is_dir()):
                for sym in sorted(p for p in src.iterdir() if (p / "1m").is_dir()):
                    if any((sym / "1m").glob("*.parquet")):
                        out.append((src.name, sym.name))
        return out

    def _resolve(self, symbol: str | None, source: str | None) -> tuple[str, str]:
        have = self.series()
        match = [
            (s, k)
            for s, k in have
            if (source is None or s == source) and (symbol is None or k == symbol_key(symbol))
        ]
        if not match:
            what = " ".join(x for x in [source, symbol] if x) or "anything"
            held = ", ".join(f"{s}/{k}" for s, k in have) or "nothing"
            raise DataError(
                f"store {self.root}: holds no candles for {what} (it holds {held}); "
                "run `cryptousd fetch` first"
            )
        if len(match) > 1:
            raise DataError(
                f"store {self.root}: several series match "
                f"({', '.join(f'{s}/{k}' for s, k in match)}); "
                "name the source and symbol"
            )
        return match[0]

    # writing --------------------------------------------------------------------------------
    def append(self, candles: pd.DataFrame, *, source: str, symbol: str) -> int:
        """Merge candles into the store; returns how many rows are new. Nothing is written on error.

        Raises
        ------
        DataError : invalid candles, candles at another interval than one minute, a damaged
            month file, or closes that disagree with the stored series (another symbol).
        """
        return self.write_prepared(self.prepare_append(candles, source=source, symbol=symbol))

    def prepare_append(
        self, candles: pd.DataFrame, *, source: str, symbol: str
    ) -> list[tuple[Path, pd.DataFrame, int]]:
        """Check an append and return the merged month files to write (writes nothing).

        Returns a list of (month file, merged frame, new rows) for :meth:`write_prepared`; several
        series can be prepared first and written after all of them passed.
        """
        what = f"{source} {symbol}"
        interval = frame_interval(candles)
        if pd.Timedelta(interval) != pd.Timedelta(INTERVAL):
            raise DataError(
                f"candles for {what}: {interval} candles, the store keeps one-minute candles; "
                "import one-minute data (or keep these in their file)"
            )
        validate_candles(candles, name=f"candles for {what}", interval=INTERVAL, allow_gaps=True)
        frame = candles[[c for c in STORED_COLUMNS if c in candles.columns]]
        if "filled" in candles.columns:  # never store made-up candles
            frame = frame[~candles["filled"].to_numpy(dtype=bool)]
        folder = self.folder(source, symbol)
        month = frame.index.strftime("%Y-%m")
        merged: list[tuple[Path, pd.DataFrame, int]] = []
        old_parts: list[pd.DataFrame] = []
        for key, part in frame.groupby(month, sort=True):
            path = folder / f"{key}.parquet"
            old = read_store_file(path) if path.exists() else None
            before = 0 if old is None else len(old)
            if old is not None:
                old_parts.append(old)
            both = part if old is None else pd.concat([old, part])
            both = _tidy_optional(both[~both.index.duplicated(keep="last")].sort_index())
            validate_candles(both, name=str(path), interval=INTERVAL, allow_gaps=True)
            merged.append((path, both, len(both) - before))
        if old_parts:
            self._check_same_market(frame, pd.concat(old_parts), source=source, symbol=symbol)
        return merged

    def _check_same_market(
        self, new: pd.DataFrame, old: pd.DataFrame, *, source: str, symbol: str
    ) -> None:
        """Refuse new candles whose closes disagree with the stored ones at the same minutes."""
        both = old.index.intersection(new.index)
        if len(both) == 0:
            return
        a = old.loc[both, "close"].to_numpy(dtype="float64")
        b = new.loc[both, "close"].to_numpy(dtype="float64")
        diff = float(np.median(np.abs(b - a) / a))
        if diff > MAX_PRICE_DISAGREEMENT:
            raise DataError(
                f"store {self.root}: the new closes differ from the stored {source}/"
                f"{symbol_key(symbol)} series by a median {diff:.1%} at {len(both):,d} overlapping "
                "minutes; is it another market? Import it under its own symbol (nothing written)"
            )

    @staticmethod
    def write_prepared(merged: list[tuple[Path, pd.DataFrame, int]]) -> int:
        """Write month files from :meth:`prepare_append`, each atomically; returns the new rows."""
        for path, both, _ in merged:
            table = pa.Table.from_pandas(both, preserve_index=True)
            atomic_write(path, lambda tmp, t=table: pq.write_table(t, tmp, compression="zstd"))
        return sum(n for _, _, n in merged)

    # reading --------------------------------------------------------------------------------
    def months(self, source: str, symbol: str) -> list[Path]:
        return sorted(self.folder(source, symbol).glob("*.parquet"))

    def read(
        self, *, symbol: str | None = None, source: str | None = None, start=None, end=None
    ) -> pd.DataFrame:
        """Candles of one series in ``[start, end)``, gaps kept; reads only the months in range."""
        src, key = self._resolve(symbol, source)
        files = self.months(src, key)
        lo = to_utc(start) if start is not None else None
        hi = to_utc(end) if end is not None else None
        if lo is not None:
            files = [f for f in files if f.stem >= lo.strftime("%Y-%m")]
        if hi is not None:  # end is exclusive: an end at midnight of the 1st skips that month
            last = (hi - pd.Timedelta(1, "ns")).strftime("%Y-%m")
            files = [f for f in files if f.stem <= last]
        if not files:
            raise DataError(f"store {self.root}: no {src}/{key} candles between {start} and {end}")
        parts = [read_store_file(f) for f in files]
        frame = parts[0] if len(parts) == 1 else pd.concat(parts)
        frame.attrs["interval"] = INTERVAL
        if lo is not None or hi is not None:
            ns = index_ns(frame.index)
            a = 0 if lo is None else int(np.searchsorted(ns, lo.value))
            b = len(ns) if hi is None else int(np.searchsorted(ns, hi.value))
            frame = frame.iloc[a:b]
        return frame

    def last_time(self, *, source: str, symbol: str) -> pd.Timestamp | None:
        """Open time of the newest stored candle of a series (None when the store has none)."""
        files = self.months(source, symbol)
        if not files:
            return None
        return read_store_file(files[-1]).index[-1]

    def info(self) -> list[SeriesInfo]:
        """What the store holds: one entry per series with its range, rows and missing minutes.

        Raises :class:`DataError` naming the first damaged month file; :meth:`scan` reports the
        healthy months and the damaged files instead.
        """
        series, broken = self.scan()
        if broken:
            raise DataError(broken[0].error)
        return series

    def scan(self) -> tuple[list[SeriesInfo], list[BrokenFile]]:
        """What the store holds, reading around damaged files.

        Returns
        -------
        series : one :class:`SeriesInfo` per series with at least one readable month (its range,
            rows, missing minutes and readable month files).
        broken : one :class:`BrokenFile` per month file that cannot be read, with its one-line
            error (which says to delete it and fetch that month again).
        """
        series: list[SeriesInfo] = []
        broken: list[BrokenFile] = []
        for src, key in self.series():
            parts = []
            for path in self.months(src, key):
                try:
                    parts.append(read_store_file(path))
                except DataError as exc:
                    broken.append(BrokenFile(path, str(exc)))
            if not parts:
                continue
            frame = pd.concat(parts) if len(parts) > 1 else parts[0]
            frame.attrs["interval"] = INTERVAL
            gaps = find_gaps(frame).n_missing
            series.append(
                SeriesInfo(src, key, frame.index[0], frame.index[-1], len(frame), gaps, len(parts))
            )
        return series, broken
