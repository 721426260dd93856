"""The dashboard's view: the bqplot chart, the side panel and the controls. It only renders a
:class:`~cryptousd.live.session.LiveState`; it fetches nothing and changes no session."""

from __future__ import annotations

import html
import time

import numpy as np
import pandas as pd

from ..colors import (
    BAND,
    BOLLINGER,
    DOWN,
    FORMING,
    FORMING_WICK,
    GUIDE,
    MACD,
    NOW,
    PRED,
    RSI,
    SIGNAL,
    UP,
)
from ..data.sources.factory import SOURCES
from ..indicators import COLUMNS as INDICATOR_COLUMNS
from .session import LiveState

SPEEDS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3000, 10000)  # replay minutes per second
SYMBOLS = ("BTC/USD", "ETH/USD")
PUP_SOURCES = ("forecaster", "classifier (mlp)", "classifier (lstm)")
PANES = ("RSI", "MACD", "Bollinger", "Volatility")  # the indicator switches, all on at first
PANE_MARGIN = {"top": 8, "bottom": 25, "left": 85, "right": 20}  # left as the price chart's
SEAM = "#6a1b9a"  # a looping replay's seam
STATUS_COLOURS = {
    "LIVE": "#2e7d32",
    "RECONNECTING": "#c62828",
    "PAUSED": "#757575",
    "FINISHED": "#757575",
}


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
        self.real = bq.OHLC(
            x=[],
            y=[],
            scales=scales,
            marker="candle",
            colors=[UP, DOWN],
            stroke="#455a64",
            stroke_width=1.0,
            format="ohlc",
        )
        # the forming candle: a wick and a thick body (an OHLC mark of one candle has no width to
        # go by)
        self.forming_wick = bq.Lines(
            x=[], y=[], scales=scales, colors=[FORMING_WICK], stroke_width=1.5
        )
        self.forming = bq.Lines(
            x=[], y=[], scales=scales, colors=[FORMING], stroke_width=7, opacities=[0.9]
        )
        self.pred = bq.OHLC(
            x=[],
            y=[],
            scales=scales,
            marker="candle",
            colors=[PRED, PRED],
            stroke=PRED,
            opacities=[0.35],
            format="ohlc",
        )
        self.band = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            fill="between",
            colors=[BAND, BAND],
            fill_colors=[BAND],
            fill_opacities=[0.12],
            opacities=[0.5, 0.5],
            stroke_width=1,
            line_style="dashed",
        )
        self.now_line = bq.Lines(
            x=[], y=[], scales=scales, colors=[NOW], line_style="dotted", stroke_width=1.5
        )
        # where a looping replay starts its data again: a dashed line and "loop N" at the top
        self.seam_line = bq.Lines(
            x=[], y=[], scales=scales, colors=[SEAM], line_style="dashed", stroke_width=1.5
        )
        self.seam_label = bq.Label(
            x=[],
            y=[],
            text=[],
            scales=scales,
            colors=[SEAM],
            default_size=12,
            x_offset=4,
            y_offset=12,
            align="start",
        )
        self._seams: tuple = ()
        ax = bq.Axis(scale=self.sx, label="time (UTC)", tick_format="%H:%M", grid_lines="none")
        ay = bq.Axis(
            scale=self.sy,
            orientation="vertical",
            label="USD",
            label_offset="62px",
            tick_format=",.0f",
            grid_color="#eceff1",
        )
        # the forming minute is also the first forecast minute: draw it over its forecast
        self.bollinger = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            colors=[BOLLINGER, BOLLINGER, BOLLINGER],
            line_style="solid",
            opacities=[0.8, 0.5, 0.8],
            stroke_width=1,
        )
        self.figure = bq.Figure(
            marks=[
                self.band,
                self.bollinger,
                self.pred,
                self.real,
                self.now_line,
                self.seam_line,
                self.seam_label,
                self.forming_wick,
                self.forming,
            ],
            axes=[ax, ay],
            title="",
            animation_duration=0,
            fig_margin={"top": 20, "bottom": 45, "left": 85, "right": 20},
            layout=w.Layout(width="100%", height="460px"),
        )
        self._build_panes(bq, w)
        self.header = w.HTML()
        self.panel = w.HTML(layout=w.Layout(flex="2 1 320px"))
        swatch = (
            "<span style='display:inline-block;width:12px;height:12px;background:{};opacity:{};"
            "margin:0 4px 0 14px'></span>{}"
        )
        self.legend = w.HTML(
            "<div style='font-size:12px;color:#455a64'>"
            + "".join(
                swatch.format(*x)
                for x in [
                    (UP, 1, "up candle"),
                    (DOWN, 1, "down candle"),
                    (FORMING, 1, "forming (not closed)"),
                    (PRED, 0.45, "forecast: next 10 minutes"),
                    (BAND, 0.2, "80 % interval of the close"),
                    (BOLLINGER, 0.8, "Bollinger 20, 2σ"),
                ]
            )
            + "<span style='margin-left:14px'>dotted line: now</span>"
            + f"<span style='margin-left:14px;color:{SEAM}'>dashed: the replay loops</span></div>"
        )
        self.message = w.HTML()
        self.symbol = w.Dropdown(options=SYMBOLS, description="Symbol")
        self.source = w.Dropdown(options=SOURCES, description="Source")
        self.refresh = w.BoundedFloatText(min=0.1, max=60, step=0.5, description="Refresh s")
        self.speed = w.SelectionSlider(
            options=SPEEDS,
            value=60,
            description="Replay ×",
            tooltip="minutes of market time per second",
        )
        self.pup_source = w.Dropdown(
            options=PUP_SOURCES,
            value=PUP_SOURCES[0],
            description="P(up) from",
            tooltip="the forecaster's P(up), or a direction classifier's (models/direction-*)",
        )
        self.pause = w.ToggleButton(
            description="Pause", icon="pause", tooltip="pause or resume the live loop"
        )
        self.pane_switch = w.HBox(
            [
                w.Checkbox(
                    value=True, description=name, indent=False, layout=w.Layout(width="auto")
                )
                for name in PANES
            ],
            layout=w.Layout(gap="10px"),
        )
        self.pane_switch.add_class("cu-pane-switch")
        for box in self.pane_switch.children:
            box.observe(self._switch_pane, "value")
        controls = w.HBox(
            [
                self.symbol,
                self.source,
                self.refresh,
                self.speed,
                self.pause,
                self.pup_source,
                self.pane_switch,
            ],
            layout=w.Layout(flex_flow="row wrap", gap="6px"),
        )
        charts = w.VBox(
            [self.figure, self.rsi_fig, self.macd_fig], layout=w.Layout(flex="3 1 560px")
        )
        body = w.HBox(
            [charts, self.panel],
            layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        self.widget = w.VBox([self.header, controls, body, self.legend, self.message])
        self.widget.add_class("cryptousd-dashboard")
        self._drawn: tuple | None = None  # (last candle, forecast origin) on the chart
        self._y_range: tuple[float, float] | None = None
        self._indicators = None  # the last state's indicator frame (drawn again when shown)

    def _build_panes(self, bq, w) -> None:
        """RSI and MACD figures under the price chart, on its time scale ``self.sx``."""
        rsi_y = bq.LinearScale(min=0, max=100)
        self.rsi_line = bq.Lines(
            x=[], y=[], scales={"x": self.sx, "y": rsi_y}, colors=[RSI], stroke_width=1.5
        )
        # 30 and 70 across the whole pane (x on a 0..1 scale of its own: drawn once)
        self.rsi_guides = bq.Lines(
            x=[0.0, 1.0],
            y=[[30.0, 30.0], [70.0, 70.0]],
            scales={"x": bq.LinearScale(min=0, max=1), "y": rsi_y},
            colors=[GUIDE, GUIDE],
            line_style="dashed",
            stroke_width=1,
        )
        self.rsi_fig = bq.Figure(
            marks=[self.rsi_guides, self.rsi_line],
            axes=[
                bq.Axis(scale=self.sx, tick_format="%H:%M", grid_lines="none"),
                bq.Axis(
                    scale=rsi_y,
                    orientation="vertical",
                    label="RSI 14",
                    label_offset="62px",
                    tick_values=[30, 70],
                    grid_lines="none",
                ),
            ],
            animation_duration=0,
            fig_margin=PANE_MARGIN,
            layout=w.Layout(width="100%", height="140px"),
        )
        macd_y = bq.LinearScale()
        ms = {"x": self.sx, "y": macd_y}
        self.macd_up = bq.Bars(x=[], y=[], scales=ms, colors=[UP], opacities=[0.6], padding=0.2)
        self.macd_down = bq.Bars(x=[], y=[], scales=ms, colors=[DOWN], opacities=[0.6], padding=0.2)
        self.macd_lines = bq.Lines(x=[], y=[], scales=ms, colors=[MACD, SIGNAL], stroke_width=1.5)
        self.macd_fig = bq.Figure(
            marks=[self.macd_up, self.macd_down, self.macd_lines],
            axes=[
                bq.Axis(scale=self.sx, tick_format="%H:%M", grid_lines="none"),
                bq.Axis(
                    scale=macd_y,
                    orientation="vertical",
                    label="MACD 12/26/9",
                    label_offset="62px",
                    tick_format=",.0f",
                    num_ticks=4,  # a short pane: four labels that do not overlap
                    grid_color="#eceff1",
                ),
            ],
            animation_duration=0,
            fig_margin=PANE_MARGIN,
            layout=w.Layout(width="100%", height="150px"),
        )
        self.rsi_fig.add_class("cu-pane-rsi")
        self.macd_fig.add_class("cu-pane-macd")

    def shown(self, pane: str) -> bool:
        """Whether the indicator ``pane`` (one of :data:`PANES`) is switched on."""
        return bool(self.pane_switch.children[PANES.index(pane)].value)

    def _switch_pane(self, change=None) -> None:
        self.rsi_fig.layout.display = None if self.shown("RSI") else "none"
        self.macd_fig.layout.display = None if self.shown("MACD") else "none"
        self.bollinger.visible = self.shown("Bollinger")
        if self._indicators is not None:
            self._draw_indicators(self._indicators)

    def _draw_indicators(self, ind: pd.DataFrame) -> None:
        """Draw the switched-on indicator panes from a frame of :mod:`cryptousd.indicators`
        columns (the session's streaming values on the shown candles)."""
        x = _naive(ind.index)
        values = ind.to_numpy()  # columns by position: selecting lists of names is slow

        def col(*names):
            return values[:, [INDICATOR_COLUMNS.index(n) for n in names]].T

        if self.shown("Bollinger"):
            with self.bollinger.hold_sync():
                self.bollinger.x = x
                self.bollinger.y = col("bb_upper", "bb_mid", "bb_lower")
        if self.shown("RSI"):
            with self.rsi_line.hold_sync():
                self.rsi_line.x, self.rsi_line.y = x, col("rsi")[0]
        if self.shown("MACD"):
            hist = np.nan_to_num(col("macd_hist")[0])
            for mark, part in ((self.macd_up, hist > 0), (self.macd_down, hist < 0)):
                with mark.hold_sync():
                    mark.x, mark.y = x, np.where(part, hist, 0.0)
            with self.macd_lines.hold_sync():
                self.macd_lines.x = x
                self.macd_lines.y = col("macd", "macd_signal")

    def set_controls(self, settings) -> None:
        """Show ``settings`` (a :class:`cryptousd.live.dashboard.Settings`) in the controls."""
        self.symbol.value = settings.symbol
        self.source.value = settings.source
        self.refresh.value = settings.refresh_s
        if settings.replay_speed not in self.speed.options:
            self.speed.options = tuple(sorted({*self.speed.options, settings.replay_speed}))
        self.speed.value = settings.replay_speed

    def render(
        self,
        state: LiveState,
        *,
        describe: str,
        model_line: str,
        note: str = "",
        classifier: tuple[str, dict] | None = None,
        seams: list[tuple[pd.Timestamp, str]] = (),
    ) -> None:
        """Draw ``state``; ``seams`` are (time, label) pairs where a looping replay starts its
        data again, marked with a dashed line and the label."""
        c = state.candles
        fc = state.forecast
        self.header.value = header_html(state.status, describe, note)
        drawn = (c.index[-1] if len(c) else None, fc.origin if fc is not None else None)
        changed = drawn != self._drawn  # candles and forecast only change when a candle closes
        self._drawn = drawn
        ind = getattr(state, "indicators", None)
        if ind is not None and len(ind) and changed:
            self._indicators = ind
            self._draw_indicators(ind)
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
                self.band.y = np.vstack(
                    [
                        np.r_[fc.last_close, fc.lower.to_numpy()],
                        np.r_[fc.last_close, fc.upper.to_numpy()],
                    ]
                )
        if fc is not None:
            lows.append(fc.lower.min())
            highs.append(fc.upper.max())
        if (
            ind is not None
            and len(ind)
            and self.shown("Bollinger")
            and np.isfinite(ind["bb_lower"].to_numpy()).any()
        ):
            lows.append(np.nanmin(ind["bb_lower"].to_numpy()))
            highs.append(np.nanmax(ind["bb_upper"].to_numpy()))
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
        self._draw_seams(tuple(seams))
        if len(c) and changed:
            t_end = (fc.candles.index[-1] if fc is not None else c.index[-1]) + pd.Timedelta(
                minutes=1
            )
            t_now = c.index[-1] + pd.Timedelta(minutes=1)
            with self.sx.hold_sync():
                self.sx.min = _naive(pd.DatetimeIndex([c.index[0] - pd.Timedelta(minutes=1)]))[0]
                self.sx.max = _naive(pd.DatetimeIndex([t_end]))[0]
            self.now_line.x = _naive(pd.DatetimeIndex([t_now, t_now]))
        self.panel.value = panel_html(
            state,
            model_line=model_line,
            volatility=self.shown("Volatility"),
            classifier=classifier,
        )

    def _draw_seams(self, seams: tuple) -> None:
        key = (seams, self._y_range)
        if key == self._seams:
            return
        self._seams = key
        lo, hi = self._y_range or (0.0, 1.0)
        x = _naive(pd.DatetimeIndex([t for t, _ in seams])) if seams else []
        with self.seam_line.hold_sync():
            self.seam_line.x = [[t, t] for t in x]
            self.seam_line.y = [[lo, hi] for _ in x]
        with self.seam_label.hold_sync():
            self.seam_label.x, self.seam_label.y = x, [hi] * len(x)
            self.seam_label.text = [label for _, label in seams]


def header_html(status: str, describe: str, note: str = "") -> str:
    """The title, the source's status badge, what is shown, and why a fallback was taken."""
    colour = STATUS_COLOURS.get(status.split()[0] if status else "", "#ef6c00")
    badge = (
        f"<span class='cu-status' style='background:{colour};color:white;padding:2px 8px;"
        f"border-radius:4px;white-space:nowrap'>{html.escape(status)}</span>"
    )
    note_html = (
        (
            f"<span class='cu-note' style='flex-basis:100%;color:#ef6c00;font-size:12px'>"
            f"{html.escape(note)}</span>"
        )
        if note
        else ""
    )
    return (
        "<div style='display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px'>"
        "<b style='font-size:20px;white-space:nowrap'>CryptoUSD live</b>"
        + badge
        + f"<span style='color:#546e7a'>{html.escape(describe)}</span>"
        + note_html
        + "</div>"
    )


def _row(label: str, value: str, cls: str = "") -> str:
    return (
        f"<tr class='{cls}'><td style='color:#607d8b;padding:2px 10px 2px 0;"
        "white-space:nowrap;vertical-align:top'>"
        f"{label}</td><td><b>{value}</b></td></tr>"
    )


def panel_html(
    state: LiveState,
    *,
    model_line: str,
    volatility: bool = True,
    classifier: tuple[str, dict] | None = None,
) -> str:
    """The side panel as HTML (plain text values; every class name is a hook for tests).

    ``classifier``: (its label, {horizon: P(up)}) when P(up) comes from a direction classifier.
    """
    c, fc, sc = state.candles, state.forecast, state.scorecard
    rows = []
    if len(c):
        last = float(c["close"].iloc[-1])
        prev = float(c["close"].iloc[-2]) if len(c) > 1 else last
        chg = last - prev
        rows.append(
            _row(
                "Last close",
                f"{_fmt_price(last)} <span style='color:{UP if chg >= 0 else DOWN}'>"
                f"{chg:+,.2f} ({chg / prev * 1e4:+.1f} bps)</span>",
                "cu-last",
            )
        )
        rows.append(_row("Last candle", f"{c.index[-1]:%Y-%m-%d %H:%M} UTC", "cu-time"))
    if fc is not None:
        h = len(fc.candles)
        rows.append(
            _row(
                f"Forecast close in {h} min",
                f"{_fmt_price(fc.candles['close'].iloc[-1])} "
                f"({fc.change_pct:+.4f} %, {fc.change_pct * 100:+.2f} bps)",
                "cu-forecast",
            )
        )
        rows.append(
            _row(
                f"{fc.coverage:.0%} interval",
                f"{_fmt_price(fc.lower.iloc[-1])} – {_fmt_price(fc.upper.iloc[-1])}",
                "cu-interval",
            )
        )
        if classifier is None:
            rows.append(_row(f"P(up in {h} min)", f"{fc.p_up:.1%}", "cu-pup"))
            rows.append(
                _row("P(up) from", f"the forecaster ({html.escape(fc.model)})", "cu-pup-from")
            )
        else:
            label, p = classifier
            shown = " · ".join(
                f"{k} min {v:.1%}" if np.isfinite(v) else f"{k} min –" for k, v in p.items()
            )
            rows.append(_row(f"P(up in {h} min)", f"{p.get(h, np.nan):.1%}", "cu-pup"))
            rows.append(
                _row("P(up) from", f"classifier {html.escape(label)}: {shown}", "cu-pup-from")
            )
        rows.append(_row("Forecast latency", f"{fc.elapsed_ms:.2f} ms", "cu-latency"))
    ind = getattr(state, "indicators", None)
    if volatility and ind is not None and len(ind):
        last = dict(zip(INDICATOR_COLUMNS, ind.to_numpy()[-1], strict=True))
        vol = last["volatility"]
        rows.append(
            _row(
                "Volatility (30 min, annualised)",
                "warming up" if not np.isfinite(vol) else f"{vol:.1%}",
                "cu-vol",
            )
        )
        if np.isfinite(last["rsi"]):
            rows.append(
                _row(
                    "RSI 14 · Bollinger %b",
                    f"{last['rsi']:.1f} · {last['bb_pct_b']:.2f}",
                    "cu-rsi",
                )
            )
    rows.append(_row("Model", html.escape(model_line), "cu-model"))
    src = state.status
    if state.error:
        retry = f"; retry in {state.next_retry_in:.0f} s" if state.next_retry_in is not None else ""
        src = f"{state.status}: {state.error}{retry}"
    rows.append(_row("Source", html.escape(src), "cu-source"))
    age = "–" if state.last_update is None else f"{time.monotonic() - state.last_update:.1f} s ago"
    rows.append(_row("Last update", age, "cu-age"))
    if sc.n:
        rows.append(
            _row(
                "Scorecard",
                f"{sc.n} resolved · MAE {sc.mae:,.2f} USD vs persistence "
                f"{sc.mae_persistence:,.2f} · "
                f"direction {sc.hit_rate:.0%} · in interval {sc.coverage:.0%}",
                "cu-score",
            )
        )
    else:
        rows.append(_row("Scorecard", "waiting for the first forecast to come due", "cu-score"))
    return "<table class='cu-panel' style='font-size:13px'>" + "".join(rows) + "</table>"
