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
# # 02 · Building candles
#
# A candle summarises the trades of one minute: the first price (open), the highest and lowest,
# the
# last (close) and the traded amount (volume). This notebook builds candles from raw trades, shows
# what to do with minutes that have no candle, and resamples one-minute candles to 5 minutes, 15
# minutes and an hour.

# %% tags=["parameters"]
archive = None  # one Binance archive file (None: the last file cu.locate_candles finds)
n_trades = 200_000  # synthetic trades to bucket
seed = 0

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

from cryptousd.plots import candlestick

rng = np.random.default_rng(seed)
archive = Path(archive) if archive else cu.locate_candles(files_only=True).files()[-1]
print(archive.name)

# %% [markdown]
# ## 1. Trades to candles
#
# Exchanges publish trades with their own timestamps; they can arrive late or out of order. We
# bucket by
# **trade time**, never by the clock of the machine that received them, so live candles match
# history.
# Here are synthetic trades over two hours, shuffled, with three minutes in which nobody traded.

# %%
t0 = pd.Timestamp("2025-01-01", tz="UTC").value
t = np.sort(t0 + rng.integers(0, 120 * 60_000_000_000, n_trades))
minute = (t - t0) // 60_000_000_000
t = t[~np.isin(minute, [30, 31, 77])]
trades = pd.DataFrame(
    {
        "time": pd.to_datetime(t, utc=True),
        "price": 95_000 * np.exp(np.cumsum(rng.normal(0, 2e-5, len(t)))),
        "qty": rng.gamma(1.0, 0.02, len(t)),
    }
).sample(frac=1, random_state=seed)
trades.head()

# %%
candles = cu.build_candles(trades)
candles.head()

# %% [markdown]
# The result equals pandas' own `resample(...).ohlc()` on the same trades (computed here as a
# check):

# %% tags=["nbval-check-output"]
ref = trades.sort_values("time", kind="stable").set_index("time")["price"].resample("1min").ohlc()
close_ff = ref["close"].ffill()
print(
    np.allclose(candles["close"], close_ff),
    np.allclose(candles.loc[ref["open"].notna(), "open"], ref["open"].dropna()),
)

# %% [markdown]
# Minutes without trades carry the previous close, with volume 0:

# %%
candles.iloc[28:33][["open", "high", "low", "close", "volume", "trades"]]

# %%
ax = candlestick(candles.iloc[:60], title="candles built from synthetic trades (first hour)")

# %% [markdown]
# ## 2. Gaps in real data
#
# The shared Binance data has no missing minute, so we cut some out to see how gaps are found and
# filled. Filled candles are flat at the previous close with volume 0 and marked in a `filled`
# column;
# the evaluation skips every forecast whose window or horizon touches one.

# %%
real = cu.load_candles(archive)
holed = real.drop(real.index[[100, 101, 102, 5000]]).drop(columns="filled")
report = cu.find_gaps(holed)
print(report)
report.gaps

# %% tags=["nbval-check-output"]
filled, rep = cu.fill_gaps(holed)
print(len(real), len(holed), len(filled), int(filled["filled"].sum()))

# %% [markdown]
# ## 3. Resampling
#
# Coarser candles aggregate finer ones: first open, highest high, lowest low, last close, summed
# volume.
# A bucket is kept only when all its minutes are present, so a half-formed last bucket never looks
# final.

# %%
day = real.loc[real.index[0] : real.index[0] + pd.Timedelta(hours=12)]
fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
for ax, rule in zip(axes, ["5min", "15min", "1h"]):
    candlestick(cu.resample_candles(day, rule), ax, title=f"{archive.name}: {rule} candles")
fig.tight_layout()

# %%
pd.DataFrame(
    {rule: [len(cu.resample_candles(real, rule))] for rule in ["5min", "15min", "1h"]},
    index=["candles"],
)

# %% [markdown]
# ## 4. What this notebook wrote
#
# Nothing: everything here stays in memory.

# %%
print("wrote: nothing (in-memory exploration)")
