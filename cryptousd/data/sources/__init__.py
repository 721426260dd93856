"""Market-data sources behind one interface (see :mod:`cryptousd.data.sources.base`)."""

from .archive import ArchiveSource
from .base import Poll, Source
from .exchange import ExchangeSource
from .replay import ReplayFinished, ReplaySource, SimulatedSource, simulate_candles
from .yahoo import YahooSource

__all__ = [
    "ArchiveSource",
    "ExchangeSource",
    "Poll",
    "ReplayFinished",
    "ReplaySource",
    "SimulatedSource",
    "Source",
    "YahooSource",
    "simulate_candles",
]
