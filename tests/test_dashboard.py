"""The dashboard view and its wiring, without a browser (widgets hold their state in Python)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, SourceUnavailable
from cryptousd.data.sources import ReplaySource
from cryptousd.live.dashboard import Dashboard, Settings, make_source, panel_html, served_by_voila
from cryptousd.live.session import LiveSession


@pytest.fixture
def dash(recent_file, monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    return Dashboard(Settings(source="replay", replay=(str(recent_file),), replay_speed=600))


def test_settings_from_environment_and_validation(recent_file):
    env = {
        "CRYPTOUSD_SOURCE": "replay",
        "CRYPTOUSD_REPLAY": str(recent_file),
        "CRYPTOUSD_REPLAY_SPEED": "120",
        "CRYPTOUSD_REFRESH_S": "2.5",
        "CRYPTOUSD_MODEL": "persistence",
    }
    s = Settings.from_env(env)
    assert (s.source, s.replay_speed, s.refresh_s, s.model) == ("replay", 120.0, 2.5, "persistence")
    with pytest.raises(DataError, match="CRYPTOUSD_REFRESH_S='fast': not a number"):
        Settings.from_env({"CRYPTOUSD_REFRESH_S": "fast"})
    with pytest.raises(DataError, match="choose one of auto, exchange"):
        Settings(source="bitcoin-magic").validated()
    with pytest.raises(DataError, match="between 0.1 and 60"):
        Settings(refresh_s=0).validated()


def test_first_step_draws_60_real_and_10_predicted_candles(dash):
    dash.step()
    v = dash.view
    assert len(v.real.x) == 60 and len(v.pred.x) == 10 and np.asarray(v.band.y).shape == (2, 11)
    y = np.asarray(v.pred.y)
    assert (y[:, 1] >= y[:, [0, 3]].max(axis=1)).all() and (
        y[:, 2] <= y[:, [0, 3]].min(axis=1)
    ).all()  # valid OHLC
    assert v.pred.x[0] > v.real.x[-1] and v.sy.min < np.asarray(v.real.y).min()
    assert (
        "REPLAY x600" in v.header.value
        and "cu-forecast" in v.panel.value
        and "P(up in 10 min)" in v.panel.value
    )


def test_controls_change_the_session_and_bad_values_are_refused(dash):
    dash.step()
    dash.view.speed.value = 60
    assert dash.session.source.speed == 60
    dash.view.symbol.value = "ETH/USD"  # replay data holds BTC only
    assert "BTC only" in dash.view.message.value and dash.settings.symbol == "BTC/USD"
    dash.view.refresh.value = 0.1
    assert (
        dash.settings.refresh_s == 0.1 and dash.view.message.value == ""
    )  # a good change clears the error
    dash.view.pause.value = True
    assert dash.session.status == "PAUSED" and dash.view.pause.description == "Resume"


def test_a_failing_source_shows_reconnecting_on_the_page(dash, candles):
    class Down:
        status = "LIVE"

        def poll(self, since):
            raise SourceUnavailable(
                "coinbase fetch_ohlcv BTC/USD: exchange unavailable (HTTP 503); will retry"
            )

        def describe(self):
            return "LIVE coinbase BTC/USD"

    dash.session = LiveSession(Down(), dash.forecaster)
    dash.step()
    assert "RECONNECTING" in dash.view.header.value
    assert "HTTP 503" in dash.view.panel.value and "retry in" in dash.view.panel.value


def test_make_source_auto_falls_back_to_replay_offline(recent_file, monkeypatch):
    from cryptousd.data.sources import exchange

    def offline(self, since, limit=None):
        raise SourceUnavailable("coinbase: exchange unavailable (network error); will retry")

    monkeypatch.setattr(exchange.ExchangeSource, "fetch_page", offline)
    src, note = make_source("auto", replay=(str(recent_file),))
    assert isinstance(src, ReplaySource) and "replaying local data" in note
    with pytest.raises(DataError, match="local data has BTC only"):
        make_source("auto", "ETH/USD")


def test_panel_before_any_forecast_says_so(dash):
    html = panel_html(dash.session.state(), model_line="m")
    assert "waiting for the first forecast" in html


def test_served_by_voila(monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    monkeypatch.delenv("VOILA_SERVER_URL", raising=False)
    assert not served_by_voila()
    monkeypatch.setenv("VOILA_KERNEL_ID", "abc")
    assert served_by_voila()


def test_timer_thread_ticks_and_stops(dash):
    import time

    dash.settings = Settings(
        source="replay", replay=dash.settings.replay, refresh_s=0.05, replay_speed=600
    )
    dash.start()
    deadline = time.monotonic() + 60  # wait for ticks, not for a fixed time
    while (
        len(dash.render_ms) < 3 or dash.session.forecast is None
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    dash.stop()
    dash._thread.join(timeout=10)
    assert not dash._thread.is_alive()
    ticks = len(dash.render_ms)
    time.sleep(0.2)
    assert len(dash.render_ms) == ticks  # stopped means no more ticks
    assert ticks >= 3 and dash.session.forecast is not None


def test_replay_from_a_store_plays_its_last_month(tmp_path, archives):
    from cryptousd import CandleStore
    from cryptousd.data.candle_files import read_candle_file

    store = CandleStore(tmp_path / "store")
    for a in archives[12:15]:
        store.append(read_candle_file(a), source="binance", symbol="BTC/USDT")
    src, _ = make_source("replay", replay=(str(store.root),))
    assert src.candles.index[-1] == pd.Timestamp("2025-03-31 23:59", tz="UTC")
    assert src.candles.index[0] == pd.Timestamp(
        "2025-03-01 23:59", tz="UTC"
    )  # 30 days before the end


def test_auto_on_a_fresh_clone_replays_the_bundled_sample(tmp_path, monkeypatch):
    from cryptousd import locate
    from cryptousd.data.sources import exchange

    def offline(self, since, limit=None):
        raise SourceUnavailable("coinbase: exchange unavailable (network error)")

    monkeypatch.setattr(exchange.ExchangeSource, "fetch_page", offline)
    monkeypatch.setattr(locate, "STORE_DIR", tmp_path / "store")  # empty
    monkeypatch.setattr(locate, "ARCHIVE_DIR", tmp_path / "archive")  # empty
    monkeypatch.setattr(locate, "shared_archives", list)  # no ../shared
    monkeypatch.delenv("CRYPTOUSD_DATA", raising=False)
    src, note = make_source("auto")
    assert isinstance(src, ReplaySource) and "replaying local data" in note
    assert "bundled sample" in src.describe()
    assert (
        src.candles.index[0] == pd.Timestamp("2025-03-25", tz="UTC") and len(src.candles) == 10_080
    )


def test_the_dashboard_kernel_imports_only_what_the_page_uses():
    """What a Voila kernel imports before the first chart: no TensorFlow, no numba (one forecast
    per candle runs in NumPy), no scipy, matplotlib or exchange clients for a replay."""
    import subprocess
    import sys

    code = (
        "import os, sys; os.environ['CRYPTOUSD_SOURCE'] = 'replay'\n"
        "from cryptousd.live.dashboard import Dashboard, Settings\n"
        "d = Dashboard(Settings.from_env()); d.step()\n"
        "assert d.forecaster.net.path == 'numpy'\n"
        "heavy = ['tensorflow', 'keras', 'numba', 'scipy', 'matplotlib', 'ccxt', 'yfinance']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_voila_serves_a_preheated_pool_unless_told_not_to():
    from cryptousd.live.serve import POOL_SIZE, voila_command

    cmd = voila_command(8866)
    assert "--preheat_kernel=True" in cmd and f"--pool_size={POOL_SIZE}" in cmd
    assert any(a.startswith("--VoilaConfiguration.extension_denylist=") for a in cmd)
    cold = voila_command(8866, pool_size=0)
    assert not any("preheat" in a or "pool_size" in a for a in cold)


def test_cli_dashboard_takes_a_pool_size():
    from cryptousd.cli import build_parser

    args = build_parser().parse_args(["dashboard", "--pool-size", "0"])
    assert args.pool_size == 0
    assert build_parser().parse_args(["dashboard"]).pool_size == 2


def test_indicator_panes_draw_the_sessions_indicators_and_switch_off(dash):
    for _ in range(3):
        dash.step()
    v, ind = dash.view, dash.session.state().indicators
    assert len(v.rsi_line.x) == 60 and (v.rsi_line.x == v.real.x).all()  # one time axis
    assert v.rsi_line.scales["x"] is v.sx is v.macd_lines.scales["x"] is v.bollinger.scales["x"]
    # the view draws the session's values as they are (copied, not recomputed): exact
    np.testing.assert_array_equal(v.rsi_line.y, ind["rsi"].to_numpy())
    np.testing.assert_array_equal(np.asarray(v.macd_lines.y)[1], ind["macd_signal"].to_numpy())
    hist = np.asarray(v.macd_up.y) + np.asarray(v.macd_down.y)
    np.testing.assert_array_equal(hist, ind["macd_hist"].fillna(0).to_numpy())
    assert np.asarray(v.bollinger.y).shape == (3, 60) and "cu-vol" in v.panel.value
    assert "%" in v.panel.value.split("cu-vol")[1].split("</tr>")[0]
    for box in v.pane_switch.children:
        box.value = False
    dash.step()
    assert v.rsi_fig.layout.display == "none" and v.macd_fig.layout.display == "none"
    assert not v.bollinger.visible and "cu-vol" not in v.panel.value
    v.pane_switch.children[0].value = True  # shown again at once, without waiting for a candle
    assert v.rsi_fig.layout.display is None and len(v.rsi_line.x) == 60


def test_p_up_from_the_direction_classifier_and_the_panel_says_which(dash, real_candles):
    from cryptousd.forecast.direction import load_classifier

    dash.step()
    assert "the forecaster (lstm-direct-btcusdt-1m)" in dash.view.panel.value
    dash.view.pup_source.value = "classifier (lstm)"
    for _ in range(2):
        dash.step()
    panel = dash.view.panel.value
    assert "classifier direction-btcusdt-1m (lstm)" in panel
    assert dash.classifier.net.path == "numpy"  # the kernel never imports numba
    session = dash.session
    want = load_classifier(None, "lstm").p_up(session.candles, session.indicator_frame())[10]
    assert f"{want:.1%}" in panel.split("cu-pup'")[1].split("</tr>")[0]
    s = Settings.from_env({"CRYPTOUSD_CLASSIFIER": "direction-btcusdt-1m:mlp"})
    assert (s.classifier, s.classifier_kind) == ("direction-btcusdt-1m", "mlp")
    with pytest.raises(DataError, match="choose mlp or lstm"):
        Settings.from_env({"CRYPTOUSD_CLASSIFIER": "x:forest"})


def test_page_watch_reports_a_page_gone_only_after_a_minute_alone_and_never_guesses():
    """Against a real HTTP server answering as Voila's /api/kernels/<id> does."""
    import http.server
    import json
    import threading

    from cryptousd.live.dashboard import PageWatch

    answer = {"status": 200, "connections": 1}

    class Kernels(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            assert self.path == "/voila/api/kernels/k1"
            body = json.dumps({"id": "k1", "connections": answer["connections"]}).encode()
            self.send_response(answer["status"])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Kernels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "VOILA_KERNEL_ID": "k1",
        "VOILA_APP_PORT": str(server.server_port),
        "VOILA_SERVER_URL": "/voila/",
    }
    now = [0.0]
    try:
        watch = PageWatch(env, clock=lambda: now[0])
        assert (watch.gone_s, watch.every_s) == (60.0, 10.0)
        seen = []
        for t, connections in [(0, 1), (10, 0), (15, 0), (65, 0), (75, 0)]:
            now[0], answer["connections"] = t, connections
            seen.append(watch.page_gone())
        # alone since 10 s; 15 s is before the next look (every 10 s); gone 60 s after 10
        assert seen == [False, False, False, False, True]
        now[0], answer["connections"] = 90, 1  # a page came back: the count starts again
        assert not watch.page_gone()
        answer["status"] = 403  # a token in front: the server does not say, so never "gone"
        now[0] = 200
        assert not watch.page_gone() and watch.url is None
    finally:
        server.shutdown()
    assert PageWatch({}).url is None and not PageWatch({}).page_gone()  # outside Voila
