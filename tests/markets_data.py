"""Other markets' minute files, built from the real BTC sample by one documented transformation.

No real minutes of any market but BTC/USDT exist offline, so tests of "any market end to end"
run on files derived from the bundled sample (``cryptousd/sample``), written in the archive's own
format (a zip holding one header-less 12-column CSV, microsecond timestamps) under the market's
archive name, so the code under test reads them exactly as it reads a downloaded month.

The transformation, per candle, with ``p`` a BTC price and ``p0`` the sample's first close::

    price  = first_close * (p / p0) ** beta        (open, high, low, close)
    volume = btc_volume * p / price                (the same dollar volume)

A power of a positive price keeps its order, so high >= max(open, close) >= min(open, close) >= low
still holds; log returns are ``beta`` times BTC's, so ``beta != 1`` makes a market whose
returns differ from BTC's while staying real-shaped (gaps, volatility clusters, trading hours).

- :func:`eth_like`: ETH/USDT-like: ``beta = 1.2`` (ETH moved about 1.2x BTC in 2024-25),
  first close 2,000.
- :func:`tiny_price`: a market whose price is 1e-4 of BTC's (``beta = 1``, about 8.7): prices
  that small test every place a price is printed, rounded or given a tolerance.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.markets import Market

COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy",
    "taker_buy_quote",
    "ignore",
]
PRICES = ["open", "high", "low", "close"]


def read_sample() -> pd.DataFrame:
    with zipfile.ZipFile(SAMPLE_FILE) as z, z.open(z.namelist()[0]) as f:
        return pd.read_csv(f, header=None, names=COLUMNS)


def derived_market(
    dest: Path, market: str, *, beta: float, first_close: float, rows: int | None = None
) -> Path:
    """Write ``<BASEQUOTE>-1m-2025-03-25_31.zip`` in ``dest``: the sample moved to ``market`` by
    the transformation above (``rows``: only the first that many minutes). Returns its path."""
    m = Market.parse(market)
    raw = read_sample()
    if rows is not None:
        raw = raw.iloc[:rows]
    p0 = float(raw["close"].iloc[0])
    out = raw.copy()
    for col in PRICES:
        out[col] = first_close * (raw[col] / p0) ** beta
    dollars = raw["close"] / out["close"]  # BTC per unit of the new market's price
    for col in ("volume", "taker_buy"):
        out[col] = raw[col] * dollars
    # quote volumes (dollars) stay as they are: the same money traded
    decimals = max(2, int(np.ceil(-np.log10(first_close))) + 6)
    text = out.to_csv(header=False, index=False, float_format=f"%.{decimals}f")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / m.archive_name("2025-03-25_31")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(path.with_suffix(".csv").name, text)
    return path


def eth_like(dest: Path, rows: int | None = None) -> Path:
    return derived_market(dest, "ETH/USDT", beta=1.2, first_close=2000.0, rows=rows)


def tiny_price(dest: Path, rows: int | None = None) -> Path:
    """``TINY/USDT``: BTC's prices times 1e-4 (about 8.74 USDT)."""
    raw_first = float(read_sample()["close"].iloc[0])
    return derived_market(dest, "TINY/USDT", beta=1.0, first_close=raw_first * 1e-4, rows=rows)
