"""Choosing and opening a market-data source by name, with the ``auto`` fallback chain.

``auto`` tries the exchange, then a replay of local candles (``CRYPTOUSD_REPLAY``, the store, the
shared archives, the bundled sample), then a simulated market, and says why it fell back. A replay
loops over its data (see :mod:`cryptousd.data.sources.replay`) unless ``loop=False``: an offline
demo
runs for as long as someone watches.
"""

from __future__ import annotations

import pandas as pd

from ...config import DEFAULT_EXCHANGE, DEFAULT_SYMBOL
from ...errors import CryptoUSDError, DataError
from ..candle_files import load_candles
from ..candle_store import CandleStore
from ..locate import locate_candles
from .base import Source
from .exchange import ExchangeSource
from .replay import ReplaySource, SimulatedSource
from .yahoo import YahooSource

SOURCES = ("auto", "exchange", "yahoo", "replay", "simulated", "feed")

REPLAY_STORE_DAYS = (
    30  # a replay from the store plays its last month (7 hours at x60), not all of it
)


def _recent_from_store(store: CandleStore) -> pd.DataFrame:
    source, key = store.series()[0]
    last = store.last_time(source=source, symbol=key)
    return load_candles(
        store, symbol=key, store_source=source, start=last - pd.Timedelta(days=REPLAY_STORE_DAYS)
    )


def replay_candles(replay: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:
    """Local candles to replay and their name: the given files or store folder, else what
    :func:`cryptousd.data.locate.locate_candles` finds (a store plays its last month; archives their
    last file; the bundled sample all of its seven days)."""
    where = locate_candles(list(replay) or None)
    if isinstance(where.source, CandleStore):
        return _recent_from_store(
            where.source
        ), f"{where.source.root} (last {REPLAY_STORE_DAYS} days)"
    files = where.files()
    if where.kind != "given":  # a long history replays its last file only
        files = files[-1:]
    name = ", ".join(f.name for f in files)
    return load_candles(files), ("the bundled sample " + name if where.is_sample else name)


def make_source(
    kind: str = "auto",
    symbol: str = DEFAULT_SYMBOL,
    *,
    replay: tuple[str, ...] = (),
    speed: float = 60.0,
    loop: bool = True,
) -> tuple[Source, str]:
    """The source named ``kind`` (one of :data:`SOURCES`) for ``symbol``; a replay loops over
    its data unless ``loop`` is False (then it ends with FINISHED).

    Returns (source, note) where note says why ``auto`` took a fallback ("" otherwise).
    """
    if kind not in SOURCES:
        raise DataError(f"source {kind!r}: choose one of {', '.join(SOURCES)}")
    if kind == "feed":
        raise DataError(
            "the feed source reads a running `cryptousd serve` (CRYPTOUSD_FEED_URL); "
            "the dashboard opens it, not make_source"
        )
    if kind in ("replay", "simulated") and symbol != DEFAULT_SYMBOL:
        raise DataError(
            f"{symbol}: the {kind} source has BTC only; pick exchange or yahoo for {symbol}"
        )
    if kind == "exchange":
        return ExchangeSource(DEFAULT_EXCHANGE, symbol, timeout_s=5, max_retries=0), ""
    if kind == "yahoo":
        return YahooSource(symbol.replace("/", "-")), ""
    if kind == "simulated":
        return SimulatedSource(speed=speed), ""
    if kind == "replay":
        candles, name = replay_candles(replay)
        return ReplaySource(candles, speed=speed, name=name, loop=loop), ""
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
        return ReplaySource(candles, speed=speed, name=name, loop=loop), "; ".join(
            notes
        ) + " -> replaying local data"
    except CryptoUSDError as exc:
        if replay:  # files the user named: refused, never a random walk in their place
            raise
        notes.append(str(exc)[:80])
    return SimulatedSource(speed=speed), "; ".join(notes) + " -> simulated market"
