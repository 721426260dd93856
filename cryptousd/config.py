"""Every path and default of the project, in one place.

Paths are built from the package location, so they work from a notebook, the CLI or a test no
matter the working directory. Each can be overridden by an environment variable for unattended use.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CRYPTOUSD_DATA_DIR", PROJECT_ROOT / "data"))
STORE_DIR = DATA_DIR / "store"
MODELS_DIR = Path(os.environ.get("CRYPTOUSD_MODELS_DIR", PROJECT_ROOT / "models"))
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RUNS_DIR = PROJECT_ROOT / "runs"  # executed notebook copies (git-ignored)

# Real Binance data beside the project on the developers' and CI machines (not in a user's clone).
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
SHARED_BINANCE_DIR = SHARED_DATA_DIR / "binance" / "BTCUSDT-1m"

WINDOW = 60  # minutes the model reads
HORIZON = 10  # minutes it forecasts
INTERVAL = "1min"
INTERVAL_NS = 60_000_000_000
COVERAGE = 0.80  # default nominal coverage of prediction intervals

DEFAULT_SYMBOL = "BTC/USD"
DEFAULT_EXCHANGE = "coinbase"  # reachable from the US; Binance.com refuses US users
DEFAULT_YAHOO_TICKER = "BTC-USD"
DEFAULT_MODEL = (
    "lstm-direct-btcusdt-1m"  # tied with recursive on validation, 10x cheaper (card: selection)
)

OHLCV = ["open", "high", "low", "close", "volume"]
# Optional candle columns: kept where the source has them, absent (never zeros) where it has not
TRADES = "trades"  # number of trades in the candle (int64; float64 with NaN where partial)
TAKER_BUY = "taker_buy"  # base-asset volume bought by takers (float64, same unit as volume)
OPTIONAL_COLUMNS = (TRADES, TAKER_BUY)


def shared_archives() -> list[Path]:
    """The shared Binance monthly archives, oldest first (empty when ../shared is absent)."""
    return sorted(SHARED_BINANCE_DIR.glob("BTCUSDT-1m-*.zip"))


# a replay plays this many market minutes per wall second unless told otherwise: one candle a
# second, so each redraw moves the chart on by one candle and the offline demo reads like a live
# chart (at x60 every second replaced an hour of it); a pass of the 7-day sample takes 2.8 hours
REPLAY_SPEED = 1.0
