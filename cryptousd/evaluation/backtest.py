"""A vectorised trading backtest of forecasts, with fees and slippage. Positions never overlap.

Rule: at an origin go long when the forecast return over ``hold`` minutes exceeds the round-trip
cost plus a margin; with ``allow_short`` go short when it is below minus that threshold; otherwise
stay flat. A position opens at the origin's close and closes ``hold`` minutes later, so one
*period* of the backtest is exactly ``hold`` minutes and the next period starts where it ends.
There is no separate stride: ``hold`` alone sets the spacing of the origins.

Two ways to run it (``staggered``, ``--every-minute`` on the command line):

- ``staggered=False`` (default): one account trades the origins ``hold`` minutes apart.
- ``staggered=True``: every minute's forecast is traded by a portfolio of ``hold`` sub-accounts,
  each started with ``1/hold`` of the capital and never rebalanced; sub-account ``k`` trades the
  origins ``k, k + hold, k + 2 hold, ...`` minutes after the first, so each sub-account's
  positions never overlap while the portfolio acts on every minute. The portfolio's equity is the
  sum of the sub-accounts' equities (each marked at its period ends).

Costs (fee + slippage, per side) are charged on the capital that trades, multiplicatively: entering
leaves ``1 - c`` of the capital invested, exiting keeps ``1 - c`` of its value, a flip from long to
short pays both sides. Holding the same side across consecutive periods of one account costs
nothing extra, so buy-and-hold over a range returns ``last / first * (1 - c)**2 - 1`` exactly.
Origins whose window or horizon touches a gap are skipped (those periods are not traded). Sharpe
ratios are annualised from non-overlapping ``hold``-minute returns of the whole account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import HORIZON
from ..errors import DataError, ModelError
from ..forecast.features import series_arrays
from ..forecast.inputs import lookback
from .evaluate import inputs_of, valid_origins

MINUTES_PER_YEAR = 365 * 24 * 60


@dataclass
class BacktestResult:
    """One rule's backtest.

    ``positions`` and ``period_returns`` hold one entry per period of every (sub-)account, in
    origin order; ``period_returns`` are net simple returns on the capital that period used.
    ``account_returns`` are the whole account's returns over consecutive ``hold``-minute steps.
    """

    name: str
    equity: pd.Series  # growth of 1 unit of capital, at the close of each period
    positions: np.ndarray  # -1, 0, +1 per period
    period_returns: np.ndarray  # net simple return per period
    trades: int
    fees_paid: float  # per-side cost fractions charged, weighted by each account's capital share
    hold: int
    staggered: bool = False
    account_returns: np.ndarray | None = None  # non-overlapping hold-minute returns (Sharpe)
    sides: float = 0.0  # position changes in units (entry 1, flip 2), final exits not counted
    threshold_bps: float = math.nan  # the forecast return a trade needs (round trip + margin)
    largest_move_bps: float = math.nan  # the largest forecast return (either way when shorting)
    short: bool = False
    threshold_is: str = "the round-trip cost"  # what the threshold is made of

    def why_no_trades(self) -> str | None:
        """One sentence saying why a rule never traded (None when it traded, or has no rule)."""
        if self.trades or math.isnan(self.threshold_bps):
            return None
        largest = (
            f"move either way was {abs(self.largest_move_bps):.3g} bps"
            if self.short
            else f"move was {self.largest_move_bps:+.3g} bps"
        )
        return (
            f"{self.name}: no forecast cleared {self.threshold_is} of {self.threshold_bps:g} bps; "
            f"the largest forecast {self.hold}-minute {largest}"
        )

    def stats(self) -> dict:
        """Total return, annualised Sharpe, max drawdown, hit rate, turnover, trades, exposure."""
        r = self.period_returns
        acc = self.account_returns if self.account_returns is not None else r
        eq = self.equity.to_numpy()
        total = float(eq[-1] - 1) if len(eq) else 0.0
        periods_per_year = MINUTES_PER_YEAR / self.hold
        sd = acc.std() if len(acc) else 0.0
        sharpe = float(acc.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else 0.0
        peak = np.maximum.accumulate(np.r_[1.0, eq])
        drawdown = float(np.max(1 - np.r_[1.0, eq] / peak))
        active = self.positions != 0
        hit = float((r[active] > 0).mean()) if active.any() else math.nan
        turnover = float(self.sides / max(len(self.positions), 1))
        return {
            "total_return": total,
            "sharpe": sharpe,
            "max_drawdown": drawdown,
            "hit_rate": hit,
            "turnover": turnover,
            "trades": int(self.trades),
            "exposure": float(active.mean()),
            "costs": float(self.fees_paid),
        }


def simulate(
    prices: np.ndarray, signal: np.ndarray, *, fee_bps: float = 10.0, slippage_bps: float = 1.0
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """One account holding ``signal[i]`` (-1/0/+1) from ``prices[i]`` to ``prices[i+1]``.

    Parameters
    ----------
    prices : (n + 1,) prices at the period boundaries.
    signal : (n,) position in each period.
    fee_bps, slippage_bps : cost per side, in basis points of the capital that trades.

    Returns
    -------
    (net period returns, equity after each period, number of trades, total cost fraction).
    A trade is any change of position (flat to long is one, long to short is two sides). The
    cost of a change is charged in the period it opens, ``(1 - c) ** sides``; whatever is open
    at the end is closed after the last period.
    """
    prices = np.asarray(prices, dtype="float64")
    pos = np.asarray(signal, dtype="float64")
    if len(prices) != len(pos) + 1:
        raise DataError(
            f"simulate needs one more price than positions (got {len(prices)} and "
            f"{len(pos)}); pass the prices at every period boundary"
        )
    gross = pos * (prices[1:] / prices[:-1] - 1)
    sides = np.abs(np.diff(np.r_[0.0, pos, 0.0]))  # entering, flipping, and the final exit
    keep = 1 - (fee_bps + slippage_bps) / 1e4
    factor = keep ** sides[:-1]
    if len(factor):
        factor[-1] *= keep ** sides[-1]  # close whatever is open at the end
    net = factor * (1 + gross) - 1
    equity = np.cumprod(1 + net)
    trades = int(np.count_nonzero(np.diff(np.r_[0.0, pos]) != 0))
    return net, equity, trades, float(sides.sum() * (1 - keep))


def signals_from_forecast(
    pred_return: np.ndarray,
    *,
    fee_bps: float,
    slippage_bps: float,
    margin_bps: float = 0.0,
    allow_short: bool = False,
) -> np.ndarray:
    """Long when the forecast return clears the round-trip cost (+ margin); short likewise."""
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

    def notes(self) -> dict[str, str]:
        """Names to one sentence each, for the rules that never traded (why not)."""
        why = {k: r.why_no_trades() for k, r in self.results.items()}
        return {k: w for k, w in why.items() if w}

    def to_dict(self) -> dict:
        return {
            "start": str(self.start),
            "end": str(self.end),
            "fee_bps": self.fee_bps,
            "slippage_bps": self.slippage_bps,
            "hold_minutes": self.hold,
            "results": {k: r.stats() for k, r in self.results.items()},
            "notes": self.notes(),
            **self.extra,
        }


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
    staggered: bool = False,
    forecasts: dict | None = None,
    input_cache: dict | None = None,
) -> BacktestReport:
    """Backtest each forecaster's rule and buy-and-hold on the same periods.

    Parameters
    ----------
    candles : one-minute candles.
    forecasters : names to forecasters (same window and horizon).
    start, end : first origin and end of the range (UTC, ``end`` exclusive).
    fee_bps, slippage_bps : cost per side in basis points.
    hold : minutes each position is held, which is also the length of a period (1..horizon).
    allow_short, margin_bps : the trading rule, see :func:`signals_from_forecast`.
    staggered : trade every minute's forecast through ``hold`` sub-accounts, each with
        ``1/hold`` of the capital (see the module docstring); buy-and-hold goes through the
        same sub-accounts so every row is comparable.
    forecasts : e.g. ``Evaluation.predictions``, names to (origins, mean cumulative log returns)
        already computed on the same candles; reused wherever they cover the origins (inputs are
        then not computed at all).
    input_cache : see :func:`cryptousd.evaluation.evaluate.walk_forward`.
    """
    if fee_bps < 0 or slippage_bps < 0:
        raise DataError("fees and slippage are costs: give them as non-negative basis points")
    f0 = next(iter(forecasters.values()))
    if int(hold) != hold or hold < 1:
        raise DataError(
            f"hold {hold}: positions are held a whole, positive number of minutes; "
            f"give hold between 1 and {f0.horizon}"
        )
    hold = int(hold)
    if hold > f0.horizon:
        raise ModelError(
            f"hold {hold}: the forecasters forecast {f0.horizon} minutes; "
            f"hold between 1 and {f0.horizon}"
        )
    spacing = 1 if staggered else hold
    extra = max(lookback(f.inputs) for f in forecasters.values())  # rows before a window
    origins, skipped = valid_origins(candles, f0.window + extra, f0.horizon, spacing, start, end)
    if len(origins) < 2:
        raise DataError("too few periods to backtest; widen the range")
    accounts = hold if staggered else 1
    arr = series_arrays(candles)
    close = arr.close
    input_cache = {} if input_cache is None else input_cache
    results = {}
    costs = {"fee_bps": fee_bps, "slippage_bps": slippage_bps}
    for name, f in forecasters.items():
        mean = _reuse(forecasts, name, origins)
        if mean is None:
            feats = inputs_of(candles, {name: f}, arr.feats, input_cache)[name]
            mean = f.predict_origins(feats, arr.logc, arr.times, origins)
        move = np.expm1(mean[:, hold - 1])
        sig = signals_from_forecast(move, margin_bps=margin_bps, allow_short=allow_short, **costs)
        results[name] = _run(name, close, origins, sig, candles.index, hold, accounts, **costs)
        results[name].threshold_bps = 2 * (fee_bps + slippage_bps) + margin_bps
        results[name].largest_move_bps = 1e4 * float(
            np.abs(move).max() if allow_short else move.max()
        )
        results[name].short = bool(allow_short)
        if margin_bps:
            results[name].threshold_is = "the round-trip cost plus the margin"
    results["buy_and_hold"] = _run(
        "buy_and_hold",
        close,
        origins,
        np.ones(len(origins)),
        candles.index,
        hold,
        accounts,
        **costs,
    )
    method = (
        f"{hold} staggered sub-accounts, each 1/{hold} of the capital, trading every minute"
        if staggered
        else f"one account, positions of {hold} minutes back to back"
    )
    return BacktestReport(
        results,
        fee_bps,
        slippage_bps,
        hold,
        candles.index[origins[0]],
        candles.index[origins[-1] + hold],
        {
            "periods": len(origins),
            "skipped": skipped,
            "staggered": bool(staggered),
            "method": method,
        },
    )


def _reuse(forecasts: dict | None, name: str, origins: np.ndarray) -> np.ndarray | None:
    """Rows of precomputed forecasts at ``origins``, or None when they do not cover them all."""
    if not forecasts or name not in forecasts:
        return None
    known, mean = forecasts[name]
    idx = np.searchsorted(known, origins)
    covered = np.array_equal(known[np.minimum(idx, len(known) - 1)], origins)
    if idx.max(initial=0) >= len(known) or not covered:
        return None
    return mean[idx]


def _run(
    name: str,
    close: np.ndarray,
    origins: np.ndarray,
    sig: np.ndarray,
    index: pd.Index,
    hold: int,
    accounts: int,
    *,
    fee_bps: float,
    slippage_bps: float,
) -> BacktestResult:
    """Chain each account's periods (origin to origin + hold) and sum the accounts' equity."""
    exit_ = origins + hold
    account = (origins - origins[0]) % hold if accounts > 1 else np.zeros(len(origins), int)
    net = np.empty(len(origins))
    each = np.full((len(origins), accounts), np.nan)  # each account's equity after each period
    trades, fees, sides = 0, 0.0, 0.0
    for k in range(accounts):
        m = account == k
        if not m.any():
            continue
        # an account's periods are contiguous, so their ratios chain into one price path
        prices = np.r_[1.0, np.cumprod(close[exit_[m]] / close[origins[m]])]
        net[m], each[m, k], t, c = simulate(
            prices, sig[m], fee_bps=fee_bps, slippage_bps=slippage_bps
        )
        trades += t
        fees += c / accounts
        sides += float(np.abs(np.diff(np.r_[0.0, sig[m]])).sum())
    # carry each account's last equity forward; an account that has not traded yet holds 1
    each = pd.DataFrame(each).ffill().fillna(1.0).to_numpy()
    equity = each.mean(axis=1)
    step = np.r_[1.0, equity[accounts - 1 :: accounts]]
    return BacktestResult(
        name,
        pd.Series(equity, index=index[exit_], name=name),
        sig.astype(int),
        net,
        trades,
        fees,
        hold,
        accounts > 1,
        step[1:] / step[:-1] - 1,
        sides,
    )
