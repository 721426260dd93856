"""Static matplotlib plots for the notebooks (they render on GitHub too, unlike live widgets)."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .colors import DOWN, NOW, PRED, UP, forecaster_color


def concise_dates(ax):
    """Date labels that do not overlap: as few as fit, each saying only what changed."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return ax


def candlestick(
    candles: pd.DataFrame,
    ax=None,
    *,
    title: str = "",
    width_frac: float = 0.7,
    color=None,
    alpha=1.0,
):
    """Draw OHLC candles; the x axis is UTC time."""
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    t = mdates.date2num(candles.index.tz_convert(None).to_pydatetime())
    step = np.median(np.diff(t)) if len(t) > 1 else 1 / 1440
    o, h, lo, c = (candles[k].to_numpy() for k in ("open", "high", "low", "close"))
    up = c >= o
    colors = np.where(up, UP, DOWN) if color is None else np.full(len(c), color)
    ax.vlines(t, lo, h, colors=colors, linewidth=0.8, alpha=alpha)
    ax.bar(
        t,
        np.maximum(np.abs(c - o), 1e-9 * c),
        bottom=np.minimum(o, c),
        width=step * width_frac,
        color=colors,
        edgecolor=colors,
        alpha=alpha,
    )
    ax.xaxis_date()
    concise_dates(ax)
    ax.set_ylabel("USD")
    ax.set_title(title)
    ax.grid(alpha=0.2)
    return ax


def forecast_chart(history: pd.DataFrame, forecast, ax=None, *, title: str = ""):
    """The last real candles, the predicted candles (translucent) and the interval band."""
    ax = candlestick(history, ax, title=title)
    candlestick(forecast.candles, ax, color=PRED, alpha=0.45)
    t = mdates.date2num(forecast.candles.index.tz_convert(None).to_pydatetime())
    ax.fill_between(
        t,
        forecast.lower.to_numpy(),
        forecast.upper.to_numpy(),
        color=PRED,
        alpha=0.12,
        label=f"{forecast.coverage:.0%} interval",
    )
    ax.axvline(
        mdates.date2num(forecast.origin.tz_convert(None).to_pydatetime()) + 1 / 1440,
        color=NOW,
        ls=":",
        lw=1,
    )
    ax.legend(loc="upper left")
    return ax


def metric_by_horizon(
    table: pd.DataFrame, metric: str, ax=None, *, title: str = "", ylabel: str = "", nominal=None
):
    """One line per forecaster across horizons 1..H (``table`` from ``Evaluation.table``)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for name in table.index.get_level_values(0).unique():
        s = table.loc[name, metric]
        style = {"lw": 2.5, "ls": "--"} if name == "persistence" else {"marker": "o", "lw": 1.5}
        ax.plot(s.index, s.to_numpy(), label=name, color=forecaster_color(name), **style)
    if nominal is not None:
        ax.axhline(nominal, color="grey", lw=1, ls=":", label=f"nominal {nominal:.0%}")
    ax.set_xlabel("horizon (minutes ahead)")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title)
    ax.grid(alpha=0.2)
    ax.legend()
    return ax


def equity_curves(equity: pd.DataFrame, ax=None, *, title: str = ""):
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    for name in equity.columns:
        style = {"lw": 2} if name == "buy_and_hold" else {"lw": 1.2}
        t = equity.index.tz_convert(None)
        ax.plot(t, equity[name].to_numpy(), label=name, color=forecaster_color(name), **style)
    concise_dates(ax)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel("growth of 1 USD")
    ax.set_title(title)
    ax.grid(alpha=0.2)
    ax.legend()
    return ax


def reliability(
    p: np.ndarray, outcome: np.ndarray, ax=None, *, bins: int = 10, title: str = "P(up) reliability"
):
    """Observed frequency of 'up' against forecast P(up), in equal-count bins, with a histogram
    of the forecasts underneath (a calibrated forecast that never leaves 0.5 has no resolution).
    """
    ax = ax or plt.subplots(figsize=(5, 5))[1]
    p, outcome = np.asarray(p, float), np.asarray(outcome, float)
    order = np.argsort(p)
    groups = np.array_split(order, bins)
    x = [p[g].mean() for g in groups]
    y = [outcome[g].mean() for g in groups]
    lo, hi = min(min(x), min(y)) - 0.02, max(max(x), max(y)) + 0.02
    ax.plot([lo, hi], [lo, hi], color="grey", ls=":", label="perfect calibration")
    ax.plot(x, y, marker="o", color=PRED, label="forecast (equal-count bins)")
    hist = ax.twinx()
    hist.hist(p, bins=40, range=(lo, hi), color=PRED, alpha=0.18)
    hist.set_ylim(0, hist.get_ylim()[1] * 4)  # the histogram stays in the bottom quarter
    hist.set_yticks([])
    ax.set_xlim(lo, hi)
    ax.set_xlabel("forecast P(up)  (shaded: how often each value was forecast)")
    ax.set_ylabel("observed frequency of up")
    ax.set_title(title)
    ax.grid(alpha=0.2)
    ax.legend(loc="upper left")
    return ax


def direction_reliability(result: dict, *, title: str = ""):
    """Reliability diagrams of direction classifiers, one panel per horizon, from the
    ``results`` of :func:`cryptousd.evaluation.direction.evaluate_classifiers` (deciles of P(up));
    each legend entry carries the accuracy, its interval and the Brier skill."""
    from .colors import DIRECTION_LSTM, DIRECTION_MLP, LOGISTIC, MAJORITY

    colours = {"mlp": DIRECTION_MLP, "lstm": DIRECTION_LSTM, "logistic": LOGISTIC}
    horizons = list(next(iter(result["results"].values())))
    fig, axes = plt.subplots(1, len(horizons), figsize=(6 * len(horizons), 5), squeeze=False)
    for ax, h in zip(axes[0], horizons, strict=True):
        xs = []
        for name, by_h in result["results"].items():
            r = by_h[h]
            x = [b["p_mean"] for b in r["reliability"]]
            y = [b["observed_up"] for b in r["reliability"]]
            xs += x + y
            label = (
                f"{name}: {r['direction_accuracy']:.1%} "
                f"[{r['direction_ci_low']:.1%}, {r['direction_ci_high']:.1%}], "
                f"BSS {r['brier_skill']:+.4f}"
            )
            style = {"marker": "s", "ls": "none"} if name == "majority" else {"marker": "o"}
            ax.plot(x, y, color=colours.get(name, MAJORITY), label=label, **style)
        lo, hi = min(xs) - 0.01, max(xs) + 0.01
        ax.plot([lo, hi], [lo, hi], color="grey", ls=":", label="perfect calibration")
        ax.set_xlabel(f"forecast P(up in {h} min), deciles")
        ax.set_ylabel("observed share up")
        ax.set_title(f"{h}-minute direction, {result['n_origins']:,d} origins")
        ax.grid(alpha=0.2)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
