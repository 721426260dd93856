"""Live trades by websocket (ccxt's ``watch_trades``) for the forming candle, REST for the rest.

Coinbase has no ``watch_ohlcv`` (Kraken has both), so the forming candle is built from trades with
:func:`cryptousd.build_candles`, bucketed by trade time; it carries ``taker_buy`` when every trade
of its minute has ccxt's taker ``side``. Closed candles, and any gap, still come
from the exchange's REST candles (the source of record), fetched only when a minute has closed
while the socket is up. A dropped socket falls back to REST polling for the forming candle too,
and reconnects with exponential backoff; ``status`` says which (``LIVE ws`` or ``LIVE polling``)
and ``describe()`` says why.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

import pandas as pd

from ...config import OHLCV, TAKER_BUY
from ..candles import build_candles, make_candle_frame
from .base import ONE_MINUTE, Poll, Source

EMPTY = make_candle_frame([], [], [], [], [], [])
KEEP_TRADES = 20_000  # trades kept in memory (a busy minute on Coinbase BTC/USD is a few thousand)


class TradeStream:
    """A daemon thread running an asyncio loop that watches trades and keeps the recent ones.

    ``make_client()`` returns a ccxt.pro exchange (called again after each failure, so a broken
    connection is never reused).
    """

    def __init__(self, make_client, symbol: str, *, backoff_s: tuple[float, float] = (1.0, 30.0)):
        self.make_client = make_client
        self.symbol = symbol
        self.backoff_s = backoff_s
        self.connected = False
        self.error: str | None = None
        self.retry_at: float | None = None
        self.connects = 0
        self.failures = 0
        self.received = 0
        self._trades: deque[tuple[int, float, float, str | None]] = deque(maxlen=KEEP_TRADES)
        self._seen: deque[str] = deque(maxlen=KEEP_TRADES)
        self._seen_set: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> TradeStream:
        self._thread = threading.Thread(target=self._main, name="cryptousd-trades", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        while not self._stop.is_set():
            client = self.make_client()
            task = None
            try:
                while not self._stop.is_set():
                    if task is None:
                        task = asyncio.ensure_future(client.watch_trades(self.symbol))
                    done, _ = await asyncio.wait({task}, timeout=0.5)  # to see the stop flag
                    if not done:
                        continue
                    trades, task = task.result(), None  # raises what the socket raised
                    if not self.connected:
                        self.connects += 1
                    self._add(trades)
                    with self._lock:
                        self.connected, self.error, self.retry_at = True, None, None
                    self.failures = 0
            except Exception as exc:  # noqa: BLE001 - any failure: fall back, wait, reconnect
                self.failures += 1
                base, cap = self.backoff_s
                wait = min(cap, base * 2 ** (self.failures - 1))
                with self._lock:
                    self.connected = False
                    self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
                    self.retry_at = time.monotonic() + wait
                await _close(client)
                await asyncio.sleep(wait)
                continue
            if task is not None:
                task.cancel()
            await _close(client)

    def _add(self, trades: list[dict]) -> None:
        with self._lock:
            for tr in trades:
                key = str(tr.get("id") or (tr.get("timestamp"), tr.get("price"), tr.get("amount")))
                if key in self._seen_set:
                    continue
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(key)
                self._seen_set.add(key)
                side = tr.get("side")
                self._trades.append(
                    (
                        int(tr["timestamp"]) * 1_000_000,
                        float(tr["price"]),
                        float(tr["amount"]),
                        side if side in ("buy", "sell") else None,
                    )
                )
                self.received += 1

    def trades_since(self, start: pd.Timestamp) -> pd.DataFrame:
        """Trades at or after ``start`` (columns ``time`` ns, ``price``, ``qty``), oldest first,
        with the taker's ``side`` (``"buy"``/``"sell"``) when every one of them has it."""
        with self._lock:
            rows = [t for t in self._trades if t[0] >= start.value]
        frame = pd.DataFrame(rows, columns=["time", "price", "qty", "side"])
        if frame["side"].isna().any():  # a trade without a side: taker-buy volume unknown
            frame = frame.drop(columns="side")
        return frame.sort_values("time", kind="stable")


async def _close(client) -> None:
    try:
        await client.close()
    except Exception:  # noqa: BLE001, S110 - closing a broken client may fail too; nothing to do
        pass


class StreamingSource(Source):
    """REST candles (``rest``, an :class:`~cryptousd.data.sources.exchange.ExchangeSource` or any
    source) with the forming candle built from websocket trades while the socket is up."""

    kind = "exchange"

    def __init__(self, rest: Source, stream: TradeStream):
        self.rest = rest
        self.stream = stream
        self.symbol = rest.symbol
        self.rest_polls = 0

    def now(self) -> pd.Timestamp:
        return self.rest.now()

    def history(self, start, end=None) -> pd.DataFrame:
        return self.rest.history(start, end)

    def forming_from_trades(self, now: pd.Timestamp) -> pd.Series | None:
        minute = now.floor("1min")
        trades = self.stream.trades_since(minute)
        if not len(trades):
            return None
        candle = build_candles(trades).iloc[-1]
        keep = [*OHLCV, TAKER_BUY] if TAKER_BUY in candle.index else OHLCV
        return candle[keep].astype("float64").rename(minute)

    def poll(self, since: pd.Timestamp | None) -> Poll:
        now = self.now()
        nothing_closed = since is not None and now.floor("1min") - ONE_MINUTE <= since
        if self.stream.connected and nothing_closed:  # the socket has all that is new
            return Poll(EMPTY, self.forming_from_trades(now), now)
        self.rest_polls += 1
        poll = self.rest.poll(since)
        if self.stream.connected:
            forming = self.forming_from_trades(poll.now)
            return Poll(poll.closed, poll.forming if forming is None else forming, poll.now)
        return poll

    @property
    def status(self) -> str:
        return "LIVE ws" if self.stream.connected else "LIVE polling"

    def describe(self) -> str:
        s = self.stream
        base = self.rest.describe()
        if s.connected:
            return f"{base}; trades by websocket"
        if s.error:
            retry = (
                ""
                if s.retry_at is None
                else f", retry in {max(0, s.retry_at - time.monotonic()):.0f} s"
            )
            return f"{base}; websocket down ({s.error}{retry}), polling REST"
        return f"{base}; websocket connecting, polling REST"
