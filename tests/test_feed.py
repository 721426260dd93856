"""The feed service against a real uvicorn on 127.0.0.1, replaying the bundled sample fast.

Every check reads what a client would: JSON over HTTP and server-sent events off the socket.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from cryptousd import load_candles
from cryptousd.config import DEFAULT_MODEL
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.live.feed.client import SSE, frame_from_json, parse_sse

from .browser import free_port
from .conftest import assert_candle_frame
from .feed_server import feed_server, serve_command

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def feed():
    with feed_server() as (url, _):
        # wait until the first forecast is out
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/api/predict").status_code != 200:
            assert time.monotonic() < deadline, "no forecast within 60 s"
            time.sleep(0.2)
        yield url


@pytest.fixture(scope="module")
def sample():
    return load_candles(SAMPLE_FILE)


def read_stream(url, n, *, headers=None, params=None, until=None) -> list[SSE]:
    """The first ``n`` events of a stream (or up to the first one ``until`` accepts)."""
    out = []
    with httpx.stream(
        "GET",
        f"{url}/api/stream",
        params=params or {"symbol": "BTC/USD"},
        headers=headers or {},
        timeout=httpx.Timeout(30.0),
    ) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for ev in parse_sse(resp.iter_lines()):
            out.append(ev)
            if len(out) >= n or (until and until(ev)):
                break
    return out


def test_health_names_the_symbols_and_the_source(feed):
    h = httpx.get(f"{feed}/healthz").json()
    assert h["ok"] is True
    assert h["symbols"]["BTC/USD"]["status"].startswith("REPLAY")


def test_history_is_the_replayed_minutes_newest_last(feed, sample):
    r = httpx.get(f"{feed}/api/history", params={"symbol": "BTC/USD", "limit": 60})
    assert r.status_code == 200
    body = r.json()
    frame = frame_from_json(body["candles"])
    assert len(frame) == 60
    assert_candle_frame(frame)
    assert (np.diff(frame.index.asi8) == 60_000_000_000).all()
    # the same numbers as the file, read another way
    pd.testing.assert_frame_equal(frame, sample.loc[frame.index, frame.columns], check_freq=False)
    assert len(httpx.get(f"{feed}/api/history", params={"limit": 5}).json()["candles"]) == 5


def test_predict_gives_ten_candles_after_the_origin_with_interval_and_p_up(feed):
    fc = httpx.get(f"{feed}/api/predict", params={"symbol": "BTC/USD"}).json()
    assert fc["model"] == DEFAULT_MODEL and fc["interval"] == "1min" and fc["horizon"] == 10
    frame = frame_from_json(fc["candles"])
    assert len(frame) == 10
    assert_candle_frame(frame)
    origin = pd.Timestamp(fc["origin"])
    assert frame.index[0] == origin + pd.Timedelta(minutes=1)
    assert frame["open"].iloc[0] == pytest.approx(fc["last_close"])
    lower, upper = np.array(fc["lower"]), np.array(fc["upper"])
    assert (lower <= frame["close"].to_numpy()).all() and (frame["close"].to_numpy() <= upper).all()
    assert 0 <= fc["p_up"] <= 1 and fc["latency_ms"] > 0
    assert fc["model_note"] == ""  # a BTC model for BTC: nothing to warn about


def test_metrics_score_the_session_beside_persistence(feed):
    deadline = time.monotonic() + 60
    while (m := httpx.get(f"{feed}/api/metrics").json())["scorecard"]["resolved"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    sc = m["scorecard"]
    assert sc["mae"] > 0 and sc["mae_persistence"] > 0
    assert sc["mae_ratio"] == pytest.approx(sc["mae"] / sc["mae_persistence"])
    assert 0 <= sc["coverage"] <= 1
    assert m["status"].startswith("REPLAY") and "BTCUSDT-1m-2025-03-25_31" in m["source"]
    assert m["model_line"].startswith(DEFAULT_MODEL) and "persistence" in m["model_line"]


@pytest.mark.parametrize(
    "path, params, status",
    [
        ("/api/history", {"symbol": "XRP/USD"}, 404),
        ("/api/predict", {"symbol": "../../etc/passwd"}, 404),
        ("/api/metrics", {"symbol": "BTC/USD; rm -rf /"}, 404),
        ("/api/stream", {"symbol": "DOGE/USD"}, 404),
        ("/api/history", {"limit": 0}, 422),
        ("/api/history", {"limit": 10_001}, 422),
        ("/api/history", {"limit": "sixty"}, 422),
        ("/api/history", {"symbol": ""}, 422),
        ("/api/history", {"symbol": "X" * 41}, 422),
        ("/static/..%2F..%2Fapp.py", {}, 404),
        ("/static/index.html.bak", {}, 404),
        ("/api/nothing", {}, 404),
    ],
)
def test_bad_requests_get_json_errors_with_4xx(feed, path, params, status):
    r = httpx.get(f"{feed}{path}", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()
    if status == 404 and path.startswith("/api/") and path != "/api/nothing":
        assert r.json()["symbols"] == ["BTC/USD"]  # it lists the known ones


@pytest.mark.parametrize("bad", ["abc", "-1", "1e3", "9" * 19, "²"])
def test_a_bad_last_event_id_is_refused(feed, bad):
    r = httpx.get(f"{feed}/api/stream", params={"last_event_id": bad})
    assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]


def test_symbols_are_read_in_either_spelling(feed):
    a = httpx.get(f"{feed}/api/history", params={"symbol": "btc-usd", "limit": 1}).json()
    assert a["symbol"] == "BTC/USD"


def test_the_openapi_page_lists_the_endpoints(feed):
    spec = httpx.get(f"{feed}/openapi.json").json()
    for p in ("/api/history", "/api/predict", "/api/metrics", "/api/stream", "/healthz"):
        assert p in spec["paths"]


def test_nothing_the_feed_serves_needs_a_cdn(feed):
    """Offline, FastAPI's /docs (Swagger UI from a CDN) would be blank: it leads to the
    description instead, /redoc is not served, and the page and its files are local."""
    docs = httpx.get(f"{feed}/docs", follow_redirects=True)
    assert docs.status_code == 200 and str(docs.url) == f"{feed}/openapi.json"
    assert "/api/predict" in docs.json()["paths"]
    assert httpx.get(f"{feed}/redoc").status_code == 404
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = httpx.get(f"{feed}{path}").text
        assert "cdn" not in text.lower() and "https://" not in text, path


def test_the_favicon_is_the_packaged_icon(feed):
    from importlib.resources import files

    r = httpx.get(f"{feed}/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content == (files("cryptousd.live.feed") / "static" / "favicon.ico").read_bytes()
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_a_new_client_gets_60_candles_then_forecast_tick_and_state_then_live_events(feed):
    events = read_stream(feed, 200)
    # the snapshot: 60 candles and the latest of each other kind, in id order
    ids = [int(e.id) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    kinds = [e.event for e in events[:63]]
    assert kinds.count("candle") == 60
    assert {"forecast", "state"} <= set(kinds)
    candles = [e.json()["t"] for e in events if e.event == "candle"]
    times = pd.DatetimeIndex(candles).as_unit("ns")
    assert (np.diff(times.asi8) == 60_000_000_000).all()  # consecutive minutes, no gap, no repeat
    assert len(candles) > 60  # live candles followed the snapshot
    fc = [e.json() for e in events if e.event == "forecast"][-1]
    assert len(fc["candles"]) == 10


def test_a_client_that_reconnects_with_last_event_id_gets_exactly_what_it_missed(feed):
    first = read_stream(feed, 70)
    last_id = int(first[-1].id)
    last_candle = [e.json()["t"] for e in first if e.event == "candle"][-1]
    time.sleep(1.5)  # events go by meanwhile
    again = read_stream(feed, 40, headers={"Last-Event-ID": str(last_id)})
    assert int(again[0].id) == last_id + 1
    assert [int(e.id) for e in again] == list(range(last_id + 1, last_id + 1 + len(again)))
    next_candle = next(e.json()["t"] for e in again if e.event == "candle")
    assert pd.Timestamp(next_candle) == pd.Timestamp(last_candle) + pd.Timedelta(minutes=1)


def test_an_id_older_than_the_buffer_gets_the_snapshot_again(feed):
    events = read_stream(feed, 60, headers={"Last-Event-ID": "0"})
    assert [e.event for e in events].count("candle") >= 55


def test_a_token_is_required_when_one_is_set_and_accepted_as_bearer_or_query():
    with feed_server("--token", "s3cret") as (url, _):
        r = httpx.get(f"{url}/api/history")
        assert r.status_code == 401 and "token" in r.json()["detail"]
        assert httpx.get(f"{url}/api/history", params={"token": "wrong"}).status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{url}/api/history", headers=ok).status_code == 200
        assert httpx.get(f"{url}/api/metrics", params={"token": "s3cret"}).status_code == 200
        assert httpx.get(f"{url}/api/stream", params={"token": "nope"}).status_code == 401
        events = read_stream(url, 3, params={"symbol": "BTC/USD", "token": "s3cret"})
        assert len(events) == 3
        assert httpx.get(f"{url}/healthz").status_code == 200  # health carries no data


def test_exposing_the_feed_without_a_token_is_refused_in_one_line():
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "CRYPTOUSD_TOKEN"}
    out = subprocess.run(
        serve_command(free_port(), "--host", "0.0.0.0", "--source", "simulated"),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: --host 0.0.0.0 exposes the feed")
    assert "Traceback" not in out.stderr


def test_a_client_that_reads_nothing_is_dropped_and_the_others_keep_every_candle():
    # 32 events: several ticks' worth (a tick at x30 every 0.1 s sends about six)
    with feed_server("--queue", "32", speed=30, refresh=0.1) as (url, _):
        good: list[SSE] = []
        stop = threading.Event()

        def reader():
            with httpx.stream("GET", f"{url}/api/stream", timeout=30) as resp:
                for ev in parse_sse(resp.iter_lines()):
                    good.append(ev)
                    if stop.is_set():
                        return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        # a client that asks for the stream and never reads a byte
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        slow.sendall(b"GET /api/stream?symbol=BTC/USD HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            deadline = time.monotonic() + 180
            while httpx.get(f"{url}/api/metrics").json()["clients_dropped"] < 1:
                assert time.monotonic() < deadline, "the silent client was never dropped"
                time.sleep(0.5)
            m = httpx.get(f"{url}/api/metrics").json()
            assert m["clients"] == 1, {k: v for k, v in m.items() if "client" in k or "tick" in k}
        finally:
            stop.set()
            slow.close()
        t.join(30)
        candles = pd.DatetimeIndex([e.json()["t"] for e in good if e.event == "candle"]).as_unit(
            "ns"
        )
        assert len(candles) > 200
        assert (np.diff(candles.asi8) == 60_000_000_000).all()  # it missed nothing
