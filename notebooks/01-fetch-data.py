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
# # 01 · Fetching BTC/USD market data
#
# Where the minute candles come from and where they are kept. We read Binance's public bulk
# archives
# (offline), optionally fetch from an exchange through ccxt or from Yahoo (online), and put
# everything
# into the local Parquet store under `data/store/`, which the other notebooks and the dashboard
# read.

# %% tags=["parameters"]
# Binance archive files or folders (None: what cu.locate_candles finds; on a fresh clone, the
# bundled 7-day sample)
archives = None
store_dir = None  # where the store lives (None: data/store)
source = "archive"  # archive | exchange | yahoo
# ccxt id for source="exchange" (Coinbase and Kraken serve the US; Binance.com does not)
exchange = "coinbase"
symbol = "BTC/USD"  # the market to fetch from the exchange
days = 1.0  # how far back to fetch online

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

import os

if isinstance(archives, str):
    archives = archives.split(os.pathsep)
where = cu.locate_candles(archives, files_only=True)
print(where)
archives = where.files()
store = cu.CandleStore(store_dir)
print(f"{len(archives)} archive file(s); store at {store.root}")

# %% [markdown]
# ## 1. What a Binance archive holds
#
# Each monthly zip holds one header-less CSV: `open_time, open, high, low, close, volume,
# close_time,
# quote_asset_volume, number_of_trades, ...`. Times are epoch **milliseconds** up to 2024-12 and
# **microseconds** from 2025-01 on; `load_candles` tells them apart by magnitude and refuses a
# file
# that mixes both.

# %%
import zipfile

with zipfile.ZipFile(archives[-1]) as zf:
    first_line = zf.open(zf.namelist()[0]).readline().decode()
first_line

# %%
month = cu.load_candles(archives[-1])
month.head()

# %% tags=["nbval-check-output"]
print(len(month), month.index[0], month.index[-1], str(month.index.tz))

# %% [markdown]
# ## 2. Import the archives into the local store
#
# `CandleStore.append` validates every candle, de-duplicates on `open_time` and writes each month
# atomically (a temporary file, then a rename), so an interrupted import never leaves half a file.

# %%
from tqdm.auto import tqdm

from cryptousd.data.candle_files import read_candle_file

added = 0
for path in tqdm(archives, desc="importing", unit="file"):
    added += store.append(read_candle_file(path), source="binance", symbol="BTC/USDT")
print(f"{added:,d} new candles")

# %%
pd.DataFrame([r.__dict__ for r in store.info()])

# %% [markdown]
# Importing again adds nothing: the store de-duplicates.

# %% tags=["nbval-check-output"]
print(store.append(read_candle_file(archives[-1]), source="binance", symbol="BTC/USDT"))

# %% [markdown]
# ## 3. Reading a range back is fast
#
# Only the month files a range touches are opened.

# %%
import time

t0 = time.perf_counter()
everything = cu.load_candles(store, symbol="BTC/USDT")
print(
    f"{len(everything):,d} candles in {time.perf_counter() - t0:.2f} s;",
    f"missing minutes filled: {int(everything['filled'].sum())}",
)

# %%
daily = cu.resample_candles(everything, "1D")
ax = daily["close"].plot(figsize=(10, 3), title="BTC/USDT daily close (from the store)", grid=True)

# %% [markdown]
# ## 4. Online sources
#
# With a network, the same store takes candles from an exchange (ccxt, paginated backfill with
# retries that respect rate limits) or from Yahoo (one-minute bars only for the last 30 days, at
# most
# 7 days per request). From a terminal: `cryptousd fetch --exchange coinbase --days 2`. Offline,
# this section says so and moves on.

# %%
from cryptousd.data.sources import ExchangeSource, YahooSource
from cryptousd.markets import Market

if source == "exchange":
    src = ExchangeSource(exchange, symbol)
    fetched = src.history(pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days))
    print(store.append(fetched, source=exchange, symbol=symbol), "new candles from", exchange)
elif source == "yahoo":
    src = YahooSource(Market.parse(symbol).yahoo)
    fetched = src.history(pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days))
    print(store.append(fetched, source="yahoo", symbol=symbol), "new candles from Yahoo")
else:
    print("source='archive': no network used; set source='exchange' or 'yahoo' to fetch live data")

# %% [markdown]
# ## 5. What this notebook wrote

# %%
for s in store.info():
    print(f"{store.folder(s.source, s.symbol)}: {s.months} month file(s), {s.first} .. {s.last}")
