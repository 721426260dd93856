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
# # 03 · Training the LSTM forecaster
#
# We teach an LSTM to read the last 60 one-minute candles and forecast the next 10 closes, and we
# look at the evidence for how well it does. Along the way: why we model **returns** rather than
# prices and what their autocorrelation says, how **min-max scaling over the whole series leaks
# the future** (shown, not just said), what exactly the network reads, the **persistence**
# baseline, **recursive versus direct** multi-step forecasting, and **prediction intervals**.

# %% tags=["parameters"]
# archive files or folders, or "store" (None: what cu.locate_candles finds); a string may hold
# several, separated by os.pathsep
data = None
train_range = ("2024-01-01", "2025-01-01")
val_range = ("2025-01-01", "2025-02-01")
test_range = ("2025-02-01", "2025-04-01")
interval = "1min"  # candle length: 1min, 5min or 15min (longer ones are resampled from 1min)
window = 60  # candles the model reads
horizon = 10  # candles it forecasts
variants = ["direct", "recursive"]
epochs = 12
# candles between training windows; 7 visits every minute of the hour alike (section 4 shows why
# 5 does not); the shipped models used 5
stride = 7
calib_stride = 1  # candles between validation origins for calibration
eval_stride = 1  # candles between test origins
out_dir = "runs/models"  # where the trained model folders go (git-ignored)
seed = 42

# %% [markdown]
# ## Setup

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import cryptousd as cu
from cryptousd.colors import forecaster_color
from cryptousd.forecast.features import FEATURES, candle_features, future_returns, time_split
from cryptousd.plots import concise_dates

pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 80

where = cu.locate_candles(data)
print(where)
if where.is_sample:  # a fresh clone: a 7-day split, and the way to the full history
    train_range, val_range, test_range = cu.locate.SAMPLE_SPLIT
    print("splitting the sample:", train_range, val_range, test_range)
    print(f"for the full history run `{cu.locate.FETCH_HINT}`")
candles = where.load()
if interval != "1min":
    candles = cu.resample_candles(candles, interval)
cu.locate.check_covers(
    candles, train_range[0], test_range[1], what="train_range .. test_range", where=where
)
data = [p.name for p in where.files()] or [str(where)]
print(f"{len(candles):,d} {interval} candles from {candles.index[0]} to {candles.index[-1]}")

# %% [markdown]
# ## 1. Prices wander, returns do not
#
# A price series has no fixed level: its mean and spread drift over months. One-minute **log
# returns**, `log(close_t / close_{t-1})`, hover around zero with a spread that changes far less. A
# model trained on returns learns patterns that can recur; a model trained on price levels learns
# where the price *was*.

# %%
daily = candles["close"].resample("1D").last()
ret = np.log(candles["close"]).diff()
fig, (a, b) = plt.subplots(1, 2, figsize=(12, 3.5))
daily.plot(ax=a, title="close (USD): no fixed level", grid=True)
(ret.resample("1D").std() * 1e4).plot(
    ax=b, title="std of one-candle log returns per day (bps)", grid=True
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
# ### Is there anything to forecast? The autocorrelation of returns
#
# If the next return were a linear function of past returns, their autocorrelation (ACF) would
# show it. The returns themselves are almost uncorrelated; their **absolute values** are not:
# calm follows calm and turbulence follows turbulence (volatility clustering). So the *size* of the
# next move is partly predictable, its *sign* hardly at all. The prediction intervals below rely on
# the first fact; the point forecasts run into the second. The dotted band is ±1.96/√n, the range
# an ACF of independent noise stays in 95 % of the time.

# %%
train_ret = ret[train_range[0] : train_range[1]].dropna().to_numpy()


def acf(x: np.ndarray, lags: int) -> np.ndarray:
    x = x - x.mean()
    return np.array([np.dot(x[:-k], x[k:]) / np.dot(x, x) for k in range(1, lags + 1)])


lags = np.arange(1, 61)
acf_ret, acf_abs = acf(train_ret, 60), acf(np.abs(train_ret), 60)
band = 1.96 / np.sqrt(len(train_ret))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), sharey=True)
for ax, values, what in zip(axes, [acf_ret, acf_abs], ["returns", "absolute returns"]):
    ax.bar(lags, values, width=0.8, color="#2196f3")
    ax.axhspan(-band, band, color="grey", alpha=0.25)
    ax.set_title(f"ACF of one-candle {what} (training range)")
    ax.set_xlabel("lag (candles)")
    ax.grid(alpha=0.2)
fig.tight_layout()
print(
    f"lag 1: returns {acf_ret[0]:+.3f}, absolute returns {acf_abs[0]:+.3f}; "
    f"mean over lags 1..60: returns {acf_ret.mean():+.4f}, absolute returns {acf_abs.mean():+.3f} "
    f"(noise band ±{band:.4f}, n = {len(train_ret):,d})"
)

# %% [markdown]
# ### Persistence's error grows like the square root of the horizon
#
# If returns are close to independent, the change over *h* candles is a sum of *h* of them and its
# spread grows like √h. Persistence (the last close carried forward) makes exactly that change its
# error, so its mean absolute error at horizon *h* should be about MAE(1) × √h. Measured on the
# training range:

# %%
close = candles["close"].to_numpy()
tr = slice(*time_split(candles.index, train_range, val_range, test_range).train)
logc_train = np.log(close[tr])
hs = np.arange(1, horizon + 1)
mae_persistence = np.array([np.nanmean(np.abs(logc_train[h:] - logc_train[:-h])) for h in hs])
sqrt_law = mae_persistence[0] * np.sqrt(hs)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(
    hs, mae_persistence * 1e4, marker="o", color=forecaster_color("persistence"), label="measured"
)
ax.plot(hs, sqrt_law * 1e4, ls=":", color="grey", label="MAE(1) × √h")
ax.set_xlabel("horizon h (candles)")
ax.set_ylabel("persistence MAE (bps)")
ax.legend()
ax.grid(alpha=0.2)
print(
    "measured / √h law at h = "
    + ", ".join(f"{h}: {m / s:.3f}" for h, m, s in zip(hs, mae_persistence, sqrt_law))
)

# %% [markdown]
# ## 2. Leakage through scaling, demonstrated
#
# A common recipe min-max scales the *whole* price series to [0, 1] before splitting. Then the
# training inputs depend on prices that come later. The test: change only the **test** period and
# see whether the **training** inputs change. With full-series scaling they do; with our features
# (each computed from its own candle) and a scaler fitted on training rows only, they cannot.

# %%
sp = time_split(candles.index, train_range, val_range, test_range)
future_changed = candles.copy()
future_changed.iloc[sp.test[0] :, :4] *= 1.3  # a different future


def minmax_full(c):
    x = c["close"].to_numpy()
    return (x - x.min()) / (x.max() - x.min())


n_train = sp.train[1]
leaky_change = np.abs(minmax_full(candles)[:n_train] - minmax_full(future_changed)[:n_train]).max()
ours_change = np.abs(
    candle_features(candles)[:n_train] - candle_features(future_changed)[:n_train]
).max()
print("largest change of a TRAINING input when only the TEST prices change:")
print(f"  min-max over the full series {leaky_change:.3f}, our features {ours_change:.3f}")

# %% [markdown]
# The scaled training prices moved although nothing in the training period changed: the model
# would be told, through the scaling, how high prices go later. Splits here are by time with a gap
# of at least the horizon between them, and the scaler and the interval calibration see training
# (or validation) rows only.

# %%
fig, ax = plt.subplots(figsize=(10, 2.5))
parts = [("train", sp.train), ("validation", sp.val), ("test", sp.test)]
for (part, (a, b)), colour in zip(parts, ["#2196f3", "#ff9800", "#4caf50"]):
    step = max(1, (b - a) // 2000)
    ax.plot(
        candles.index[a:b:step].tz_convert(None),
        candles["close"].iloc[a:b:step],
        color=colour,
        label=part,
    )
concise_dates(ax)
ax.legend()
ax.set_title("time split")
ax.grid(alpha=0.2)

# %% [markdown]
# ### Leakage through a random split of overlapping windows
#
# The second classic leak needs no scaler. Windows that start one minute apart share 59 of their
# 60 inputs, and their 10-minute targets share 9 of 10 minutes. Shuffle the windows into a training
# and a test set and almost every test window has a near-twin in training whose answer is nearly
# its own. A flexible model then "forecasts" by remembering. Below, a 10-nearest-neighbour
# regression on two smooth features (the 60-minute moving average of the log close and the
# 60-minute volatility) forecasts the 10-minute return, on the last 90 days (at most) of the
# training range: once with a random 80/20 split of the windows, once with the first 80 % in time
# for training and the last 20 % for testing (a horizon's gap between them).

# %%
from scipy.spatial import cKDTree

a0, b0 = max(sp.train[0], sp.train[1] - 90 * 1440), sp.train[1]
logc_all = np.log(close)
ma60 = pd.Series(logc_all).rolling(60).mean().to_numpy()
vol60 = pd.Series(np.r_[0.0, np.diff(logc_all)]).rolling(60).std().to_numpy()
o = np.arange(a0 + 60, b0 - horizon)
x_knn = np.column_stack([ma60[o] * 1e2, vol60[o] * 1e4])
y_knn = (logc_all[o + horizon] - logc_all[o]) * 1e4


def knn_mae_ratio(fit, test, k=10):
    _, nearest = cKDTree(x_knn[fit]).query(x_knn[test], k=k)
    forecast = y_knn[fit][nearest].mean(axis=1)
    return np.abs(y_knn[test] - forecast).mean() / np.abs(y_knn[test]).mean()  # vs persistence


n_fit = int(0.8 * len(o))
shuffled = np.random.default_rng(seed).permutation(len(o))
random_split = knn_mae_ratio(shuffled[:n_fit], shuffled[n_fit:])
time_split_ratio = knn_mae_ratio(np.arange(n_fit - horizon), np.arange(n_fit, len(o)))
print(f"{len(o):,d} windows; 10-minute MAE relative to persistence (below 1 = 'beats' it):")
print(f"  random split of overlapping windows: {random_split:.3f}")
print(f"  split by time:                       {time_split_ratio:.3f}")

# %% [markdown]
# The same model, the same data: the random split reports a forecast better than persistence, the
# time split the truth. This is why every split in this project is by time, with a gap of at least
# the horizon between the parts.

# %% [markdown]
# ## 3. What the network reads
#
# Each candle becomes five numbers, none of which needs a price level: the log return, the
# high-low range relative to the close, log volume, and the time of day as a point on a circle
# (so 23:59 sits next to 00:00). A scaler fitted on the training rows only centres and scales them.
# One input window is `window` consecutive candles of these five numbers; the target is the next
# `horizon` one-candle returns (direct) or only the next one (recursive), divided by the training
# returns' standard deviation.

# %%
from cryptousd.forecast.prepare import TrainConfig, prepare

config = TrainConfig(
    variant="direct",
    epochs=epochs,
    stride=stride,
    calib_stride=calib_stride,
    eval_stride=eval_stride,
    seed=seed,
    window=window,
    horizon=horizon,
)
split = {"train": train_range, "val": val_range, "test": test_range}
prep = prepare(candles, config, split)
origin = int(sp.origins("test", 1, window, horizon)[600])
shown = pd.DataFrame(
    prep.arrays.feats[origin - window + 1 : origin + 1],
    columns=FEATURES,
    index=candles.index[origin - window + 1 : origin + 1].tz_convert(None),
)
axes = shown.plot(subplots=True, figsize=(10, 6), grid=True, legend=False, color="#2196f3")
for ax, name in zip(axes, FEATURES):
    ax.set_ylabel(name, rotation=0, ha="right")
axes[0].set_title(f"the {window} raw inputs of one window, ending {shown.index[-1]} UTC")
print(
    "scaler fitted on training rows: mean",
    prep.scaler.mean.round(4),
    "std",
    prep.scaler.std.round(4),
)
print(f"targets are returns / {prep.y_scale:.6f} (the std of training one-candle returns)")

# %% [markdown]
# Keras cuts the scaled series into windows lazily; one training batch has this shape:

# %%
from cryptousd.forecast.train import build_keras_model, datasets

train_ds, val_ds = datasets(prep, config)
xb, yb = next(iter(train_ds))
print(
    f"scaled feature rows: {prep.x.shape}; one batch: inputs {tuple(xb.shape)}, "
    f"targets {tuple(yb.shape)}"
)
print(f"training batches per epoch: {int(train_ds.cardinality()):,d} (stride {stride})")

# %% [markdown]
# ## 4. A stride artefact: which minutes the training targets fall on
#
# Taking every `stride`-th window saves time, but with a stride of 5 every training origin has the
# same minute modulo 5, so every one-step target is the same kind of candle. Candles that open on
# :00, :05, :10, ... are not like the others: scheduled orders and index fixings land on them (on
# the 2024 training year their returns vary about 1.15 times as much as the average candle's). A
# recursive model trained that way sees only those targets, so its loss reads about 1.15 where
# predicting zero on an average candle reads 1: that is the stride, not a lack of skill. A stride
# that shares no factor with 5 or 60 (7, say) visits every minute alike. Measured on this data:

# %%
minute = candles.index.minute.to_numpy()
r2 = ret.to_numpy() ** 2
train_rows = np.arange(*sp.train)
var_by_phase = pd.Series(
    [np.nanmean(r2[train_rows][minute[train_rows] % 5 == k]) for k in range(5)],
    index=[f"minute % 5 == {k}" for k in range(5)],
)
print("variance of one-candle returns by minute of the hour mod 5, relative to the mean:")
print((var_by_phase / np.nanmean(r2[train_rows])).round(3).to_string())
y1 = future_returns(close, 1)[:, 0] / prep.y_scale
for s in (5, 7):
    o = sp.origins("train", s, window, horizon)
    phases = np.bincount(minute[o + 1] % 5, minlength=5)
    print(
        f"stride {s}: next-candle targets by minute % 5 = {phases.tolist()}; "
        f"MSE of predicting zero on them {np.nanmean(y1[o] ** 2):.3f} (1 = an average candle)"
    )

# %% [markdown]
# ## 5. The baseline to beat: persistence
#
# At minute scale, the best simple guess for the next close is the last close. It is hard to beat
# because minute returns are close to unpredictable (section 1): any forecast that moves away from
# the last close mostly adds noise. Every metric below stands beside persistence on the same
# minutes.
#
# ## 6. Recursive versus direct multi-step forecasting
#
# - **recursive**: predict the next candle, append it to the window, repeat `horizon` times. One
#   small output, but errors feed on themselves, and inputs we cannot forecast (range, volume)
#   must be filled in.
# - **direct**: predict all future returns at once. No feedback of errors; more outputs to learn.
#
# Both use the same network: LSTM(64) → Dropout → LSTM(32) → Dense(16) → Dense(horizon or 1),
# trained with Adam and early stopping on validation loss (best weights restored). Here it is:

# %%
keras_model = build_keras_model(len(FEATURES), window, horizon, "direct", config.dropout)
keras_model.summary(print_fn=lambda line, line_break=True: print(line))

# %% [markdown]
# `cryptousd.research.pipeline.train` runs the steps one after another for each variant: `prepare`
# (above),
# `forecast.train.fit` (Keras), `export` to the NumPy forecaster the dashboard runs (checked against
# Keras), fit and calibrate the baselines and the model on validation, evaluate, write the card and
# the model folder.

# %%
from dataclasses import replace

from cryptousd.research.pipeline import train

cards = {}
for variant in variants:
    cards[variant] = train(
        candles,
        Path(out_dir) / f"lstm-{variant}",
        config=replace(config, variant=variant),
        split=split,
        data_description=data,
        command=f"notebook 03-train-lstm ({variant})",
    )

# %% [markdown]
# Learning curves: the loss on training windows and on the validation month, per epoch (the best
# validation epoch's weights are kept). The dashed line is the loss of **predicting zero** (that
# is, persistence) on the same validation windows: a curve that never goes clearly below it has
# learned nothing that beats the last close.

# %%
val_o = sp.origins("val", max(stride, 5), window, horizon)
y_val = future_returns(close, horizon)[val_o] / prep.y_scale
zero_loss = {
    "direct": float(np.nanmean(y_val**2)),
    "recursive": float(np.nanmean(y_val[:, 0] ** 2)),
}
fig, axes = plt.subplots(1, len(cards), figsize=(6 * len(cards), 3.5), squeeze=False)
for ax, (variant, card) in zip(axes[0], cards.items()):
    t = card["training"]
    epochs_axis = range(1, len(t["loss"]) + 1)
    ax.plot(epochs_axis, t["loss"], marker="o", color="#2196f3", label="training")
    ax.plot(epochs_axis, t["val_loss"], marker="o", color="#ff9800", label="validation")
    ax.axhline(zero_loss[variant], color="black", ls="--", label="predict zero (validation)")
    ax.set_title(f"{variant}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE of scaled returns")
    ax.legend()
    ax.grid(alpha=0.2)
fig.tight_layout()
for variant, card in cards.items():
    best = card["training"]["best_val_loss"]
    print(
        f"{variant}: best validation loss {best:.4f} vs predict-zero {zero_loss[variant]:.4f} "
        f"({best / zero_loss[variant]:.4f}x)"
    )


# %%
def val_row(card):
    m = card["validation_metrics"]["by_forecaster"][card["name"]]
    return {
        "variant": card["variant"],
        "epochs": card["training"]["epochs_run"],
        "s/epoch": card["training"]["seconds_per_epoch"],
        "val MAE ratio (mean of all horizons)": round(
            np.mean([m[h]["mae_ratio_vs_persistence"] for h in m]), 5
        ),
        **{
            f"val MAE ratio @{h}": round(m[h]["mae_ratio_vs_persistence"], 5)
            for h in ("1", "5", "10")
            if h in m
        },
    }


comparison = pd.DataFrame([val_row(c) for c in cards.values()]).set_index("variant")
comparison

# %%
# the losses of the two variants are not comparable (10 outputs vs 1); the price-space MAE is
winner = comparison["val MAE ratio (mean of all horizons)"].idxmin()
print(
    f"lower validation MAE: {winner} "
    "(whether the difference is more than noise: see the card's DM test)"
)

# %% [markdown]
# ## 7. What the model predicts, against what happened
#
# On the test range, each dot is one origin: the forecast return against the realised one. A model
# with skill would spread its forecasts along the diagonal. This one keeps them close to zero,
# which is persistence: the cheapest way to be not wrong when the sign is a coin toss.

# %%
model = cu.load_forecaster(Path(out_dir) / f"lstm-{winner}")
arr = prep.arrays
test_o = sp.origins("test", 1, window, horizon)
predicted = model.predict_origins(arr.feats, arr.logc, arr.times, test_o)
realised = arr.logc[test_o[:, None] + hs] - arr.logc[test_o, None]
pick = np.random.default_rng(seed).choice(len(test_o), min(5000, len(test_o)), replace=False)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, h in zip(axes, [1, horizon]):
    p, r = predicted[:, h - 1] * 1e4, realised[:, h - 1] * 1e4
    ax.scatter(p[pick], r[pick], s=3, alpha=0.3, color=forecaster_color(model.name))
    lim = np.percentile(np.abs(r), 99)
    ax.plot([-lim, lim], [-lim, lim], color="grey", ls=":", label="forecast = outcome")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("forecast return (bps)")
    ax.set_ylabel("realised return (bps)")
    slope = np.polyfit(p, r, 1)[0] if p.std() > 0 else float("nan")
    ax.set_title(f"{h} candle(s) ahead: forecast std {p.std() / r.std():.1%} of the outcome's")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.2)
    print(
        f"h={h}: std of forecasts {p.std():.2f} bps, of outcomes {r.std():.2f} bps; "
        f"corr {np.corrcoef(p, r)[0, 1]:+.4f}; slope of outcome on forecast {slope:+.3f}"
    )
fig.tight_layout()

# %% [markdown]
# ## 8. The test months, beside the baselines
#
# A rolling-origin evaluation of the frozen model (trained once, never refitted): at every test
# origin each forecaster sees only the past. Mean absolute error in basis points of the last close,
# per horizon; a ratio to persistence below 1 means better, and the Diebold-Mariano p-value says
# whether a difference is more than noise.

# %%
from cryptousd.forecast.report import card_summary

print(card_summary(cards[winner]))

# %% [markdown]
# ## 9. Prediction intervals
#
# A point forecast says nothing about its uncertainty. We calibrate intervals on validation
# residuals (split conformal), scaled by each window's own volatility, so bands widen in turbulent
# markets (the volatility clustering of section 1). An 80 % interval should contain the realised
# close 80 % of the time on data it never saw:

# %%
tm = cards[winner]["test_metrics"]["by_forecaster"]
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, hs_metrics in tm.items():
    cov = pd.Series({int(h): v["coverage"] for h, v in hs_metrics.items()}).sort_index()
    ax.plot(cov.index, cov.to_numpy(), marker="o", color=forecaster_color(name), label=name)
ax.axhline(0.8, color="grey", ls=":", label="nominal 80 %")
ax.set_xlabel("horizon (candles)")
ax.set_ylim(0.6, 1.0)
ax.set_title("test coverage of the 80 % interval")
ax.legend()
ax.grid(alpha=0.2)

# %%
from cryptousd.plots import forecast_chart

if interval == "1min":  # the live forecaster reads one-minute candles
    test_start = sp.test[0] + 600
    fc = model.predict(candles.iloc[test_start - window : test_start])
    forecast_chart(
        candles.iloc[test_start - window : test_start + horizon],
        fc,
        title="one test forecast against what happened",
    )

# %% [markdown]
# ## 10. What this notebook wrote
#
# One model folder per variant (Keras file, NumPy weights, scaler, calibration, baselines,
# `card.json`). The shipped default in `models/` was made by the command in its card; copy a folder
# there to ship yours.

# %%
for variant in variants:
    folder = Path(out_dir) / f"lstm-{variant}"
    print(folder, sorted(p.name for p in folder.iterdir()))
