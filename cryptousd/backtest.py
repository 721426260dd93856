"""A vectorised trading backtest of forecasts, with fees and slippage.

Rule: at each origin (every ``hold`` minutes, so positions never overlap) go long when the forecast
return over ``hold`` minutes exceeds the round-trip cost plus a margin; with ``allow_short`` go short
when it is below minus that threshold; otherwise stay flat. A position opens at the origin's close
and closes ``hold`` minutes later. Costs (fee + slippage, per side) are charged whenever the
position changes, so holding the same side across consecutive periods costs nothing extra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .times import index_ns
from .config import HORIZON
from .errors import DataError, ModelError
from .evaluate import valid_origins
from .features import candle_features

MINUTES_PER_YEAR = 365 * 24 * 60


@dataclass
class BacktestResult:
    name: str
    equity: pd.Series  # growth of 1 unit, indexed by the close time of each period
    positions: np.ndarray  # -1, 0, +1 per period
    period_returns: np.ndarray  # net simple return per period
    trades: int
    fees_paid: float  # sum of cost fractions
    hold: int

    def stats(self) -> dict:
        r = self.period_returns
        eq = self.equity.to_numpy()
        total = float(eq[-1] - 1) if len(eq) else 0.0
        periods_per_year = MINUTES_PER_YEAR / self.hold
        sd = r.std()
        sharpe = float(r.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else 0.0
        peak = np.maximum.accumulate(np.r_[1.0, eq])
        drawdown = float(np.max(1 - np.r_[1.0, eq] / peak))
        active = self.positions != 0
        hit = float((r[active] > 0).mean()) if active.any() else math.nan
        turnover = float(np.abs(np.diff(np.r_[0, self.positions])).sum() / max(len(self.positions), 1))
        return {"total_return": total, "sharpe": sharpe, "max_drawdown": drawdown, "hit_rate": hit,
                "turnover": turnover, "trades": int(self.trades), "exposure": float(active.mean()),
                "costs": float(self.fees_paid)}


def simulate(
    prices: np.ndarray, signal: np.ndarray, *, fee_bps: float = 10.0, slippage_bps: float = 1.0
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Positions ``signal[i]`` (-1/0/+1) held from ``prices[i]`` to ``prices[i+1]``.

    Returns (net period returns, equity after each period, number of trades, total cost fraction).
    A trade is any change of position (flat to long is one, long to short is two sides).
    """
    prices = np.asarray(prices, dtype="float64")
    pos = np.asarray(signal, dtype="float64")
    if len(prices) != len(pos) + 1:
        raise DataError("simulate needs one more price than positions")
    gross = pos * (prices[1:] / prices[:-1] - 1)
    sides = np.abs(np.diff(np.r_[0.0, pos, 0.0]))  # entering, flipping, and the final exit
    cost_per_side = (fee_bps + slippage_bps) / 1e4
    cost = sides[:-1] * cost_per_side
    cost[-1] += sides[-1] * cost_per_side  # close whatever is open at the end
    net = gross - cost
    equity = np.cumprod(1 + net)
    trades = int(np.count_nonzero(np.diff(np.r_[0.0, pos]) != 0))
    return net, equity, trades, float(cost.sum())


def signals_from_forecast(pred_return: np.ndarray, *, fee_bps: float, slippage_bps: float, margin_bps: float = 0.0,
                          allow_short: bool = False) -> np.ndarray:
    """Long when the forecast return clears the round-trip cost (+ margin); short likewise if allowed."""
    threshold = 2 * (fee_bps + slippage_bps + margin_bps / 2) / 1e4
    sig = (pred_return > threshold).astype("float64")
    if allow_short:
        sig -= (pred_return < -threshold).astype("float64")
    return sig


@dataclass
class BacktestReport:
    results: dict[str, BacktestResult]
    fee_bps: float
    slippage_bps: float
    hold: int
    start: pd.Timestamp
    end: pd.Timestamp
    extra: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({k: r.stats() for k, r in self.results.items()}).T

    def equity(self) -> pd.DataFrame:
        return pd.DataFrame({k: r.equity for k, r in self.results.items()})

    def to_dict(self) -> dict:
        return {"start": str(self.start), "end": str(self.end), "fee_bps": self.fee_bps, "slippage_bps": self.slippage_bps,
                "hold_minutes": self.hold, "results": {k: r.stats() for k, r in self.results.items()}, **self.extra}


def backtest_all(
    candles: pd.DataFrame,
    forecasters: dict,
    *,
    start=None,
    end=None,
    fee_bps: float = 10.0,
    slippage_bps: float = 1.0,
    hold: int = HORIZON,
    allow_short: bool = False,
    margin_bps: float = 0.0,
    stride: int | None = None,
    forecasts: dict | None = None,
) -> BacktestReport:
    """Backtest each forecaster's rule and buy-and-hold on the same periods.

    ``forecasts`` (e.g. ``Evaluation.predictions``) maps names to (origins, mean cumulative log
    returns) already computed on the same candles; they are reused wherever they cover the periods.
    """
    if fee_bps < 0 or slippage_bps < 0:
        raise DataError("fees and slippage are costs: give them as non-negative basis points")
    f0 = next(iter(forecasters.values()))
    if not 1 <= hold <= f0.horizon:
        raise ModelError(f"hold {hold}: the forecasters forecast {f0.horizon} minutes; hold between 1 and {f0.horizon}")
    origins, skipped = valid_origins(candles, f0.window, f0.horizon, stride or hold, start, end)
    if len(origins) < 2:
        raise DataError("too few periods to backtest; widen the range")
    close = candles["close"].to_numpy("float64")
    # periods: from origin to origin + hold; origins spaced `hold` apart chain into one path
    feats = candle_features(candles)
    logc = np.log(close)
    times = index_ns(candles.index)
    results = {}
    exit_ = origins + hold
    for name, f in forecasters.items():
        mean = _reuse(forecasts, name, origins)
        if mean is None:
            mean = f.predict_origins(feats, logc, times, origins)
        mean = mean[:, hold - 1]
        sig = signals_from_forecast(np.expm1(mean), fee_bps=fee_bps, slippage_bps=slippage_bps, margin_bps=margin_bps,
                                    allow_short=allow_short)
        results[name] = _result(name, close, origins, exit_, sig, candles.index, fee_bps, slippage_bps, hold)
    results["buy_and_hold"] = _result("buy_and_hold", close, origins, exit_, np.ones(len(origins)), candles.index,
                                      fee_bps, slippage_bps, hold)
    return BacktestReport(results, fee_bps, slippage_bps, hold, candles.index[origins[0]], candles.index[exit_[-1]],
                          {"periods": int(len(origins)), "skipped": skipped})


def _reuse(forecasts: dict | None, name: str, origins: np.ndarray) -> np.ndarray | None:
    """Rows of precomputed forecasts at ``origins``, or None when they do not cover them all."""
    if not forecasts or name not in forecasts:
        return None
    known, mean = forecasts[name]
    idx = np.searchsorted(known, origins)
    if idx.max(initial=0) >= len(known) or not np.array_equal(known[np.minimum(idx, len(known) - 1)], origins):
        return None
    return mean[idx]


def _result(name, close, origins, exit_, sig, index, fee_bps, slippage_bps, hold) -> BacktestResult:
    # each period's return is close[exit]/close[origin] - 1; contiguous when origins are `hold` apart
    gross_ratio = close[exit_] / close[origins]
    prices = np.r_[1.0, np.cumprod(gross_ratio)]  # a synthetic price path over the chained periods
    net, equity, trades, costs = simulate(prices, sig, fee_bps=fee_bps, slippage_bps=slippage_bps)
    return BacktestResult(name, pd.Series(equity, index=index[exit_], name=name), sig.astype(int), net, trades, costs, hold)
