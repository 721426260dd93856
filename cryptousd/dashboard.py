"""The live dashboard: a bqplot / ipywidgets view of a :class:`~cryptousd.live.LiveSession`.

The view only renders; the session moves data; a daemon thread (the timer) calls ``tick`` then
``render`` every ``refresh`` seconds. Settings come from the page's controls and, for unattended
runs, from the environment: ``CRYPTOUSD_SOURCE`` (auto, exchange, yahoo, replay, simulated),
``CRYPTOUSD_REPLAY`` (files or a store folder, ``os.pathsep``-separated), ``CRYPTOUSD_REPLAY_SPEED``
(minutes of market time per second), ``CRYPTOUSD_REFRESH_S``, ``CRYPTOUSD_MODEL``.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .config import DEFAULT_EXCHANGE, DEFAULT_SYMBOL, STORE_DIR, shared_archives
from .errors import CryptoUSDError, DataError
from .live import LiveSession, LiveState

SOURCES = ("auto", "exchange", "yahoo", "replay", "simulated")
SPEEDS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3000, 10000)  # replay minutes per second
SYMBOLS = ("BTC/USD", "ETH/USD")
UP, DOWN, PRED, BAND, NOW = "#26a69a", "#ef5350", "#8e6bd6", "#8e6bd6", "#607d8b"


@dataclass(frozen=True)
class Settings:
    source: str = "auto"
    symbol: str = DEFAULT_SYMBOL
    replay: tuple[str, ...] = ()
    replay_speed: float = 60.0
    refresh_s: float = 1.0
    model: str | None = None

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        def num(key, default):
            raw = env.get(key)
            if raw in (None, ""):
                return default
            try:
                return float(raw)
            except ValueError:
                raise DataError(f"{key}={raw!r}: not a number") from None

        replay = tuple(p for p in env.get("CRYPTOUSD_REPLAY", "").split(os.pathsep) if p)
        return cls(source=env.get("CRYPTOUSD_SOURCE", "auto") or "auto", replay=replay,
                   replay_speed=num("CRYPTOUSD_REPLAY_SPEED", 60.0), refresh_s=num("CRYPTOUSD_REFRESH_S", 1.0),
                   model=env.get("CRYPTOUSD_MODEL") or None).validated()

    def validated(self) -> "Settings":
        """Check values (they may come from a browser); raise a one-line DataError."""
        if self.source not in SOURCES:
            raise DataError(f"source {self.source!r}: choose one of {', '.join(SOURCES)}")
        if self.symbol not in SYMBOLS:
            raise DataError(f"symbol {self.symbol!r}: choose one of {', '.join(SYMBOLS)}")
        if not (isinstance(self.refresh_s, (int, float)) and 0.1 <= self.refresh_s <= 60):
            raise DataError(f"refresh interval {self.refresh_s}: between 0.1 and 60 seconds")
        if not (isinstance(self.replay_speed, (int, float)) and 1 <= self.replay_speed <= 10_000):
            raise DataError(f"replay speed {self.replay_speed}: between 1 and 10000 minutes per second")
        return self


REPLAY_STORE_DAYS = 30  # a replay from the store plays its last month (7 hours at x60), not all of it


def _recent_from_store(store) -> pd.DataFrame:
    from .candle_files import load_candles

    source, key = store.series()[0]
    last = store.last_time(source=source, symbol=key)
    return load_candles(store, symbol=key, store_source=source, start=last - pd.Timedelta(days=REPLAY_STORE_DAYS))


def _replay_candles(settings: Settings) -> tuple[pd.DataFrame, str]:
    from .candle_files import load_candles
    from .candle_store import CandleStore

    if settings.replay:
        paths = [Path(p) for p in settings.replay]
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


def make_source(settings: Settings):
    """The source the settings ask for; ``auto`` tries the exchange, then local replay, then simulation.

    Returns (source, note) where note says why a fallback was taken.
    """
    from .sources import ExchangeSource, ReplaySource, SimulatedSource, YahooSource

    speed = settings.replay_speed
    if settings.source in ("replay", "simulated") and settings.symbol != DEFAULT_SYMBOL:
        raise DataError(f"{settings.symbol}: the {settings.source} source has BTC only; pick exchange or yahoo for {settings.symbol}")
    if settings.source == "exchange":
        return ExchangeSource(DEFAULT_EXCHANGE, settings.symbol, timeout_s=5, max_retries=0), ""
    if settings.source == "yahoo":
        return YahooSource(settings.symbol.replace("/", "-")), ""
    if settings.source == "simulated":
        return SimulatedSource(speed=speed), ""
    if settings.source == "replay":
        candles, name = _replay_candles(settings)
        return ReplaySource(candles, speed=speed, name=name), ""
    # auto
    notes = []
    try:
        src = ExchangeSource(DEFAULT_EXCHANGE, settings.symbol, timeout_s=4, max_retries=0)
        src.fetch_page(src.now().floor("1min") - pd.Timedelta(minutes=2), limit=2)
        return src, ""
    except CryptoUSDError as exc:
        notes.append(f"exchange unreachable ({str(exc)[:80]})")
        if settings.symbol != DEFAULT_SYMBOL:
            raise DataError(f"{settings.symbol}: {notes[-1]}, and local data has BTC only") from None
    try:
        candles, name = _replay_candles(settings)
        return ReplaySource(candles, speed=speed, name=name), "; ".join(notes) + " -> replaying local data"
    except CryptoUSDError as exc:
        notes.append(str(exc)[:80])
    return SimulatedSource(speed=speed), "; ".join(notes) + " -> simulated market"


def _naive(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert(None).to_numpy()


def _fmt_price(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:,.2f}"


class DashboardView:
    """The widgets: chart, panel, controls. ``render(state)`` draws one state; nothing else."""

    def __init__(self):
        import bqplot as bq
        import ipywidgets as w

        self.w = w
        self.sx = bq.DateScale()
        self.sy = bq.LinearScale()
        scales = {"x": self.sx, "y": self.sy}
        self.real = bq.OHLC(x=[], y=[], scales=scales, marker="candle", colors=[UP, DOWN], stroke="#455a64",
                            stroke_width=1.0, format="ohlc")
        # the forming candle: a wick and a thick body (an OHLC mark of one candle has no width to go by)
        self.forming_wick = bq.Lines(x=[], y=[], scales=scales, colors=["#78909c"], stroke_width=1.5)
        self.forming = bq.Lines(x=[], y=[], scales=scales, colors=["#90a4ae"], stroke_width=7, opacities=[0.9])
        self.pred = bq.OHLC(x=[], y=[], scales=scales, marker="candle", colors=[PRED, PRED], stroke=PRED,
                            opacities=[0.35], format="ohlc")
        self.band = bq.Lines(x=[], y=[], scales=scales, fill="between", colors=[BAND, BAND], fill_colors=[BAND],
                             fill_opacities=[0.12], opacities=[0.5, 0.5], stroke_width=1, line_style="dashed")
        self.now_line = bq.Lines(x=[], y=[], scales=scales, colors=[NOW], line_style="dotted", stroke_width=1.5)
        ax = bq.Axis(scale=self.sx, label="time (UTC)", tick_format="%H:%M", grid_lines="none")
        ay = bq.Axis(scale=self.sy, orientation="vertical", label="USD", label_offset="62px", tick_format=",.0f",
                     grid_color="#eceff1")
        # the forming minute is also the first forecast minute: draw it over its forecast
        self.figure = bq.Figure(marks=[self.band, self.pred, self.real, self.now_line, self.forming_wick, self.forming], axes=[ax, ay],
                                title="", animation_duration=0,
                                fig_margin={"top": 20, "bottom": 45, "left": 85, "right": 20},
                                layout=w.Layout(flex="3 1 560px", height="460px"))
        self.header = w.HTML()
        self.panel = w.HTML(layout=w.Layout(flex="2 1 320px"))
        swatch = "<span style='display:inline-block;width:12px;height:12px;background:{};opacity:{};margin:0 4px 0 14px'></span>{}"
        self.legend = w.HTML("<div style='font-size:12px;color:#455a64'>" + "".join(swatch.format(*x) for x in [
            (UP, 1, "up candle"), (DOWN, 1, "down candle"), ("#b0bec5", 1, "forming (not closed)"),
            (PRED, 0.45, "forecast: next 10 minutes"), (BAND, 0.2, "80 % interval of the close")])
            + "<span style='margin-left:14px'>dotted line: now</span></div>")
        self.message = w.HTML()
        self.symbol = w.Dropdown(options=SYMBOLS, description="Symbol")
        self.source = w.Dropdown(options=SOURCES, description="Source")
        self.refresh = w.BoundedFloatText(min=0.1, max=60, step=0.5, description="Refresh s")
        self.speed = w.SelectionSlider(options=SPEEDS, value=60, description="Replay ×", tooltip="minutes of market time per second")
        self.pause = w.ToggleButton(description="Pause", icon="pause", tooltip="pause or resume the live loop")
        controls = w.HBox([self.symbol, self.source, self.refresh, self.speed, self.pause],
                          layout=w.Layout(flex_flow="row wrap", gap="6px"))
        body = w.HBox([self.figure, self.panel], layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.widget = w.VBox([self.header, controls, body, self.legend, self.message])
        self.widget.add_class("cryptousd-dashboard")
        self._drawn: tuple | None = None  # (last candle, forecast origin) on the chart
        self._y_range: tuple[float, float] | None = None

    def set_controls(self, settings: Settings) -> None:
        self.symbol.value = settings.symbol
        self.source.value = settings.source
        self.refresh.value = settings.refresh_s
        if settings.replay_speed not in self.speed.options:
            self.speed.options = tuple(sorted({*self.speed.options, settings.replay_speed}))
        self.speed.value = settings.replay_speed

    def render(self, state: LiveState, *, describe: str, model_line: str, note: str = "") -> None:
        c = state.candles
        fc = state.forecast
        status = state.status
        colour = {"LIVE": "#2e7d32", "RECONNECTING": "#c62828", "PAUSED": "#757575", "FINISHED": "#757575"}.get(
            status.split()[0], "#ef6c00")
        self.header.value = (
            f"<div style='display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px'>"
            f"<b style='font-size:20px;white-space:nowrap'>CryptoUSD live</b>"
            f"<span class='cu-status' style='background:{colour};color:white;padding:2px 8px;border-radius:4px;"
            f"white-space:nowrap'>{html.escape(status)}</span><span style='color:#546e7a'>{html.escape(describe)}</span>"
            + (f"<span class='cu-note' style='flex-basis:100%;color:#ef6c00;font-size:12px'>{html.escape(note)}</span>"
               if note else "")
            + "</div>")
        drawn = (c.index[-1] if len(c) else None, fc.origin if fc is not None else None)
        changed = drawn != self._drawn  # candles and forecast only change when a candle closes
        self._drawn = drawn
        if len(c) and changed:
            with self.real.hold_sync():
                self.real.x = _naive(c.index)
                self.real.y = c[["open", "high", "low", "close"]].to_numpy()
        f = state.forming
        for mark, ys in ((self.forming_wick, ("low", "high")), (self.forming, ("open", "close"))):
            with mark.hold_sync():
                if f is None:
                    mark.x, mark.y = [], []
                else:
                    t = _naive(pd.DatetimeIndex([f.name, f.name]))
                    body = [f[ys[0]], f[ys[1]]]
                    if body[0] == body[1]:
                        body[1] += 1e-6 * body[0]  # a flat body still shows
                    mark.x, mark.y = t, np.array(body)
        lows = [c["low"].min()] if len(c) else []
        highs = [c["high"].max()] if len(c) else []
        if fc is not None and changed:
            with self.pred.hold_sync():
                self.pred.x = _naive(fc.candles.index)
                self.pred.y = fc.candles[["open", "high", "low", "close"]].to_numpy()
            bx = np.r_[_naive(pd.DatetimeIndex([fc.origin])), _naive(fc.candles.index)]
            with self.band.hold_sync():
                self.band.x = bx
                self.band.y = np.vstack([np.r_[fc.last_close, fc.lower.to_numpy()], np.r_[fc.last_close, fc.upper.to_numpy()]])
        if fc is not None:
            lows.append(fc.lower.min())
            highs.append(fc.upper.max())
        if f is not None:
            lows.append(f["low"])
            highs.append(f["high"])
        if lows:
            lo, hi = min(lows), max(highs)
            pad = (hi - lo) * 0.06 or 1.0
            y_range = (float(lo - pad), float(hi + pad))
            if y_range != self._y_range:  # the forming candle can widen it between closes
                self._y_range = y_range
                with self.sy.hold_sync():
                    self.sy.min, self.sy.max = y_range
                self.now_line.y = list(y_range)
        if len(c) and changed:
            t_end = (fc.candles.index[-1] if fc is not None else c.index[-1]) + pd.Timedelta(minutes=1)
            t_now = c.index[-1] + pd.Timedelta(minutes=1)
            with self.sx.hold_sync():
                self.sx.min = _naive(pd.DatetimeIndex([c.index[0] - pd.Timedelta(minutes=1)]))[0]
                self.sx.max = _naive(pd.DatetimeIndex([t_end]))[0]
            self.now_line.x = _naive(pd.DatetimeIndex([t_now, t_now]))
        self.panel.value = panel_html(state, model_line=model_line)


def _row(label: str, value: str, cls: str = "") -> str:
    return (f"<tr class='{cls}'><td style='color:#607d8b;padding:2px 10px 2px 0;white-space:nowrap;vertical-align:top'>"
            f"{label}</td><td><b>{value}</b></td></tr>")


def panel_html(state: LiveState, *, model_line: str) -> str:
    """The side panel as HTML (plain text values; every class name is a hook for tests)."""
    c, fc, sc = state.candles, state.forecast, state.scorecard
    rows = []
    if len(c):
        last = float(c["close"].iloc[-1])
        prev = float(c["close"].iloc[-2]) if len(c) > 1 else last
        chg = last - prev
        rows.append(_row("Last close", f"{_fmt_price(last)} <span style='color:{UP if chg >= 0 else DOWN}'>"
                                       f"{chg:+,.2f} ({chg / prev * 1e4:+.1f} bps)</span>", "cu-last"))
        rows.append(_row("Last candle", f"{c.index[-1]:%Y-%m-%d %H:%M} UTC", "cu-time"))
    if fc is not None:
        h = len(fc.candles)
        rows.append(_row(f"Forecast close in {h} min", f"{_fmt_price(fc.candles['close'].iloc[-1])} ({fc.change_pct:+.4f} %, {fc.change_pct * 100:+.2f} bps)",
                         "cu-forecast"))
        rows.append(_row(f"{fc.coverage:.0%} interval", f"{_fmt_price(fc.lower.iloc[-1])} – {_fmt_price(fc.upper.iloc[-1])}",
                         "cu-interval"))
        rows.append(_row(f"P(up in {h} min)", f"{fc.p_up:.1%}", "cu-pup"))
        rows.append(_row("Forecast latency", f"{fc.elapsed_ms:.2f} ms", "cu-latency"))
    rows.append(_row("Model", html.escape(model_line), "cu-model"))
    src = state.status
    if state.error:
        retry = f"; retry in {state.next_retry_in:.0f} s" if state.next_retry_in is not None else ""
        src = f"{state.status}: {state.error}{retry}"
    rows.append(_row("Source", html.escape(src), "cu-source"))
    age = "–" if state.last_update is None else f"{time.monotonic() - state.last_update:.1f} s ago"
    rows.append(_row("Last update", age, "cu-age"))
    if sc.n:
        rows.append(_row("Scorecard", f"{sc.n} resolved · MAE {sc.mae:,.2f} vs persistence {sc.mae_persistence:,.2f} · "
                                      f"direction {sc.hit_rate:.0%} · in interval {sc.coverage:.0%}", "cu-score"))
    else:
        rows.append(_row("Scorecard", "waiting for the first forecast to come due", "cu-score"))
    return "<table class='cu-panel' style='font-size:13px'>" + "".join(rows) + "</table>"


class Dashboard:
    """Wires settings, a source, a forecaster, a :class:`LiveSession` and the view, with a timer thread."""

    def __init__(self, settings: Settings | None = None):
        from .forecast import load_forecaster
        from .forecast.report import card_headline

        self.settings = (settings or Settings.from_env()).validated()
        self.forecaster = load_forecaster(self.settings.model)
        card = getattr(self.forecaster, "card", None)
        self.model_line = card_headline(card) if card else self.forecaster.name
        self.view = DashboardView()
        self.view.set_controls(self.settings)
        self.note = ""
        self.session: LiveSession | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.render_ms: deque[float] = deque(maxlen=500)
        self._connect()
        self.view.symbol.observe(lambda ch: self._change(symbol=ch["new"]), "value")
        self.view.source.observe(lambda ch: self._change(source=ch["new"]), "value")
        self.view.refresh.observe(lambda ch: self._change(refresh_s=ch["new"]), "value")
        self.view.speed.observe(lambda ch: self._change(replay_speed=float(ch["new"])), "value")
        self.view.pause.observe(self._toggle_pause, "value")

    @property
    def widget(self):
        return self.view.widget

    def _connect(self) -> None:
        source, self.note = make_source(self.settings)
        session = LiveSession(source, self.forecaster)
        session.paused = bool(self.view.pause.value)
        with self._lock:
            self.session = session

    def _show_error(self, text: str) -> None:
        self.view.message.value = f"<span class='cu-error' style='color:#c62828'>{html.escape(text)[:300]}</span>"

    def _change(self, **kw) -> None:
        try:
            new = replace(self.settings, **kw).validated()
        except CryptoUSDError as exc:
            self._show_error(str(exc))
            return
        self.view.message.value = ""
        old, self.settings = self.settings, new
        if (new.source, new.symbol) != (old.source, old.symbol):
            try:
                self._connect()
            except CryptoUSDError as exc:
                self.settings = old
                self._show_error(str(exc))
        elif new.replay_speed != old.replay_speed and hasattr(self.session.source, "set_speed"):
            self.session.source.set_speed(new.replay_speed)

    def _toggle_pause(self, change) -> None:
        self.session.paused = bool(change["new"])
        self.view.pause.description = "Resume" if change["new"] else "Pause"
        self.view.pause.icon = "play" if change["new"] else "pause"

    def step(self) -> float:
        """One timer tick: poll, forecast, render. Returns the kernel time it took in ms."""
        t0 = time.perf_counter()
        with self._lock:
            session = self.session
            session.tick()
            state = session.state()
        self.view.render(state, describe=session.source.describe(), model_line=self.model_line, note=self.note)
        ms = (time.perf_counter() - t0) * 1000
        self.render_ms.append(ms)
        return ms

    def start(self) -> None:
        """Start the timer (a daemon thread); it survives any error and shows it on the page."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()

        def loop():
            failing = False
            while not self._stop.is_set():
                try:
                    self.step()
                    if failing:
                        self.view.message.value, failing = "", False
                except Exception as exc:  # noqa: BLE001 - the page must say it, the loop must go on
                    self._show_error(f"{type(exc).__name__}: {exc}")
                    failing = True
                self._stop.wait(self.settings.refresh_s)

        self._thread = threading.Thread(target=loop, name="cryptousd-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


def served_by_voila() -> bool:
    return any(k in os.environ for k in ("VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL"))


