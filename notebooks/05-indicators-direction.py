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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Indicators and the next-minute direction
#
# The "micro-terminal" this project grew from shows RSI, MACD, Bollinger bands and volatility
# beside the price, and claims a small neural network calls the next minute's direction right
# 55-65 % of the time, without a baseline. This notebook computes the indicators (checked against
# the `ta` library and against their streaming form), tests one by one whether they say anything
# about the next minute on data they never saw, then trains the direction classifiers (the seed's
# MLP and an LSTM) and scores them against the majority direction and a logistic regression,
# with intervals that respect overlapping outcomes.

# %% [markdown]
# ## 1. Setup

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import cryptousd as cu
from cryptousd import indicators as ind
from cryptousd import plots
from cryptousd.evaluation.direction import direction_scores, verdict
from cryptousd.forecast.direction import (
    DIRECTION_FEATURES,
    LogisticRegression,
    direction_features,
    direction_targets,
    labels,
)
from cryptousd.forecast.prepare import DEFAULT_SPLIT
from cryptousd.research.direction_train import train_direction

pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 90

# %% tags=["parameters"]
data = None  # files, folders or "store"; None: what the resolver finds (the sample on a clone)
show_day = None  # the day drawn in section 2 (None: the last day of the data)
epochs = 4  # training epochs of the MLP and the LSTM (early stopping on validation)
lstm_stride = 5  # minutes between the LSTM's training windows
eval_stride = 1  # minutes between scored origins
sample_days = (4, 1, 2)  # train / validation / test days when the data is not the 15 months
out = "runs/models/direction-nb"  # where this notebook's model folder goes

# %% [markdown]
# ## 2. The indicators, and two checks on them
#
# Every value is stamped on the candle it is computed at and uses only that candle and earlier
# ones. They equal the `ta` library's definitions (Wilder's RSI, EMAs without bias adjustment,
# Bollinger with the population deviation); the tests check it to 1e-9 on real minutes.

# %%
where = cu.locate_candles(data)
print(where)
candles = where.load()
if show_day:
    day_end = pd.Timestamp(show_day) + pd.Timedelta(days=1)
    cu.locate.check_covers(candles, show_day, day_end, what="show_day", where=where)
frame = ind.indicator_frame(candles)
print(f"{len(candles):,d} candles, {candles.index[0]} .. {candles.index[-1]}")
frame.describe().T[["mean", "std", "min", "max"]]

# %% [markdown]
# The live session updates them one closed candle at a time, in O(1): that streaming form must
# give the same numbers as the batch form above.

# %%
tail = candles.iloc[-3000:]
streamed = ind.StreamingIndicators().update_frame(tail)
batch = ind.indicator_frame(tail)
print("largest difference, streaming vs batch:", float(np.nanmax(np.abs(streamed - batch).values)))

# %%
day = candles.loc[show_day] if show_day else candles.loc[str(candles.index[-1].date())]
day_ind = frame.loc[day.index]
last = day.iloc[-240:]
li = day_ind.loc[last.index]
fig, axes = plt.subplots(
    3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]}
)
plots.candlestick(last, axes[0], title=f"BTC/USDT, {last.index[0]:%Y-%m-%d}: Bollinger 20, 2σ")
t = last.index.tz_convert(None)
for col in ("bb_upper", "bb_mid", "bb_lower"):
    axes[0].plot(t, li[col], color="#8d6e63", lw=0.8)
axes[1].plot(t, li["rsi"], color="#5c6bc0")
axes[1].axhline(30, color="#b0bec5", ls="--")
axes[1].axhline(70, color="#b0bec5", ls="--")
axes[1].set_ylabel("RSI 14")
axes[2].bar(t, li["macd_hist"], width=1 / 1440 * 0.8, color="#90a4ae")
axes[2].plot(t, li["macd"], color="#1e88e5", label="MACD")
axes[2].plot(t, li["macd_signal"], color="#fb8c00", label="signal")
axes[2].set_ylabel("MACD")
axes[2].legend(loc="upper left")
fig.tight_layout()

# %% [markdown]
# ## 3. Does any indicator say something about the next minute?
#
# One test per indicator, out of sample: a logistic regression of "the next minute closes higher"
# on that indicator alone, fitted on the training days, scored on the test days beside always
# calling the training majority. Flat minutes are left out. Each indicator enters in the
# scale-free form the classifiers read (MACD and VWAP in basis points of the close, RSI centred,
# Bollinger as %b and width): a price level such as the mid band says nothing by itself.

# %%
if candles.index[0] <= pd.Timestamp("2024-01-01", tz="UTC") and len(candles) > 500_000:
    split = DEFAULT_SPLIT
else:  # the last days of the data: train, validation, test
    end = candles.index[-1].floor("D") + pd.Timedelta(days=1)
    a, b, c = sample_days
    cuts = [end - pd.Timedelta(days=d) for d in (a + b + c, b + c, c, 0)]
    split = {
        "train": (str(cuts[0]), str(cuts[1])),
        "val": (str(cuts[1]), str(cuts[2])),
        "test": (str(cuts[2]), str(cuts[3])),
    }
print(json.dumps(split, indent=1))

# %%
idx = candles.index
tr = np.arange(
    idx.searchsorted(pd.Timestamp(split["train"][0], tz="UTC")) + 60,
    idx.searchsorted(pd.Timestamp(split["train"][1], tz="UTC")) - 1,
)
te = np.arange(
    idx.searchsorted(pd.Timestamp(split["test"][0], tz="UTC")),
    idx.searchsorted(pd.Timestamp(split["test"][1], tz="UTC")) - 1,
)
ret1 = direction_targets(candles["close"].to_numpy(), (1,))[:, 0]
y1 = labels(ret1)[:, None]
train_up = float((y1[tr] == 1).sum() / (y1[tr] >= 0).sum())
feats = direction_features(candles)
tested = ["rsi", "macd_bps", "macd_hist_bps", "bb_pct_b", "bb_width", "volatility", "vwap_gap_bps"]
rows = []
for col in tested:
    x = feats[:, DIRECTION_FEATURES.index(col)][:, None]
    mu, sd = np.nanmean(x[tr]), np.nanstd(x[tr]) or 1.0
    xs = np.nan_to_num((x - mu) / sd)
    lr = LogisticRegression.fit(xs[tr], y1[tr])
    s = direction_scores(lr(xs[te])[:, 0], ret1[te], 1, 1, train_up, {})
    rows.append(
        {
            "indicator": col,
            "accuracy": s["direction_accuracy"],
            "ci_low": s["direction_ci_low"],
            "ci_high": s["direction_ci_high"],
            "majority": s["direction_majority_baseline"],
            "brier_skill": s["brier_skill"],
            "auc": s["roc_auc"],
        }
    )
per_indicator = pd.DataFrame(rows).set_index("indicator")
per_indicator.round(4)

# %% [markdown]
# An indicator "carries information" here when its interval lies above the majority's accuracy
# and its Brier skill is above zero. Read the table with the number of tests in mind: with seven
# indicators, one may pass by luck.

# %%
passes = per_indicator[
    (per_indicator.ci_low > per_indicator.majority) & (per_indicator.brier_skill > 0)
]
print(f"{len(passes)} of {len(per_indicator)} indicators pass:", ", ".join(passes.index) or "none")
below = per_indicator[per_indicator.ci_high < per_indicator.majority]
print(
    f"{len(below)} score below the majority beyond their interval:",
    ", ".join(below.index) or "none",
)
# a one-sided 95 % interval above the majority passes by luck 2.5 % of the time per indicator
from scipy.stats import binom

n_ind = len(per_indicator)
print(
    f"by luck alone, {n_ind} independent indicators would give {n_ind * 0.025:.2f} passes on "
    f"average, and {len(passes)} or more with probability "
    f"{binom.sf(len(passes) - 1, n_ind, 0.025):.1e}; the indicators are not independent (RSI, "
    "MACD and %b all measure recent drift), so read this as one or two signals, not seven"
)

# %% [markdown]
# ## 4. The direction classifiers
#
# The seed's MLP (32/16/8 with a sigmoid head per horizon) on the last row's features and the last
# ten returns, and an LSTM on the last 30 rows of the same features, both for the next minute and
# the next ten. Trained with Keras, scored by their NumPy forward passes (what the dashboard runs).

# %%
card = train_direction(
    candles,
    out,
    split=split,
    epochs=epochs,
    lstm_stride=lstm_stride,
    eval_stride=eval_stride,
    verbose=False,
    command="notebooks/05-indicators-direction",
)
print("NumPy vs Keras, largest difference of P(up):", card["numpy_keras_max_abs_diff"])
print("default kind (lower validation log loss):", card["default_kind"])

# %%
test = card["test_metrics"]
table = pd.DataFrame(
    [
        {
            "model": m,
            "horizon": int(h),
            **{
                k: r[k]
                for k in (
                    "direction_accuracy",
                    "direction_ci_low",
                    "direction_ci_high",
                    "direction_majority_baseline",
                    "log_loss",
                    "log_loss_base",
                    "brier_skill",
                    "roc_auc",
                )
            },
        }
        for m, by_h in test["results"].items()
        for h, r in by_h.items()
    ]
).set_index(["model", "horizon"])
table.round(4)

# %%
span = f"test range {test['start'][:10]} .. {test['end'][:10]}"
fig = plots.direction_reliability(test, title=span)

# %% [markdown]
# ## 5. What the numbers say

# %%
for h in (1, 10):
    print(verdict(test, card["default_kind"], h))
    print()

# %% [markdown]
# ## 6. What this notebook wrote

# %%
print(f"wrote {Path(out)}/ (card.json, scaler.json, mlp.npz, lstm.npz, logistic.npz)")
