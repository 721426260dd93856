"""The feed's replay at its data's end, against a real ``cryptousd serve`` on 127.0.0.1: with
``--no-loop`` every closed minute is served, then FINISHED and /healthz 503 (while /livez stays
200); by default the replay loops, continuing the chart, and stays healthy."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from cryptousd import load_candles
from cryptousd.config import OHLCV
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.live.feed.client import frame_from_json

from .feed_server import feed_server


@pytest.fixture(scope="module")
def short_file(tmp_path_factory):
    """The bundled sample's first 400 real minutes as a CSV."""
    path = tmp_path_factory.mktemp("replay") / "BTCUSDT-400-minutes.csv"
    load_candles(SAMPLE_FILE).iloc[:400][OHLCV].to_csv(path)
    return path


def wait_for(get, ok, what: str, timeout: float = 90.0):
    """Poll ``get()`` until ``ok(value)``; the last value in the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout:.0f} s: {value}")
        time.sleep(0.2)


def history(url: str):
    r = httpx.get(f"{url}/api/history", params={"symbol": "BTC/USD", "limit": 10_000})
    return frame_from_json(r.json()["candles"])


def test_no_loop_serves_every_minute_then_finished_and_healthz_503(short_file):
    data = load_candles(short_file)
    with feed_server("--no-loop", replay=short_file, speed=60, refresh=0.5) as (url, _):
        health = wait_for(
            lambda: httpx.get(f"{url}/healthz"), lambda r: r.status_code == 503, "503"
        )
        body = health.json()
        btc = body["symbols"]["BTC/USD"]
        assert body["ok"] is False and "FINISHED" in body["reason"]
        assert btc["status"] == "FINISHED" and btc["ready"] is False
        assert {"clients", "events"} <= set(btc)
        live = httpx.get(f"{url}/livez")
        assert live.status_code == 200 and live.json()["ok"] is True
        got = history(url)
        # every minute from the first backfill (the clock ran while the model loaded) to the
        # file's last: the final poll's minutes were lost before FINISHED
        assert got.index[-1] == data.index[-1] and len(got) > 300
        tail = data.iloc[-len(got) :]
        assert (got.index == tail.index).all()
        np.testing.assert_allclose(got["close"].to_numpy(), tail["close"].to_numpy())


def test_a_looping_replay_goes_on_past_its_end_and_stays_healthy(short_file):
    data = load_candles(short_file)
    with feed_server(replay=short_file, speed=600, refresh=0.2) as (url, _):
        wait_for(
            lambda: httpx.get(f"{url}/healthz").json()["symbols"]["BTC/USD"]["status"],
            lambda s: "loop 3" in s,
            "the third pass",
        )
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True
        got = history(url)
        assert (np.diff(got.index.asi8) == 60_000_000_000).all()  # no jump back, no hole
        seam = data.index[0] + 400 * (data.index[1] - data.index[0])
        assert got.index[0] <= seam < got.index[-1]
        assert got.loc[seam, "open"] == pytest.approx(data["close"].iloc[-1], rel=1e-9)
