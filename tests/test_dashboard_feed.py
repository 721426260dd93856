"""The dashboard's ``feed`` source against a real ``cryptousd serve`` on 127.0.0.1: it draws what
the service streams, loads no model and no ccxt, and rides out a restart of the service."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest

from cryptousd.indicators import COLUMNS as INDICATOR_COLUMNS
from cryptousd.live.dashboard import Settings
from cryptousd.live.feed.client import FeedSession

from .browser import free_port
from .conftest import assert_candle_frame
from .feed_server import feed_server

pytestmark = pytest.mark.timeout(300)


def wait_for(pred, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_settings_read_the_feed_from_the_environment():
    s = Settings.from_env({"CRYPTOUSD_SOURCE": "feed", "CRYPTOUSD_FEED_URL": "http://h:9/"})
    assert (s.source, s.feed_url) == ("feed", "http://h:9/")
    assert Settings.from_env({}).feed_url == "http://127.0.0.1:8000"
    with pytest.raises(ValueError, match="feed URL"):
        Settings.from_env({"CRYPTOUSD_SOURCE": "feed", "CRYPTOUSD_FEED_URL": "file:///etc"})


def test_a_feed_session_holds_what_the_service_sends():
    with feed_server(speed=5) as (url, _):
        fs = FeedSession(url, "BTC/USD")
        try:
            wait_for(lambda: fs.state().forecast is not None and len(fs.state().candles) == 60)
            st = fs.state()
            assert_candle_frame(st.candles)
            assert st.status.startswith("REPLAY") and st.error is None
            assert len(st.forecast.candles) == 10
            assert st.forecast.origin <= st.candles.index[-1]
            hist = httpx.get(f"{url}/api/history", params={"limit": 60}).json()["candles"]
            served = pd.DatetimeIndex([c["t"] for c in hist]).as_unit("ns")
            common = st.candles.index.intersection(served)
            assert len(common) > 30  # the two reads overlap; where they do they agree
            closes = {pd.Timestamp(c["t"]): c["close"] for c in hist}
            assert all(st.candles.loc[t, "close"] == closes[t] for t in common)
            assert fs.model_line.startswith("lstm-direct")
            ind = st.indicators  # the service's streaming indicators come with its candles
            assert list(ind.columns) == INDICATOR_COLUMNS
            assert ind.index.isin(st.candles.index).all() and len(ind) >= 30
            rsi = ind["rsi"].dropna()
            assert len(rsi) >= 20 and rsi.between(0, 100).all()
            bands = ind[["bb_lower", "bb_mid", "bb_upper"]].dropna()
            assert len(bands) and (bands["bb_lower"] <= bands["bb_mid"]).all()
            assert (bands["bb_mid"] <= bands["bb_upper"]).all()
        finally:
            fs.close()


def test_a_restarted_service_is_reconnected_to_and_the_state_says_so_meanwhile():
    port = free_port()
    with feed_server(speed=5, port=port) as (url, _):
        fs = FeedSession(url, "BTC/USD", backoff_s=(0.2, 1.0))
        wait_for(lambda: len(fs.state().candles) == 60, what="first candles")
    try:
        wait_for(lambda: fs.state().status == "RECONNECTING", what="RECONNECTING")
        assert fs.state().error
        with feed_server(speed=5, port=port):
            wait_for(lambda: fs.state().status.startswith("REPLAY"), what="reconnection")
            assert fs.reconnects >= 1
    finally:
        fs.close()


KERNEL = """
import json, sys, time
from cryptousd.live.dashboard import Dashboard, Settings
d = Dashboard(Settings(source="feed", feed_url=sys.argv[1], refresh_s=0.2))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    d.step()
    if len(d.view.real.x) == 60 and len(d.view.pred.x) == 10:
        break
    time.sleep(0.2)
print(json.dumps({
    "real": len(d.view.real.x), "pred": len(d.view.pred.x),
    "forecaster": d.forecaster is not None,
    "ccxt": "ccxt" in sys.modules, "tensorflow": "tensorflow" in sys.modules,
    "panel": d.view.panel.value, "header": d.view.header.value,
}))
"""


def test_the_dashboard_on_the_feed_draws_60_and_10_candles_with_no_model_and_no_ccxt():
    with feed_server(speed=5) as (url, _):
        out = subprocess.run(
            [sys.executable, "-c", KERNEL, url],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert (res["real"], res["pred"]) == (60, 10)
    assert res["forecaster"] is False  # no model loaded in the kernel
    assert res["ccxt"] is False and res["tensorflow"] is False
    assert "FEED http://127.0.0.1" in res["header"] and "REPLAY" in res["header"]
    assert "lstm-direct" in res["panel"] and "P(up in 10 min)" in res["panel"]
