"""Write notebooks 01-05 from the cell lists below (then run `cryptousd notebooks` to execute them).

Run from the project root: `.venv/bin/python tools/make_notebooks.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nb03 import BOOKS as NB03  # noqa: E402
from nb04 import BOOKS as NB04  # noqa: E402
from nb05 import BOOKS as NB05  # noqa: E402
from nbtools import SETUP, make_notebook  # noqa: E402


NB01 = [
("md", """
# 01 · Fetching BTC/USD market data

Where the minute candles come from and where they are kept. We read Binance's public bulk archives
(offline), optionally fetch from an exchange through ccxt or from Yahoo (online), and put everything
into the local Parquet store under `data/store/`, which the other notebooks and the dashboard read.
"""),
("params", """
archives = None       # Binance archive files or folders (None: what cu.locate_candles finds; on a fresh clone the bundled 7-day sample)
store_dir = None      # where the store lives (None: data/store)
source = "archive"    # archive | exchange | yahoo
exchange = "coinbase" # ccxt id for source="exchange" (Coinbase and Kraken serve the US; Binance.com does not)
symbol = "BTC/USD"    # market for source="exchange"
days = 1.0            # how far back to fetch online
"""),
("md", "## Setup"),
("code", SETUP + """
import os
from pathlib import Path
if isinstance(archives, str):
    archives = archives.split(os.pathsep)
where = cu.locate_candles(archives, files_only=True)
print(where)
archives = where.files()
store = cu.CandleStore(store_dir)
print(f"{len(archives)} archive file(s); store at {store.root}")
"""),
("md", """
## 1. What a Binance archive holds

Each monthly zip holds one header-less CSV: `open_time, open, high, low, close, volume, close_time,
quote_asset_volume, number_of_trades, ...`. Times are epoch **milliseconds** up to 2024-12 and
**microseconds** from 2025-01 on; `load_candles` tells them apart by magnitude and refuses a file
that mixes both.
"""),
("code", """
import zipfile
with zipfile.ZipFile(archives[-1]) as zf:
    first_line = zf.open(zf.namelist()[0]).readline().decode()
first_line
"""),
("code", """
month = cu.load_candles(archives[-1])
month.head()
"""),
("check", """
print(len(month), month.index[0], month.index[-1], str(month.index.tz))
"""),
("md", """
## 2. Import the archives into the local store

`CandleStore.append` validates every candle, de-duplicates on `open_time` and writes each month
atomically (a temporary file, then a rename), so an interrupted import never leaves half a file.
"""),
("code", """
from tqdm.auto import tqdm
from cryptousd.candle_files import read_candle_file
added = 0
for path in tqdm(archives, desc="importing", unit="file"):
    added += store.append(read_candle_file(path), source="binance", symbol="BTC/USDT")
print(f"{added:,d} new candles")
"""),
("code", """
pd.DataFrame([r.__dict__ for r in store.info()])
"""),
("md", "Importing again adds nothing: the store de-duplicates."),
("check", """
print(store.append(read_candle_file(archives[-1]), source="binance", symbol="BTC/USDT"))
"""),
("md", """
## 3. Reading a range back is fast

Only the month files a range touches are opened.
"""),
("code", """
import time
t0 = time.perf_counter()
everything = cu.load_candles(store, symbol="BTC/USDT")
print(f"{len(everything):,d} candles in {time.perf_counter() - t0:.2f} s; missing minutes filled: {int(everything['filled'].sum())}")
"""),
("code", """
daily = cu.resample_candles(everything, "1D")
ax = daily["close"].plot(figsize=(10, 3), title="BTC/USDT daily close (from the store)", grid=True)
"""),
("md", """
## 4. Online sources

With a network, the same store takes candles from an exchange (ccxt, paginated backfill with
retries that respect rate limits) or from Yahoo (one-minute bars only for the last 30 days, at most
7 days per request). From a terminal: `cryptousd fetch --exchange coinbase --days 2`. Offline,
this section says so and moves on.
"""),
("code", """
if source == "exchange":
    src = cu.sources.ExchangeSource(exchange, symbol)
    fetched = src.history(pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days))
    print(store.append(fetched, source=exchange, symbol=symbol), "new candles from", exchange)
elif source == "yahoo":
    src = cu.sources.YahooSource("BTC-USD")
    fetched = src.history(pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days))
    print(store.append(fetched, source="yahoo", symbol="BTC-USD"), "new candles from Yahoo")
else:
    print("source='archive': no network used; set source='exchange' or 'yahoo' to fetch live data")
"""),
("md", "## 5. What this notebook wrote"),
("code", """
for s in store.info():
    print(f"{store.folder(s.source, s.symbol)}: {s.months} month file(s), {s.first} .. {s.last}")
"""),
]

NB02 = [
("md", """
# 02 · Building candles

A candle summarises the trades of one minute: the first price (open), the highest and lowest, the
last (close) and the traded amount (volume). This notebook builds candles from raw trades, shows
what to do with minutes that have no candle, and resamples one-minute candles to 5 minutes, 15
minutes and an hour.
"""),
("params", """
archive = None     # one Binance archive file (None: the last file cu.locate_candles finds)
n_trades = 200_000 # synthetic trades to bucket
seed = 0
"""),
("md", "## Setup"),
("code", SETUP + """
from pathlib import Path
from cryptousd.plots import candlestick
rng = np.random.default_rng(seed)
archive = Path(archive) if archive else cu.locate_candles(files_only=True).files()[-1]
print(archive.name)
"""),
("md", """
## 1. Trades to candles

Exchanges publish trades with their own timestamps; they can arrive late or out of order. We bucket by
**trade time**, never by the clock of the machine that received them, so live candles match history.
Here are synthetic trades over two hours, shuffled, with three minutes in which nobody traded.
"""),
("code", """
t0 = pd.Timestamp("2025-01-01", tz="UTC").value
t = np.sort(t0 + rng.integers(0, 120 * 60_000_000_000, n_trades))
minute = (t - t0) // 60_000_000_000
t = t[~np.isin(minute, [30, 31, 77])]
trades = pd.DataFrame({"time": pd.to_datetime(t, utc=True),
                       "price": 95_000 * np.exp(np.cumsum(rng.normal(0, 2e-5, len(t)))),
                       "qty": rng.gamma(1.0, 0.02, len(t))}).sample(frac=1, random_state=seed)
trades.head()
"""),
("code", """
candles = cu.build_candles(trades)
candles.head()
"""),
("md", "The result equals pandas' own `resample(...).ohlc()` on the same trades (computed here as a check):"),
("check", """
ref = trades.sort_values("time", kind="stable").set_index("time")["price"].resample("1min").ohlc()
close_ff = ref["close"].ffill()
print(np.allclose(candles["close"], close_ff), np.allclose(candles.loc[ref["open"].notna(), "open"], ref["open"].dropna()))
"""),
("md", "Minutes without trades carry the previous close, with volume 0:"),
("code", """
candles.iloc[28:33][["open", "high", "low", "close", "volume", "trades"]]
"""),
("code", """
ax = candlestick(candles.iloc[:60], title="candles built from synthetic trades (first hour)")
"""),
("md", """
## 2. Gaps in real data

The shared Binance data has no missing minute, so we cut some out to see how gaps are found and
filled. Filled candles are flat at the previous close with volume 0 and marked in a `filled` column;
the evaluation skips every forecast whose window or horizon touches one.
"""),
("code", """
real = cu.load_candles(archive)
holed = real.drop(real.index[[100, 101, 102, 5000]]).drop(columns="filled")
report = cu.find_gaps(holed)
print(report)
report.gaps
"""),
("check", """
filled, rep = cu.fill_gaps(holed)
print(len(real), len(holed), len(filled), int(filled["filled"].sum()))
"""),
("md", """
## 3. Resampling

Coarser candles aggregate finer ones: first open, highest high, lowest low, last close, summed volume.
A bucket is kept only when all its minutes are present, so a half-formed last bucket never looks final.
"""),
("code", """
day = real.loc[real.index[0] : real.index[0] + pd.Timedelta(hours=12)]
fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
for ax, rule in zip(axes, ["5min", "15min", "1h"]):
    candlestick(cu.resample_candles(day, rule), ax, title=f"{archive.name}: {rule} candles")
fig.tight_layout()
"""),
("code", """
pd.DataFrame({rule: [len(cu.resample_candles(real, rule))] for rule in ["5min", "15min", "1h"]}, index=["candles"])
"""),
("md", "## 4. What this notebook wrote\n\nNothing: everything here stays in memory."),
("code", """
print("wrote: nothing (in-memory exploration)")
"""),
]

if __name__ == "__main__":
    only = sys.argv[1:]
    books = {"01-fetch-data": NB01, "02-build-candles": NB02, **NB03, **NB04, **NB05}
    for name, cells in books.items():
        if not only or name[:2] in only:
            make_notebook(cells, Path("notebooks") / f"{name}.ipynb")
            print("wrote", name)
