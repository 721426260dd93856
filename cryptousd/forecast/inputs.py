"""Per-candle model inputs beyond the five base features, for the research forecasters.

Each input is a column stamped on a candle that uses only that candle and earlier ones (trailing
windows, recursive averages), so a window's inputs never move when later candles change. An input
needs ``lookback`` earlier candles before its value is defined; earlier rows are NaN. Inputs that
read an optional candle column (``trades``, ``taker_buy``) are refused in one line when the candles
lack it: a source that cannot know the taker side (ccxt OHLCV, Yahoo) is never filled with zeros.

Every input is scale-free (returns, ratios, logs of ratios), so a model fitted on BTC reads ETH.

- base (:data:`cryptousd.forecast.features.FEATURES`): ``ret``, ``range``, ``logvol``, ``tod_sin``,
  ``tod_cos``
- ``ret_5``, ``ret_15``, ``ret_60``: log return over the last k minutes (close to close)
- ``rv_5``, ``rv_15``, ``rv_60``: realised volatility, sqrt of the sum of the last k squared
  one-minute log returns
- ``logvol_rel``: log volume against its trailing 60-minute mean (volume normalised in the window)
- ``rsi``: (Wilder RSI(14) - 50) / 50; ``macd_hist``: MACD(12, 26, 9) histogram / close, in bps;
  ``bb_pctb``: Bollinger(20, 2) %b - 0.5, 0 where 20 equal closes leave no band (EMA inputs
  carry a 300-candle lookback: a longer history changes them by less than 1e-6)
- ``taker_share``, ``taker_share_5``, ``taker_share_15``, ``taker_share_60``: taker-buy volume /
  volume over the last 1, 5, 15, 60 minutes, minus 0.5 (0 where nothing traded)
- ``trades_rel``: log(1 + trades) against its trailing 60-minute mean
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .features import FEATURES, candle_features


@dataclass(frozen=True)
class Input:
    fn: Callable[[pd.DataFrame], np.ndarray]
    lookback: int  # earlier candles needed before the value is defined
    needs: tuple[str, ...] = ()  # optional candle columns read


def _log_close(c: pd.DataFrame) -> np.ndarray:
    return np.log(c["close"].to_numpy("float64"))


def _ret1(c: pd.DataFrame) -> np.ndarray:
    lc = _log_close(c)
    return np.r_[np.nan, np.diff(lc)]


def _trailing_sum(x: np.ndarray, k: int) -> np.ndarray:
    """Sum of x[t-k+1 .. t] (NaN for the first k-1 rows); exact for k small (cumsum differences
    of float64 lose ~1e-12 relative over a year of minutes)."""
    out = np.full(len(x), np.nan)
    if len(x) >= k:
        cs = np.cumsum(np.r_[0.0, x])
        out[k - 1 :] = cs[k:] - cs[:-k]
    return out


def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    return _trailing_sum(x, k) / k


def _ret_k(k: int) -> Callable[[pd.DataFrame], np.ndarray]:
    def fn(c: pd.DataFrame) -> np.ndarray:
        lc = _log_close(c)
        out = np.full(len(lc), np.nan)
        out[k:] = lc[k:] - lc[:-k]
        return out

    return fn


def _rv_k(k: int) -> Callable[[pd.DataFrame], np.ndarray]:
    def fn(c: pd.DataFrame) -> np.ndarray:
        r = _ret1(c)
        return np.sqrt(np.maximum(_trailing_sum(np.nan_to_num(r) ** 2, k), 0.0)) * np.where(
            np.arange(len(r)) >= k, 1.0, np.nan
        )

    return fn


def _rel60(col: Callable[[pd.DataFrame], np.ndarray]) -> Callable[[pd.DataFrame], np.ndarray]:
    def fn(c: pd.DataFrame) -> np.ndarray:
        x = col(c)
        return x - _trailing_mean(x, 60)

    return fn


def _logvol(c: pd.DataFrame) -> np.ndarray:
    return np.log1p(c["volume"].to_numpy("float64"))


def _logtrades(c: pd.DataFrame) -> np.ndarray:
    return np.log1p(c["trades"].to_numpy("float64"))


def _taker_k(k: int) -> Callable[[pd.DataFrame], np.ndarray]:
    def fn(c: pd.DataFrame) -> np.ndarray:
        tb = c["taker_buy"].to_numpy("float64")
        v = c["volume"].to_numpy("float64")
        if k > 1:
            tb, v = _trailing_sum(tb, k), _trailing_sum(v, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(v > 0, tb / np.where(v > 0, v, 1.0) - 0.5, 0.0)
        return np.where(np.isnan(tb), np.nan, share)

    return fn


def _indicator(column: str) -> Callable[[pd.DataFrame], np.ndarray]:
    def fn(c: pd.DataFrame) -> np.ndarray:
        from ..indicators import bollinger, macd, rsi

        close = c["close"].astype("float64")
        if column == "rsi":
            return (rsi(close).to_numpy() - 50.0) / 50.0
        if column == "macd_hist":
            return macd(close)["hist"].to_numpy() / close.to_numpy() * 1e4
        bb = bollinger(close)
        flat = (bb["upper"] == bb["lower"]).to_numpy()  # 20 equal closes: the close is the mid
        return np.where(flat, 0.0, bb["pct_b"].to_numpy() - 0.5)

    return fn


INPUTS: dict[str, Input] = {
    **{f"ret_{k}": Input(_ret_k(k), k) for k in (5, 15, 60)},
    **{f"rv_{k}": Input(_rv_k(k), k) for k in (5, 15, 60)},
    "logvol_rel": Input(_rel60(_logvol), 59),
    "rsi": Input(_indicator("rsi"), 300),
    "macd_hist": Input(_indicator("macd_hist"), 300),
    "bb_pctb": Input(_indicator("bb_pctb"), 19),
    "taker_share": Input(_taker_k(1), 0, ("taker_buy",)),
    **{f"taker_share_{k}": Input(_taker_k(k), k - 1, ("taker_buy",)) for k in (5, 15, 60)},
    "trades_rel": Input(_rel60(_logtrades), 59, ("trades",)),
}
"""Every input beyond the base features, by name."""

ALL_INPUTS = tuple(FEATURES) + tuple(INPUTS)

#: inputs read from price and volume alone (any OHLCV source has them)
PRICE_INPUTS: tuple[str, ...] = (
    *FEATURES,
    "ret_5",
    "ret_15",
    "ret_60",
    "rv_5",
    "rv_15",
    "rv_60",
    "logvol_rel",
    "rsi",
    "macd_hist",
    "bb_pctb",
)
#: plus the order flow the Binance archives carry: taker-buy share and trade count
FLOW_INPUTS: tuple[str, ...] = (
    *PRICE_INPUTS,
    "taker_share",
    "taker_share_5",
    "taker_share_15",
    "taker_share_60",
    "trades_rel",
)


def lookback(names: Sequence[str]) -> int:
    """Earlier candles the named inputs need before their first defined value."""
    check_names(names)
    return max((INPUTS[n].lookback for n in names if n in INPUTS), default=0)


def check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in ALL_INPUTS]
    if unknown:
        raise DataError(f"unknown input(s) {', '.join(unknown)}; known: {', '.join(ALL_INPUTS)}")


def missing_columns(candles: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Optional candle columns the named inputs read that ``candles`` lack (or hold NaN in)."""
    need = {col for n in names if n in INPUTS for col in INPUTS[n].needs}
    return sorted(col for col in need if col not in candles.columns or candles[col].isna().any())


def input_matrix(candles: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """(N, len(names)) float64 inputs of every row of a one-minute candle frame, in order.

    Rows before an input's lookback are NaN. Refuses, in one line, inputs whose candle columns
    the frame lacks.
    """
    names = list(names)
    check_names(names)
    missing = missing_columns(candles, names)
    if missing:
        users = [n for n in names if n in INPUTS and set(INPUTS[n].needs) & set(missing)]
        raise DataError(
            f"input(s) {', '.join(users)} need the candle column(s) {', '.join(missing)}, "
            "which these candles lack or only partly have; load Binance archives "
            "(they carry trades and taker-buy volume) or use a model without these inputs"
        )
    out = np.empty((len(candles), len(names)))
    base = None
    for j, n in enumerate(names):
        if n in FEATURES:
            if base is None:
                base = candle_features(candles)
            out[:, j] = base[:, FEATURES.index(n)]
        else:
            out[:, j] = INPUTS[n].fn(candles)
    return out
