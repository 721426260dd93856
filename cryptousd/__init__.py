"""CryptoUSD: learn, research and watch short-term crypto forecasting (BTC/USD and any market).

The names most notebooks need are importable from here; nothing here imports TensorFlow.
"""

from . import markets
from .config import DEFAULT_MODEL, HORIZON, WINDOW
from .data import locate
from .data.candle_files import load_candles
from .data.candle_store import CandleStore
from .data.candles import (
    GapReport,
    build_candles,
    fill_gaps,
    find_gaps,
    resample_candles,
    validate_candles,
)
from .data.locate import DataLocation, locate_candles
from .errors import (
    BadReply,
    CryptoUSDError,
    DataError,
    ModelError,
    RateLimitError,
    RegionBlocked,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
)
from .forecast import Forecast, Forecaster, load_baselines, load_forecaster, load_model

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "HORIZON",
    "WINDOW",
    "BadReply",
    "CandleStore",
    "CryptoUSDError",
    "DataError",
    "DataLocation",
    "Forecast",
    "Forecaster",
    "GapReport",
    "ModelError",
    "RateLimitError",
    "RegionBlocked",
    "SourceError",
    "SourceTimeout",
    "SourceUnavailable",
    "build_candles",
    "fill_gaps",
    "find_gaps",
    "load_baselines",
    "load_candles",
    "load_forecaster",
    "load_model",
    "locate",
    "locate_candles",
    "markets",
    "resample_candles",
    "validate_candles",
]
