"""Choosing and opening a market-data source by name, with the ``auto`` fallback chain.

``auto`` tries the exchange, then a replay of local candles (``CRYPTOUSD_REPLAY``, the store, the
shared archives), then a simulated market, and says why it fell back.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..candle_files import load_candles
from ..candle_store import CandleStore
from ..config import DEFAULT_EXCHANGE, DEFAULT_SYMBOL, STORE_DIR, shared_archives
from ..errors import CryptoUSDError, DataError
from .base import Source
from .exchange import ExchangeSource
from .replay import ReplaySource, SimulatedSource
from .yahoo import YahooSource

SOURCES = ("auto", "exchange", "yahoo", "replay", "simulated")

REPLAY_STORE_DAYS = 30  # a replay from the store plays its last month (7 hours at x60), not all of it


def _recent_from_store(store: CandleStore) -> pd.DataFrame:
    source, key = store.series()[0]
    last = store.last_time(source=source, symbol=key)
    return load_candles(store, symbol=key, store_source=source, start=last - pd.Timedelta(days=REPLAY_STORE_DAYS))


def replay_candles(replay: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:
    """Local candles to replay and their name: the given files or store folder, else the store's
    last month, else the last shared archive."""
    if replay:
        paths = [Path(p) for p in replay]
        if len(paths) == 1 and paths[0].is_dir() and any(paths[0].rglob("*.parquet")):
            return _recent_from_store(CandleStore(paths[0])), str(paths[0])
        return load_candles([str(p) for p in paths]), ", ".join(p.name for p in paths)
    store = CandleStore(STORE_DIR)
    if store.series():
        return _recent_from_store(store), f"{store.root} (last {REPLAY_STORE_DAYS} days)"
    archives = shared_archives()
    if archives:
        return load_candles(archives[-1]), archives[-1].name
    raise DataError("no local candles to replay (no CRYPTOUSD_REPLAY, empty data/store, no ../shared/data)")


def make_source(kind: str = "auto", symbol: str = DEFAULT_SYMBOL, *, replay: tuple[str, ...] = (),
                speed: float = 60.0) -> tuple[Source, str]:
    """The source named ``kind`` (one of :data:`SOURCES`) for ``symbol``.

    Returns (source, note) where note says why ``auto`` took a fallback ("" otherwise).
    """
    if kind not in SOURCES:
        raise DataError(f"source {kind!r}: choose one of {', '.join(SOURCES)}")
    if kind in ("replay", "simulated") and symbol != DEFAULT_SYMBOL:
        raise DataError(f"{symbol}: the {kind} source has BTC only; pick exchange or yahoo for {symbol}")
    if kind == "exchange":
        return ExchangeSource(DEFAULT_EXCHANGE, symbol, timeout_s=5, max_retries=0), ""
    if kind == "yahoo":
        return YahooSource(symbol.replace("/", "-")), ""
    if kind == "simulated":
        return SimulatedSource(speed=speed), ""
    if kind == "replay":
        candles, name = replay_candles(replay)
        return ReplaySource(candles, speed=speed, name=name), ""
    # auto
    notes = []
    try:
        src = ExchangeSource(DEFAULT_EXCHANGE, symbol, timeout_s=4, max_retries=0)
        src.fetch_page(src.now().floor("1min") - pd.Timedelta(minutes=2), limit=2)
        return src, ""
    except CryptoUSDError as exc:
        notes.append(f"exchange unreachable ({str(exc)[:80]})")
        if symbol != DEFAULT_SYMBOL:
            raise DataError(f"{symbol}: {notes[-1]}, and local data has BTC only") from None
    try:
        candles, name = replay_candles(replay)
        return ReplaySource(candles, speed=speed, name=name), "; ".join(notes) + " -> replaying local data"
    except CryptoUSDError as exc:
        notes.append(str(exc)[:80])
    return SimulatedSource(speed=speed), "; ".join(notes) + " -> simulated market"


