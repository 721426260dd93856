"""Source adapters against hand-made replies: ccxt runs for real over a fake HTTP session."""

from __future__ import annotations

import json

import ccxt
import numpy as np
import pandas as pd
import pytest
import requests

from cryptousd import (
    BadReply,
    DataError,
    RateLimitError,
    RegionBlocked,
    SourceTimeout,
    SourceUnavailable,
)
from cryptousd.config import OHLCV
from cryptousd.data.sources import ExchangeSource, ReplaySource, SimulatedSource, YahooSource
from cryptousd.data.sources.replay import ReplayFinished

from .conftest import assert_candle_frame

T0 = 1_740_000_000_000 - 1_740_000_000_000 % 60_000  # start of a minute (ms)
NOW_MS = T0 + 30_000  # the exchange's clock: 30 s into that minute


class FakeSession:
    """Stands in for requests.Session: answers ccxt's requests from a list of canned replies."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []
        self.cookies = requests.cookies.RequestsCookieJar()
        self.headers = {}

    def request(self, method, url, **kw):
        self.calls.append(url)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        r = requests.Response()
        r.status_code = status
        r._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        r.headers.update(headers or {"Content-Type": "application/json"})
        r.url = url
        r.reason = {
            200: "OK",
            429: "Too Many Requests",
            451: "Unavailable For Legal Reasons",
            503: "Service Unavailable",
        }.get(status, "")
        return r


def coinbase(replies):
    ex = ccxt.coinbase({"enableRateLimit": False})
    ex.session = FakeSession(replies)
    ex.set_markets(
        [
            {
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
        ]
    )
    ex.milliseconds = lambda: NOW_MS
    ex.seconds = lambda: NOW_MS // 1000
    return ex


def candles_reply(start_ms, n, price=100.0):
    rows = [
        {
            "start": str((start_ms + i * 60_000) // 1000),
            "low": str(price - 1),
            "high": str(price + 1),
            "open": str(price),
            "close": str(price + 0.5),
            "volume": "1.5",
        }
        for i in range(n)
    ]
    return 200, {"candles": rows[::-1]}, None  # Coinbase answers newest first


def source(replies, **kw):
    sleeps = []
    src = ExchangeSource("coinbase", "BTC/USD", client=coinbase(replies), sleep=sleeps.append, **kw)
    return src, sleeps


def test_history_paginates_and_drops_the_forming_candle():
    start = T0 - 400 * 60_000
    src, _ = source([candles_reply(start, 300), candles_reply(start + 300 * 60_000, 101)])
    df = src.history(pd.Timestamp(start, unit="ms", tz="UTC"))
    assert len(df) == 400  # the 401st minute is still forming at NOW
    assert (
        df.index[0] == pd.Timestamp(start, unit="ms", tz="UTC") and df.index.is_monotonic_increasing
    )
    assert (
        "product_id" not in src.client.session.calls[0]
        and "BTC-USD/candles" in src.client.session.calls[0]
    )


def test_poll_splits_closed_and_forming():
    start = T0 - 5 * 60_000
    src, _ = source([candles_reply(start, 6)])
    poll = src.poll(pd.Timestamp(start, unit="ms", tz="UTC") - pd.Timedelta("1min"))
    assert len(poll.closed) == 5 and poll.forming is not None
    assert poll.forming.name == pd.Timestamp(start + 5 * 60_000, unit="ms", tz="UTC")


def test_rate_limit_is_retried_with_backoff_honouring_retry_after():
    start = T0 - 9 * 60_000
    src, sleeps = source(
        [
            (429, {"error": "slow down"}, {"Content-Type": "application/json", "Retry-After": "7"}),
            candles_reply(start, 10),
        ]
    )
    df = src.history(pd.Timestamp(start, unit="ms", tz="UTC"))
    assert len(df) == 9 and sleeps == [7.0]  # the 10th candle is the forming one


def test_persistent_429_raises_rate_limit_error():
    src, sleeps = source([(429, {"error": "slow down"}, None)] * 3, max_retries=2)
    with pytest.raises(RateLimitError, match="rate limited"):
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))
    assert sleeps == [1.0, 2.0]


def test_451_is_region_blocked_and_not_retried():
    src, sleeps = source([(451, "Unavailable For Legal Reasons", {"Content-Type": "text/plain"})])
    with pytest.raises(RegionBlocked, match="HTTP 451"):
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))
    assert sleeps == []


def test_5xx_then_timeout_then_success():
    start = T0 - 3 * 60_000
    src, sleeps = source(
        [
            (503, "<html>maintenance</html>", {"Content-Type": "text/html"}),
            requests.exceptions.ReadTimeout("read timed out"),
            candles_reply(start, 3),
        ]
    )
    assert len(src.fetch_page(pd.Timestamp(start, unit="ms", tz="UTC"))) == 3
    assert sleeps == [1.0, 2.0]


def test_5xx_forever_raises_unavailable_saying_it_gave_up():
    src, sleeps = source([(502, "bad gateway", {"Content-Type": "text/plain"})] * 2, max_retries=1)
    with pytest.raises(
        SourceUnavailable, match=r"HTTP 502\); gave up after 2 tries: check the network"
    ):
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))
    assert len(sleeps) == 1


def test_timeout_forever_raises_timeout():
    src, _ = source([requests.exceptions.ReadTimeout("read timed out")] * 2, max_retries=1)
    with pytest.raises(SourceTimeout):
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))


def test_html_reply_is_bad_reply():
    src, _ = source([(200, "<!DOCTYPE html><html>captcha</html>", {"Content-Type": "text/html"})])
    with pytest.raises(BadReply, match="HTML"):
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))


def test_error_json_is_bad_reply_that_quotes_the_exchange():
    src, _ = source(
        [(400, {"error": "INVALID_ARGUMENT", "message": "granularity is invalid"}, None)]
    )
    with pytest.raises(BadReply, match="error reply .*granularity is invalid") as exc:
        src.fetch_page(pd.Timestamp(NOW_MS, unit="ms", tz="UTC"))
    assert not isinstance(exc.value, SourceUnavailable) and "\n" not in str(exc.value)


def test_malformed_candles_are_rejected_whole():
    start = T0 - 3 * 60_000
    status, body, h = candles_reply(start, 3)
    body["candles"][1]["high"] = "1"  # high below low: an impossible candle
    src, _ = source([(status, body, h)])
    with pytest.raises(BadReply, match="reply ignored"):
        src.fetch_page(pd.Timestamp(start, unit="ms", tz="UTC"))


# ---- Yahoo -------------------------------------------------------------------------------------


def yahoo_frame(start, n):
    idx = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    p = 100 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "Open": p,
            "High": p + 1,
            "Low": p - 1,
            "Close": p + 0.5,
            "Volume": 0.0,
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=idx,
    )


def test_yahoo_chunks_requests_by_seven_days_and_normalises():
    now = pd.Timestamp("2026-11-20 12:00:30", tz="UTC")
    calls = []

    def download(ticker, a, b):
        calls.append((a, b))
        n = int((b - a) / pd.Timedelta("1min")) + 1
        return yahoo_frame(a, min(n, 3))

    src = YahooSource(download=download, clock=lambda: now)
    df = src.history(now - pd.Timedelta(days=10))
    assert len(calls) == 2 and calls[0][1] - calls[0][0] == pd.Timedelta(days=7)
    assert (
        list(df.columns[:5]) == ["open", "high", "low", "close", "volume"]
        and str(df.index.tz) == "UTC"
    )


def test_yahoo_refuses_more_than_30_days_back():
    now = pd.Timestamp("2026-11-20", tz="UTC")
    src = YahooSource(download=lambda *a: yahoo_frame(now, 1), clock=lambda: now)
    with pytest.raises(DataError, match="reaches back 30 days only"):
        src.history(now - pd.Timedelta(days=45))


def test_yahoo_errors_are_typed():
    now = pd.Timestamp("2026-11-20", tz="UTC")

    class YFRateLimitError(Exception):
        pass

    def boom(*a):
        raise YFRateLimitError("Too Many Requests. Rate limited.")

    with pytest.raises(RateLimitError):
        YahooSource(download=boom, clock=lambda: now).history(now - pd.Timedelta(hours=1))
    with pytest.raises(BadReply):
        YahooSource(download=lambda *a: "<html>", clock=lambda: now).history(
            now - pd.Timedelta(hours=1)
        )


# ---- replay and simulation ---------------------------------------------------------------------


def test_replay_clock_and_forming_candle(candles):
    t = [0.0]
    src = ReplaySource(candles, speed=60.0, clock=lambda: t[0])
    first = src.poll(None)
    assert len(first.closed) == 60 and first.closed.index[-1] == candles.index[59]
    t[0] = 2.5  # 150 market minutes later
    poll = src.poll(first.closed.index[-1])
    assert len(poll.closed) == 150 and poll.closed.index[0] == candles.index[60]
    f = poll.forming
    assert (
        f is not None
        and f["low"] <= min(f["open"], f["close"]) <= max(f["open"], f["close"]) <= f["high"]
    )


def test_replay_step_mode_and_end(candles):
    src = ReplaySource(candles.iloc[:70], speed=None)
    since = None
    got = 0
    with pytest.raises(ReplayFinished):
        for _ in range(20):
            poll = src.poll(since)
            got += len(poll.closed)
            since = poll.closed.index[-1] if len(poll.closed) else since
    # after the first poll (the last 60 closed candles), every later candle arrives exactly once
    assert got == 69 and since == candles.index[69]


def test_a_replay_that_ends_hands_out_every_closed_candle_before_finished(real_candles):
    """400 real minutes at x60 polled every half second (30 market minutes): the poll that
    crosses the end still returns the minutes closed since the last one (they were lost)."""
    short = real_candles.iloc[:400][OHLCV]
    t = [0.0]
    src = ReplaySource(short, speed=60.0, clock=lambda: t[0])
    since, got = None, []
    with pytest.raises(ReplayFinished, match="restart it"):
        for _ in range(30):
            poll = src.poll(since)
            got.append(poll.closed)
            since = poll.closed.index[-1] if len(poll.closed) else since
            t[0] += 0.5
    seen = pd.concat(got)
    assert seen.index.is_unique and seen.index[-1] == short.index[-1]
    pd.testing.assert_frame_equal(seen, short.iloc[-len(seen) :], check_freq=False)
    assert len(seen) == 400  # the first poll's 60 backfilled, then every later minute


def test_a_looping_replay_continues_past_its_data_without_a_jump(real_candles):
    short = real_candles.iloc[:400][OHLCV]
    t = [0.0]
    src = ReplaySource(short, speed=60.0, clock=lambda: t[0], loop=True)
    since, got = None, []
    for _ in range(30):  # 900 market minutes in 15 s of wall time, over two seams
        poll = src.poll(since)
        got.append(poll.closed)
        since = poll.closed.index[-1] if len(poll.closed) else since
        t[0] += 0.5
    seen = pd.concat(got)
    assert_candle_frame(seen)
    assert (np.diff(seen.index.asi8) == 60_000_000_000).all()  # one minute apart, no jump back
    span = pd.Timedelta(minutes=400)
    seam = short.index[0] + span
    assert src.seams(seen.index[0], seen.index[-1]) == [seam, seam + span]
    after = seen.loc[seam]
    assert after["open"] == pytest.approx(short["close"].iloc[-1])  # no price jump at the seam
    ratio = short["close"].iloc[-1] / short["open"].iloc[0]
    # a later pass: the data at the first pass's end price, its drift taken out (by hand: the
    # first candle scaled by ratio, the last by 1; in between geometrically in time)
    second = seen.loc[seam : seam + span - pd.Timedelta("1min")]
    np.testing.assert_allclose(second["high"].iloc[0], short["high"].iloc[0] * ratio, rtol=1e-12)
    np.testing.assert_allclose(second["close"].iloc[-1], short["close"].iloc[-1], rtol=1e-12)
    np.testing.assert_allclose(
        second["low"].iloc[199], short["low"].iloc[199] * ratio ** (1 - 199 / 399), rtol=1e-12
    )
    np.testing.assert_allclose(  # every later pass is the same: no compounding, prices bounded
        seen.loc[seam + span :, "close"].to_numpy(),
        second["close"].iloc[: len(seen.loc[seam + span :])].to_numpy(),
        rtol=1e-12,
    )
    assert seen.loc[seam + span, "open"] == pytest.approx(short["close"].iloc[-1], rel=1e-12)
    assert seen.loc[seam, "volume"] == short["volume"].iloc[0]
    assert src.status == "REPLAY x60 · loop 3" and src.poll(since).forming is not None


def test_restart_clock_goes_on_from_the_last_poll(real_candles):
    t = [0.0]
    src = ReplaySource(real_candles, speed=60.0, clock=lambda: t[0], loop=True)
    first = src.poll(None)
    t[0] = 3600.0  # an hour of wall time waiting for a viewer: 60 market hours
    src.restart_clock()
    assert src.now() == first.now
    t[0] += 2.5 / 60  # two and a half market minutes at x60: two close
    assert len(src.poll(first.closed.index[-1]).closed) == 2


def test_simulated_source_is_labelled_and_valid():
    src = SimulatedSource(speed=None, minutes=500)
    poll = src.poll(None)
    assert src.status == "SIMULATED" and len(poll.closed) == 60
    assert (poll.closed["high"] >= poll.closed[["open", "close"]].max(axis=1)).all()


def test_archive_source_history_and_poll(archives):
    from cryptousd.data.sources import ArchiveSource

    src = ArchiveSource(archives[13])
    day = src.history("2025-02-10", "2025-02-11")
    assert len(day) == 1440 and day.index[0] == pd.Timestamp("2025-02-10", tz="UTC")
    poll = src.poll(None)
    assert (
        poll.closed.index[-1] == pd.Timestamp("2025-02-28 23:59", tz="UTC")
        and len(poll.closed) == 61
    )
