"""The one small interface every market-data source implements.

- ``history(start, end)``: closed candles in ``[start, end)`` as a candle frame (gaps kept);
- ``poll(since)``: the closed candles after ``since`` (backfilling whatever was missed) and the
  forming candle, which never enters history;
- ``now()``: the source's clock (wall clock for live sources, market time for replays);
- ``status``: a short label for the page (``LIVE``, ``REPLAY x60``, ``SIMULATED``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import pandas as pd

from ...config import DEFAULT_SYMBOL, INTERVAL, WINDOW

ONE_MINUTE = pd.Timedelta(INTERVAL)


@dataclass(frozen=True)
class Poll:
    """What one poll of a source returns."""

    closed: pd.DataFrame  # closed candles after `since`, oldest first (may be empty)
    forming: pd.Series | None  # the unfinished candle (name = its open_time), or None
    now: pd.Timestamp  # the source's clock at the poll


class Source(ABC):
    kind: str = "source"
    symbol: str = DEFAULT_SYMBOL

    @abstractmethod
    def now(self) -> pd.Timestamp:
        """The source's current time (UTC)."""

    @abstractmethod
    def history(self, start, end=None) -> pd.DataFrame:
        """Closed candles with ``start <= open_time < end`` (``end`` defaults to now)."""

    def poll(self, since: pd.Timestamp | None) -> Poll:
        """Closed candles after ``since`` plus the forming candle. Default: built on ``history``."""
        now = self.now()
        closed = self.history(poll_start(since, now), now)
        return Poll(closed, None, now)

    @property
    def status(self) -> str:
        return self.kind.upper()

    def describe(self) -> str:
        return f"{self.status} {self.symbol}"


def poll_start(
    since: pd.Timestamp | None, now: pd.Timestamp, backfill: int = WINDOW + 1
) -> pd.Timestamp:
    """Where a poll starts: right after ``since``, or ``backfill`` whole minutes before ``now``."""
    return since + ONE_MINUTE if since is not None else now.floor(INTERVAL) - backfill * ONE_MINUTE


def closed_only(frame: pd.DataFrame, now: pd.Timestamp) -> tuple[pd.DataFrame, pd.Series | None]:
    """Split candles into the closed ones and the forming one (whose minute has not ended at
    ``now``).
    """
    if len(frame) == 0:
        return frame, None
    is_closed = frame.index + ONE_MINUTE <= now
    forming = frame[~is_closed]
    return frame[is_closed], (forming.iloc[-1] if len(forming) else None)
