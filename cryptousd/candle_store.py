"""The local candle store: Parquet files under ``data/store/<source>/<SYMBOL>/1m/YYYY-MM.parquet``.

- ``append`` merges new candles into the month files they belong to, de-duplicating on
  ``open_time`` (the newest write wins) and validating before anything is written;
- every write is atomic: a temporary file in the same folder, fsync, then ``os.replace``, so a crash
  mid-write leaves the previous file whole;
- ``read`` opens only the months a time range touches.

The store keeps what the source said (OHLCV and an optional trade count); gap filling happens on
read (:func:`cryptousd.load_candles` with ``gaps="fill"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .candles import find_gaps, validate_candles
from .config import OHLCV, STORE_DIR
from .errors import DataError
from .files import atomic_write
from .times import index_ns, to_utc

STORED_COLUMNS = [*OHLCV, "trades"]


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
        match = [(s, k) for s, k in have if (source is None or s == source) and (symbol is None or k == symbol_key(symbol))]
        if not match:
            what = " ".join(x for x in [source, symbol] if x) or "anything"
            held = ", ".join(f"{s}/{k}" for s, k in have) or "nothing"
            raise DataError(f"store {self.root}: holds no candles for {what} (it holds {held}); run `cryptousd fetch` first")
        if len(match) > 1:
            raise DataError(
                f"store {self.root}: several series match ({', '.join(f'{s}/{k}' for s, k in match)}); "
                "name the source and symbol"
            )
        return match[0]

    # writing --------------------------------------------------------------------------------
    def append(self, candles: pd.DataFrame, *, source: str, symbol: str) -> int:
        """Merge candles into the store; returns how many rows are new. Nothing is written on error."""
        validate_candles(candles, name=f"candles for {source} {symbol}", allow_gaps=True)
        frame = candles[[c for c in STORED_COLUMNS if c in candles.columns]]
        if "filled" in candles.columns:  # never store made-up candles
            frame = frame[~candles["filled"].to_numpy(dtype=bool)]
        folder = self.folder(source, symbol)
        month = frame.index.strftime("%Y-%m")
        merged: list[tuple[Path, pd.DataFrame, int]] = []
        for key, part in frame.groupby(month, sort=True):
            path = folder / f"{key}.parquet"
            old = self._read_file(path) if path.exists() else None
            before = 0 if old is None else len(old)
            both = part if old is None else pd.concat([old, part])
            both = both[~both.index.duplicated(keep="last")].sort_index()
            validate_candles(both, name=str(path), allow_gaps=True)
            merged.append((path, both, len(both) - before))
        for path, both, _ in merged:  # validate everything first, then write each month atomically
            table = pa.Table.from_pandas(both, preserve_index=True)
            atomic_write(path, lambda tmp, t=table: pq.write_table(t, tmp, compression="zstd"))
        return sum(n for _, _, n in merged)

    # reading --------------------------------------------------------------------------------
    @staticmethod
    def _read_file(path: Path) -> pd.DataFrame:
        try:
            frame = pq.read_table(path).to_pandas()
        except Exception as exc:
            raise DataError(f"{path}: unreadable store file ({exc}); delete it and fetch that month again") from None
        frame.index = frame.index.as_unit("ns")
        return frame

    def months(self, source: str, symbol: str) -> list[Path]:
        return sorted(self.folder(source, symbol).glob("*.parquet"))

    def read(self, *, symbol: str | None = None, source: str | None = None, start=None, end=None) -> pd.DataFrame:
        """Candles of one series in ``[start, end)``, gaps kept; reads only the months in range."""
        src, key = self._resolve(symbol, source)
        files = self.months(src, key)
        lo = to_utc(start) if start is not None else None
        hi = to_utc(end) if end is not None else None
        if lo is not None:
            files = [f for f in files if f.stem >= lo.strftime("%Y-%m")]
        if hi is not None:
            files = [f for f in files if f.stem <= hi.strftime("%Y-%m")]
        if not files:
            raise DataError(f"store {self.root}: no {src}/{key} candles between {start} and {end}")
        tables = [pq.read_table(f) for f in files]
        frame = pa.concat_tables(tables, promote_options="default").to_pandas()
        frame.index = pd.DatetimeIndex(frame.index, name="open_time").as_unit("ns")
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
        return self._read_file(files[-1]).index[-1]

    def info(self) -> list[SeriesInfo]:
        """What the store holds: one entry per series with its range, rows and missing minutes."""
        out = []
        for src, key in self.series():
            frame = self.read(source=src, symbol=key)
            out.append(
                SeriesInfo(src, key, frame.index[0], frame.index[-1], len(frame), find_gaps(frame).n_missing, len(self.months(src, key)))
            )
        return out
