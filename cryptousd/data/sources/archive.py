"""Binance bulk archive files (and any file :func:`cryptousd.load_candles` reads) as a source."""

from __future__ import annotations

import pandas as pd

from ...times import to_utc
from ..candle_files import load_candles
from .base import Source


class ArchiveSource(Source):
    """Offline import of archive files; ``history`` reads the requested range from them."""

    kind = "archive"

    def __init__(self, paths, symbol: str = "BTC/USDT"):
        self.paths = paths
        self.symbol = symbol
        self._frame: pd.DataFrame | None = None

    def _all(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = load_candles(self.paths, gaps="keep")
        return self._frame

    def now(self) -> pd.Timestamp:
        return self._all().index[-1] + pd.Timedelta("1min")

    def history(self, start=None, end=None) -> pd.DataFrame:
        frame = self._all()
        if start is not None:
            frame = frame[frame.index >= to_utc(start)]
        if end is not None:
            frame = frame[frame.index < to_utc(end)]
        return frame
