"""The static plots: one colour per forecaster everywhere, dates that do not crowd."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cryptousd.colors import forecaster_color
from cryptousd.plots import equity_curves, metric_by_horizon, reliability

NAMES = ["persistence", "drift", "ar", "lstm-direct-btcusdt-1m", "lstm-recursive", "ridge (custom)"]


def test_each_forecaster_has_its_own_stable_colour():
    colours = [forecaster_color(n) for n in NAMES]
    assert len(set(colours)) == len(colours)
    assert forecaster_color("lstm-direct-btcusdt-1m") == forecaster_color("lstm-direct")
    assert forecaster_color("my model") == forecaster_color("my model")


def test_plots_draw_each_forecaster_in_its_colour():
    idx = pd.MultiIndex.from_product([NAMES[:4], range(1, 11)], names=["forecaster", "horizon"])
    table = pd.DataFrame({"mae_bps": np.arange(len(idx), dtype=float)}, index=idx)
    ax = metric_by_horizon(table, "mae_bps")
    drawn = {line.get_label(): line.get_color() for line in ax.get_lines()}
    assert all(drawn[n] == forecaster_color(n) for n in NAMES[:4])
    times = pd.date_range("2025-02-01", periods=60 * 24 * 59, freq="1min", tz="UTC")
    equity = pd.DataFrame({"drift": np.linspace(1, 1.1, len(times))}, index=times)
    ax = equity_curves(equity)
    plt.gcf().canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 2 <= len(labels) <= 8, labels  # a label per tick that fits, not one per day
    plt.close("all")


def test_reliability_shows_how_often_each_probability_was_forecast():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.49, 0.52, 5000)
    ax = reliability(p, rng.uniform(size=5000) < p)
    twin = [a for a in ax.figure.axes if a is not ax]
    assert twin and sum(patch.get_height() for patch in twin[0].patches) == 5000
    plt.close("all")
