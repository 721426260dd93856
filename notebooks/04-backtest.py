# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Walk-forward evaluation and a trading backtest
#
# Does the model forecast better than the simplest honest baselines, and would trading on it make
# money
# after fees? We replay history minute by minute: at every origin each forecaster sees only the
# past, and
# forecasts the next 10 minutes. Then we turn forecasts into positions and charge realistic costs.

# %% tags=["parameters"]
data = None  # archive files or folders, or "store" (None: what cu.locate_candles finds), os.pathsep-separated if a string
model_name = None  # model folder or name (None: the shipped default)
start = "2025-02-01"  # first origin (UTC); keep it after the model's validation range
end = "2025-04-01"
stride = 1  # minutes between origins
fee_bps = 10.0  # per side
slippage_bps = 1.0  # per side
results_dir = "runs/results"

# %% [markdown]
# ## Setup

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

import cryptousd as cu

pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 80

from pathlib import Path

from cryptousd.backtest import backtest_all
from cryptousd.evaluate import walk_forward
from cryptousd.plots import equity_curves, forecast_chart, metric_by_horizon, reliability

where = cu.locate_candles(data)
print(where)
candles = where.load(
    start=pd.Timestamp(start, tz="UTC") - pd.Timedelta(days=1)
)  # the window before the first origin
data = [p.name for p in where.files()] or [str(where)]
model = cu.load_forecaster(model_name)
forecasters = {model.name: model, **cu.load_baselines(model_name)}
print(
    model.card["name"],
    "|",
    model.card["variant"],
    "| trained",
    model.card["train_range"]["start"][:10],
    "..",
    model.card["train_range"]["end"][:10],
)

# %% [markdown]
# ## 1. Walk forward
#
# At each origin *t* every forecaster reads candles up to *t* only and forecasts *t+1 .. t+10*;
# all use the
# same origins, and origins whose window or horizon touches a gap are skipped and counted.

# %%
ev = walk_forward(
    candles,
    forecasters,
    start=start,
    end=end,
    stride=stride,
    model=model.name,
    data=data,
    progress=True,
)
print(f"{ev.n_origins:,d} origins from {ev.start} to {ev.end}; {ev.skipped} skipped at gaps")
ev.summary()

# %% [markdown]
# ## 2. What a look-ahead bug looks like
#
# Would this harness expose leakage? We add a forecaster that peeks at the closes after the
# origin,
# the kind of bug a misaligned index or a centred rolling mean causes. It looks brilliant. A real
# model
# scoring like this has a bug, not an edge; the real forecasters above are only ever given windows
# that
# end at the origin.

# %%
from cryptousd.evaluate import LookAheadForecaster

leaky = walk_forward(
    candles,
    {"persistence": forecasters["persistence"], "look-ahead": LookAheadForecaster()},
    start=start,
    end=end,
    stride=max(stride, 10),
)
leaky.summary(horizons=(1, 10))[["mae_bps", "mae_ratio_vs_persistence", "direction_accuracy"]]

# %% [markdown]
# ## 3. Error by horizon, beside persistence

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
metric_by_horizon(
    ev.table, "mae_bps", a, title="MAE of the close", ylabel="basis points of the last close"
)
metric_by_horizon(
    ev.table,
    "mae_ratio_vs_persistence",
    b,
    title="MAE relative to persistence (below 1 = better)",
    ylabel="ratio",
)
fig.tight_layout()

# %% [markdown]
# ## 4. Direction, with its uncertainty
#
# Direction accuracy counts only minutes where the price moved; the 95 % Wilson interval shows how
# far 50 %
# is. Persistence never calls a direction, so it has none.

# %%
ev.table.loc[
    (slice(None), [1, 5, 10]),
    ["direction_accuracy", "direction_ci_low", "direction_ci_high", "dm_pvalue"],
].dropna(how="all").round(4)

# %% [markdown]
# ## 5. Forecasts against what happened, on a zoomed stretch

# %%
i = candles.index.get_loc(ev.start) + 3000
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
for ax, shift in zip(axes, [0, 240]):
    fc = model.predict(candles.iloc[i + shift - 60 : i + shift])
    forecast_chart(
        candles.iloc[i + shift - 40 : i + shift + 10],
        fc,
        ax,
        title=f"forecast from {fc.origin:%Y-%m-%d %H:%M} UTC",
    )
fig.tight_layout()

# %% [markdown]
# ## 6. Are the intervals and P(up) calibrated?

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
metric_by_horizon(
    ev.table,
    "coverage",
    a,
    title=f"coverage of the {ev.coverage:.0%} interval",
    ylabel="share inside",
    nominal=ev.coverage,
)
origins, mean = ev.predictions[model.name]
from cryptousd.features import candle_features, windows
from cryptousd.forecast.intervals import window_sigma

sigma = window_sigma(windows(candle_features(candles)[:, :1], origins)[..., 0])
p_up = model.calibration.p_up(mean[:, -1], sigma)
close = candles["close"].to_numpy()
went_up = close[origins + 10] > close[origins]
reliability(
    p_up,
    went_up,
    b,
    title=f"P(up in 10 min): Brier {ev.table.loc[(model.name, 10), 'brier']:.4f} vs base rate {ev.table.loc[(model.name, 10), 'brier_base']:.4f}",
)
fig.tight_layout()

# %% [markdown]
# ## 7. Trading on the forecast, with and without costs
#
# Rule: every 10 minutes, go long when the forecast 10-minute return clears the round-trip cost,
# else stay
# flat. The same rule is driven by each baseline, beside buy-and-hold. Costs are charged per side.

# %%
bt = backtest_all(
    candles,
    forecasters,
    start=start,
    end=end,
    fee_bps=fee_bps,
    slippage_bps=slippage_bps,
    forecasts=ev.predictions,
)
bt_free = backtest_all(
    candles, forecasters, start=start, end=end, fee_bps=0, slippage_bps=0, forecasts=ev.predictions
)
bt.table().round(4)

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4))
equity_curves(bt_free.equity(), a, title="no costs (threshold 0)")
equity_curves(bt.equity(), b, title=f"{fee_bps:g} bps fee + {slippage_bps:g} bps slippage per side")
fig.tight_layout()

# %% [markdown]
# ## 8. Conclusion, written from the numbers above

# %%
from IPython.display import Markdown

from cryptousd.forecast.report import verdict_vs_persistence

m10 = ev.to_dict()["results"][model.name]["10"]
m1 = ev.to_dict()["results"][model.name]["1"]
t = bt.table()
lines = [
    f"- Over **{ev.n_origins:,d}** origins ({ev.start:%Y-%m-%d} to {ev.end:%Y-%m-%d}), **{model.name}** has a 10-minute MAE of "
    f"**{m10['mae_bps']:.2f} bps**, **{m10['mae_ratio_vs_persistence']:.4f}×** persistence's ({verdict_vs_persistence(m10)}); "
    f"at 1 minute the ratio is {m1['mae_ratio_vs_persistence']:.4f} ({verdict_vs_persistence(m1)}).",
    f"- Its direction calls at 10 minutes are right **{m10['direction_accuracy']:.1%}** of the time "
    f"(95 % CI {m10['direction_ci_low']:.1%} – {m10['direction_ci_high']:.1%})."
    if m10["direction_accuracy"] is not None
    else "- It makes no direction calls.",
    f"- The {ev.coverage:.0%} interval covered **{m10['coverage']:.1%}** of 10-minute outcomes; P(up)'s Brier score is "
    f"{m10['brier']:.4f} against {m10['brier_base']:.4f} for the base rate.",
    f"- Trading on it with {fee_bps:g}+{slippage_bps:g} bps per side returned **{t.loc[model.name, 'total_return']:+.2%}** in "
    f"{int(t.loc[model.name, 'trades'])} trades; buy-and-hold returned {t.loc['buy_and_hold', 'total_return']:+.2%}.",
]
Markdown("\n".join(lines))

# %% [markdown]
# ## 9. What this notebook wrote

# %%
Path(results_dir).mkdir(parents=True, exist_ok=True)
ev.to_json(Path(results_dir) / "evaluation.json")
from cryptousd.files import write_json

write_json(Path(results_dir) / "backtest.json", bt.to_dict())
print(sorted(str(p) for p in Path(results_dir).glob("*.json")))
