"""Trades by websocket: ccxt.pro's Coinbase client against a real websocket server on 127.0.0.1
that replays Coinbase ``market_trades`` messages (the documented format; prices and sizes from the
sample's real minutes), drops the connection once, and serves the rest after the reconnection."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import ccxt.pro
import numpy as np
import pandas as pd
import pytest
import websockets.asyncio.server

from cryptousd.data.candles import build_candles
from cryptousd.data.sources.base import Poll, Source
from cryptousd.data.sources.stream import StreamingSource, TradeStream

from .browser import free_port

pytestmark = pytest.mark.timeout(120)

MARKET = {
    "id": "BTC-USD",
    "symbol": "BTC/USD",
    "base": "BTC",
    "quote": "USD",
    "baseId": "BTC",
    "quoteId": "USD",
    "type": "spot",
    "spot": True,
    "active": True,
    "precision": {"price": 0.01, "amount": 1e-8},
    "limits": {},
    "info": {},
}


def trade_messages(real_candles, first_id: int, n_msgs: int, per_msg: int = 3) -> list[dict]:
    """Coinbase market_trades updates (newest trade first in each, as Coinbase sends them), with
    prices and sizes taken from real minutes; times are set when sent."""
    closes = real_candles["close"].to_numpy()
    vols = real_candles["volume"].to_numpy()
    msgs, k = [], first_id
    for m in range(n_msgs):
        trades = []
        for j in range(per_msg):
            i = (m * per_msg + j) % len(closes)
            trades.append(
                {
                    "trade_id": str(k),
                    "product_id": "BTC-USD",
                    "price": f"{closes[i]:.2f}",
                    "size": f"{vols[i] / 50:.8f}",
                    "side": "BUY" if j % 2 else "SELL",
                    "time": None,
                }
            )
            k += 1
        msgs.append(
            {
                "channel": "market_trades",
                "client_id": "",
                "timestamp": None,
                "sequence_num": m,
                "events": [{"type": "update", "trades": trades[::-1]}],
            }
        )
    return msgs


class RecordedCoinbase:
    """A websocket server: answers the subscription, sends batch 1, closes the connection when
    told to (``drop``), then sends batch 2 to the next connection and stays open."""

    def __init__(self, batches):
        self.batches = batches
        self.sent: list[dict] = []  # trades as sent, with their times
        self.subscriptions: list[dict] = []
        self.connections = 0
        self.drop = threading.Event()
        self.port = free_port()
        self.ready = threading.Event()
        self._stop = None

    async def handler(self, ws):
        n = self.connections
        self.connections += 1
        sub = json.loads(await ws.recv())
        self.subscriptions.append(sub)
        ack = {"subscriptions": {"market_trades": ["BTC-USD"]}}  # as Coinbase acknowledges
        await ws.send(json.dumps({"channel": "subscriptions", "client_id": "", "events": [ack]}))
        for msg in self.batches[min(n, len(self.batches) - 1)]:
            stamp = pd.Timestamp.now(tz="UTC")
            iso = stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for j, tr in enumerate(reversed(msg["events"][0]["trades"])):  # oldest first
                t = stamp + pd.Timedelta(milliseconds=j)
                tr["time"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                row = {
                    "time": t,
                    "price": float(tr["price"]),
                    "qty": float(tr["size"]),
                    "side": tr["side"].lower(),
                }
                self.sent.append({**row, "id": tr["trade_id"]})
            msg["timestamp"] = iso
            await ws.send(json.dumps(msg))
            await asyncio.sleep(0.02)
        if n == 0:
            while not self.drop.is_set():
                await asyncio.sleep(0.05)
            await ws.close()  # the disconnect
            return
        await ws.wait_closed()

    def run(self):
        async def main():
            self._stop = asyncio.Event()
            async with websockets.asyncio.server.serve(self.handler, "127.0.0.1", self.port):
                self.ready.set()
                await self._stop.wait()

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(main(),), daemon=True
        )
        self.thread.start()
        assert self.ready.wait(10)

    def stop(self):
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)


class RestCandles(Source):
    """The REST side for this test: closed candles of the sample ending at the last minute,
    and no forming candle (so a poll shows whether the socket's candle was used)."""

    kind = "exchange"
    symbol = "BTC/USD"

    def __init__(self, real):
        self.real = real
        self.polls = 0

    def now(self):
        return pd.Timestamp.now(tz="UTC")

    def _frame(self):
        end = self.now().floor("1min")
        frame = self.real.iloc[:120][["open", "high", "low", "close", "volume"]].copy()
        frame.index = pd.date_range(
            end=end - pd.Timedelta(minutes=1), periods=120, freq="1min", name="open_time"
        )
        return frame

    def history(self, start, end=None):
        f = self._frame()
        return f[f.index >= start]

    def poll(self, since):
        self.polls += 1
        now = self.now()
        f = self._frame()
        return Poll(f if since is None else f[f.index > since], None, now)

    def describe(self):
        return "LIVE local REST BTC/USD"


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def expected_forming(sent, now):
    minute = now.floor("1min")
    rows = pd.DataFrame([s for s in sent if s["time"] >= minute])
    return build_candles(rows[["time", "price", "qty", "side"]]).iloc[-1]


def test_trades_by_websocket_build_the_forming_candle_and_a_drop_falls_back_to_polling(
    real_candles,
):
    server = RecordedCoinbase(
        [trade_messages(real_candles, 1000, 4), trade_messages(real_candles.iloc[500:], 2000, 3)]
    )
    server.run()

    def make_client():
        ex = ccxt.pro.coinbase({"urls": {"api": {"ws": f"ws://127.0.0.1:{server.port}"}}})
        ex.set_markets([MARKET])
        return ex

    stream = TradeStream(make_client, "BTC/USD", backoff_s=(0.2, 0.5)).start()
    rest = RestCandles(real_candles)
    src = StreamingSource(rest, stream)
    try:
        assert src.status == "LIVE polling"  # until the socket delivers
        wait_for(lambda: stream.received == 12, what="the first batch of trades")
        assert server.subscriptions[0] == {
            "type": "subscribe",
            "product_ids": ["BTC-USD"],
            "channel": "market_trades",
        }
        assert src.status == "LIVE ws" and "trades by websocket" in src.describe()
        first = src.poll(None)  # the first poll backfills by REST
        assert len(first.closed) == 120 and rest.polls == 1
        exp = expected_forming(server.sent, first.now)
        assert first.forming is not None and first.forming.name == first.now.floor("1min")
        for col in ("open", "high", "low", "close", "volume"):
            assert first.forming[col] == pytest.approx(exp[col])
        # nothing closed since: the socket alone answers, no REST request
        again = src.poll(first.closed.index[-1])
        if again.now.floor("1min") == first.now.floor("1min"):
            assert rest.polls == 1 and len(again.closed) == 0 and again.forming is not None

        server.drop.set()  # the exchange drops the connection
        wait_for(lambda: not stream.connected, what="the drop to be seen")
        assert src.status == "LIVE polling"
        assert "websocket down" in src.describe() and "polling REST" in src.describe()
        fallback = src.poll(first.closed.index[-1])
        assert fallback.forming is None  # REST's (none here), not the socket's stale one
        assert rest.polls >= 2

        wait_for(lambda: stream.connected and stream.received == 21, what="the reconnection")
        assert server.connections == 2 and stream.connects == 2
        assert src.status == "LIVE ws"
        now = pd.Timestamp.now(tz="UTC")
        got = src.forming_from_trades(now)
        exp = expected_forming(server.sent, now)
        assert got["close"] == pytest.approx(exp["close"])
        assert got["volume"] == pytest.approx(exp["volume"])
        assert got["taker_buy"] == pytest.approx(exp["taker_buy"])  # ccxt's taker side is kept
        assert 0 <= got["taker_buy"] <= got["volume"]
        ids = [s["id"] for s in server.sent]
        assert len(ids) == len(set(ids)) == 21  # every trade counted once
        assert np.isfinite(got.to_numpy()).all()
    finally:
        stream.stop()
        server.stop()
