"""Two symbols end to end: BTC/USD and ETH/USD served side by side, the ETH stream read by the
dashboard's symbol control, and the BTC model used for ETH with the panel saying so.

The sample has no ETH minutes, so the ETH file here is derived from the real BTC sample (prices
divided by 40, volumes times 40) and written to a temporary folder: real-shaped, not real ETH.
"""

from __future__ import annotations

import time

import httpx
import pytest

from cryptousd import load_candles
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.live.feed.client import FeedSession, frame_from_json

from .feed_server import feed_server

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def eth_file(tmp_path_factory):
    btc = load_candles(SAMPLE_FILE).iloc[:3000][["open", "high", "low", "close", "volume"]]
    eth = btc.copy()
    eth[["open", "high", "low", "close"]] = (btc[["open", "high", "low", "close"]] / 40).round(2)
    eth["volume"] = btc["volume"] * 40
    path = tmp_path_factory.mktemp("eth") / "ETHUSD-1m-derived.csv"
    eth.reset_index().assign(open_time=lambda d: d["open_time"].astype("int64") // 10**6).to_csv(
        path, index=False
    )
    return path, eth


@pytest.fixture(scope="module")
def two(eth_file):
    path, _ = eth_file
    replay = [SAMPLE_FILE, f"ETH/USD={path}"]
    with feed_server("--symbols", "BTC/USD,ETH/USD", replay=replay, speed=5) as (url, _):
        deadline = time.monotonic() + 60
        while any(
            httpx.get(f"{url}/api/predict", params={"symbol": s}).status_code != 200
            for s in ("BTC/USD", "ETH/USD")
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield url


def test_both_symbols_are_served_each_from_its_own_candles(two, eth_file):
    _, eth = eth_file
    assert set(httpx.get(f"{two}/healthz").json()["symbols"]) == {"BTC/USD", "ETH/USD"}
    e = frame_from_json(
        httpx.get(f"{two}/api/history", params={"symbol": "ETH/USD"}).json()["candles"]
    )
    b = frame_from_json(
        httpx.get(f"{two}/api/history", params={"symbol": "BTC/USD"}).json()["candles"]
    )
    assert e["close"].max() < 5_000 and b["close"].min() > 50_000
    assert (e["close"] == eth.loc[e.index, "close"]).all()  # the ETH file's numbers
    r = httpx.get(f"{two}/api/history", params={"symbol": "SOL/USD"})
    assert r.status_code == 404 and r.json()["symbols"] == ["BTC/USD", "ETH/USD"]


def test_eth_uses_the_btc_model_and_says_so(two):
    fc = httpx.get(f"{two}/api/predict", params={"symbol": "ETH/USD"}).json()
    assert fc["symbol"] == "ETH/USD" and fc["model"].endswith("btcusdt-1m")
    assert "trained on BTC/USDT" in fc["model_note"] and "scale-free" in fc["model_note"]
    assert fc["last_close"] < 5_000
    m = httpx.get(f"{two}/api/metrics", params={"symbol": "ETH/USD"}).json()
    assert "trained on BTC/USDT" in m["model_note"] and m["source"].startswith("REPLAY")
    assert httpx.get(f"{two}/api/predict").json()["model_note"] == ""  # BTC: nothing to say


def test_the_dashboard_symbol_control_switches_the_stream(two):
    from cryptousd.live.dashboard import Dashboard, Settings

    d = Dashboard(Settings(source="feed", feed_url=two, refresh_s=0.2))
    try:
        deadline = time.monotonic() + 60
        while len(d.session.state().candles) < 60:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        d.step()
        assert d.session.state().candles["close"].iloc[-1] > 50_000
        d.view.symbol.value = "ETH/USD"  # the control, as a viewer would use it
        assert isinstance(d.session, FeedSession) and d.session.symbol == "ETH/USD"
        while len(d.session.state().candles) < 60 or d.session.state().forecast is None:
            assert time.monotonic() < deadline + 60
            time.sleep(0.1)
        d.step()
        assert d.session.state().candles["close"].iloc[-1] < 5_000
        assert "trained on BTC/USDT" in d.view.panel.value
        assert d.forecaster is None
    finally:
        d.session.close()


def test_a_symbol_the_source_lacks_is_left_out_and_the_others_served():
    with feed_server("--symbols", "BTC/USD,ETH/USD", speed=5) as (url, _):  # no ETH file given
        assert list(httpx.get(f"{url}/healthz").json()["symbols"]) == ["BTC/USD"]
        r = httpx.get(f"{url}/api/history", params={"symbol": "ETH/USD"})
        assert r.status_code == 404 and r.json()["symbols"] == ["BTC/USD"]
