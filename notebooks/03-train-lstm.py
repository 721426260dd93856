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
# # 03 · Training the LSTM forecaster
#
# We teach an LSTM to read the last 60 one-minute candles and forecast the next 10 closes, and we
# are
# honest about how well it does. Along the way: why we model **returns** rather than prices, how
# **min-max scaling over the whole series leaks the future** (shown, not just said), the
# **persistence**
# baseline, **recursive versus direct** multi-step forecasting, and **prediction intervals**.

# %% tags=["parameters"]
data = None  # archive files or folders, or "store" (None: what cu.locate_candles finds), os.pathsep-separated if a string
train_range = ("2024-01-01", "2025-01-01")
val_range = ("2025-01-01", "2025-02-01")
test_range = ("2025-02-01", "2025-04-01")
variants = ["direct", "recursive"]
epochs = 12
stride = 5  # minutes between training windows (1 = every window)
calib_stride = 1  # minutes between validation origins for calibration
eval_stride = 1
out_dir = "runs/models"  # where the trained model folders go (git-ignored)
seed = 42

# %% [markdown]
# ## Setup

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import cryptousd as cu

pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 80

from pathlib import Path

from cryptousd.features import candle_features, time_split

where = cu.locate_candles(data)
print(where)
if where.is_sample:  # a fresh clone: a 7-day split, and the way to the full history
    train_range, val_range, test_range = cu.locate.SAMPLE_SPLIT
    print(
        "splitting the sample:",
        train_range,
        val_range,
        test_range,
        f"; for the full history run `{cu.locate.FETCH_HINT}`",
    )
candles = where.load()
data = [p.name for p in where.files()] or [str(where)]
print(f"{len(candles):,d} candles from {candles.index[0]} to {candles.index[-1]}")

# %% [markdown]
# ## 1. Prices wander, returns do not
#
# A price series has no fixed level: its mean and spread drift over months. One-minute **log
# returns**,
# `log(close_t / close_{t-1})`, hover around zero with a spread that changes far less. A model
# trained on
# returns learns patterns that can recur; a model trained on price levels learns where the price
# *was*.

# %%
daily = candles["close"].resample("1D").last()
ret = np.log(candles["close"]).diff()
fig, (a, b) = plt.subplots(1, 2, figsize=(12, 3.5))
daily.plot(ax=a, title="close (USD): no fixed level", grid=True)
(ret.resample("1D").std() * 1e4).plot(
    ax=b, title="std of one-minute log returns per day (bps)", grid=True
)
fig.tight_layout()

# %% tags=["nbval-check-output"]
by_quarter = pd.DataFrame(
    {
        "price mean": candles["close"].resample("QS").mean().round(-2),
        "return mean (bps)": (ret.resample("QS").mean() * 1e4).round(3),
    }
)
print(by_quarter.to_string())

# %% [markdown]
# ## 2. Leakage through scaling, demonstrated
#
# A common recipe min-max scales the *whole* price series to [0, 1] before splitting. Then the
# training
# inputs depend on prices that come later. The test: change only the **test** period and see
# whether the
# **training** inputs change. With full-series scaling they do; with our features (each computed
# from its
# own candle) and a scaler fitted on training rows only, they cannot.

# %%
sp = time_split(candles.index, train_range, val_range, test_range)
future_changed = candles.copy()
future_changed.iloc[sp.test[0] :, :4] *= 1.3  # a different future


def minmax_full(c):
    x = c["close"].to_numpy()
    return (x - x.min()) / (x.max() - x.min())


leaky_change = np.abs(
    minmax_full(candles)[: sp.train[1]] - minmax_full(future_changed)[: sp.train[1]]
).max()
ours_change = np.abs(
    candle_features(candles)[: sp.train[1]] - candle_features(future_changed)[: sp.train[1]]
).max()
print(
    f"largest change of a TRAINING input when only the TEST prices change: min-max over the full series {leaky_change:.3f}, our features {ours_change:.3f}"
)

# %% [markdown]
# The scaled training prices moved although nothing in the training period changed: the model
# would be
# told, through the scaling, how high prices go later. Splits here are by time with a gap of at
# least the
# horizon between them, and the scaler and the interval calibration see training (or validation)
# rows only.

# %%
fig, ax = plt.subplots(figsize=(10, 2.5))
for (part, (a, b)), colour in zip(
    [("train", sp.train), ("validation", sp.val), ("test", sp.test)], ["C0", "C1", "C2"]
):
    ax.plot(
        candles.index[a:b:60].tz_convert(None),
        candles["close"].iloc[a:b:60],
        color=colour,
        label=part,
    )
ax.legend()
ax.set_title("time split")
ax.grid(alpha=0.2)

# %% [markdown]
# ## 3. The baseline to beat: persistence
#
# At minute scale, the best simple guess for the next close is the last close. It is hard to beat
# because
# minute returns are close to unpredictable: any forecast that moves away from the last close
# mostly adds
# noise. Every metric below stands beside persistence on the same minutes.

# %% [markdown]
# ## 4. Recursive versus direct multi-step forecasting
#
# - **recursive**: predict the next minute, append it to the window, repeat 10 times. One small
#   output,
#   but errors feed on themselves, and inputs we cannot forecast (range, volume) must be filled
#   in.
# - **direct**: predict all 10 future returns at once. No feedback of errors; ten outputs to
#   learn.
#
# Both use the same network: LSTM(64) → Dropout → LSTM(32) → Dense(16) → Dense(10 or 1), trained
# with
# Adam and early stopping on validation loss (best weights restored).

# %%
from cryptousd.forecast.prepare import TrainConfig
from cryptousd.pipeline import train

split = {"train": train_range, "val": val_range, "test": test_range}
cards = {}
for variant in variants:
    cfg = TrainConfig(
        variant=variant,
        epochs=epochs,
        stride=stride,
        calib_stride=calib_stride,
        eval_stride=eval_stride,
        seed=seed,
    )
    cards[variant] = train(
        candles,
        Path(out_dir) / f"lstm-{variant}",
        config=cfg,
        split=split,
        data_description=data,
        command=f"notebook 03-train-lstm ({variant})",
    )

# %% [markdown]
# Learning curves: the loss on training windows and on the validation month, per epoch (the best
# validation epoch's weights are kept).

# %%
fig, axes = plt.subplots(1, len(cards), figsize=(6 * len(cards), 3.5), squeeze=False)
for ax, (variant, card) in zip(axes[0], cards.items()):
    t = card["training"]
    epochs_axis = range(1, len(t["loss"]) + 1)
    ax.plot(epochs_axis, t["loss"], marker="o", label="training")
    ax.plot(epochs_axis, t["val_loss"], marker="o", label="validation")
    ax.axhline(t["initial_val_loss"], color="grey", ls=":", label="validation before training")
    ax.set_title(f"{variant}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE of scaled returns")
    ax.legend()
    ax.grid(alpha=0.2)
fig.tight_layout()


# %%
def val_row(card):
    m = card["validation_metrics"]["by_forecaster"][card["name"]]
    return {
        "variant": card["variant"],
        "epochs": card["training"]["epochs_run"],
        "s/epoch": card["training"]["seconds_per_epoch"],
        "val MAE ratio (mean of 1..10)": round(
            np.mean([m[h]["mae_ratio_vs_persistence"] for h in m]), 5
        ),
        **{
            f"val MAE ratio @{h}": round(m[h]["mae_ratio_vs_persistence"], 5)
            for h in ("1", "5", "10")
        },
    }


comparison = pd.DataFrame([val_row(c) for c in cards.values()]).set_index("variant")
comparison

# %%
# the losses of the two variants are not comparable (10 outputs vs 1); the price-space MAE is
winner = comparison["val MAE ratio (mean of 1..10)"].idxmin()
print(f"winner on validation: {winner}")

# %% [markdown]
# ## 5. How the winner does on the test months, beside the baselines
#
# Mean absolute error in basis points of the last close, per horizon; the ratio to persistence
# below 1
# means better. The Diebold-Mariano p-value says whether a difference is more than noise.

# %%
from cryptousd.forecast.report import card_summary

print(card_summary(cards[winner]))

# %% [markdown]
# ## 6. Prediction intervals
#
# A point forecast says nothing about its uncertainty. We calibrate intervals on validation
# residuals
# (split conformal), scaled by each window's own volatility, so bands widen in turbulent markets.
# An 80 %
# interval should contain the realised close 80 % of the time on data it never saw:

# %%
tm = cards[winner]["test_metrics"]["by_forecaster"]
coverage = pd.DataFrame(
    {name: {int(h): v["coverage"] for h, v in hs.items()} for name, hs in tm.items()}
)
ax = coverage.plot(
    marker="o", figsize=(7, 3.5), title="test coverage of the 80 % interval", grid=True
)
ax.axhline(0.8, color="grey", ls=":")
ax.set_xlabel("horizon (minutes)")
ax.set_ylim(0.6, 1.0)

# %%
from cryptousd.plots import forecast_chart

model = cu.load_forecaster(Path(out_dir) / f"lstm-{winner}")
test_start = sp.test[0] + 600
fc = model.predict(candles.iloc[test_start - 60 : test_start])
ax = forecast_chart(
    candles.iloc[test_start - 60 : test_start + 10],
    fc,
    title="one test forecast against what happened",
)

# %% [markdown]
# ## 7. What this notebook wrote
#
# One model folder per variant (Keras file, NumPy weights, scaler, calibration, baselines,
# `card.json`).
# The shipped default in `models/` was made by the command in its card; copy a folder there to
# ship yours.

# %%
for variant in variants:
    folder = Path(out_dir) / f"lstm-{variant}"
    print(folder, sorted(p.name for p in folder.iterdir()))
