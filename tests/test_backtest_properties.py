"""Property-based tests of the backtest's invariants on random price paths (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptousd.evaluation.backtest import backtest_all, simulate

from .test_backtest import Scripted, frame

# one-minute moves of up to 20 %: a short over 3 minutes never loses more than its capital
STEP = st.floats(min_value=0.8, max_value=1.2, allow_nan=False)
BPS = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@st.composite
def path_and_signal(draw, min_periods=1, max_periods=40, sides=(-1, 0, 1)):
    n = draw(st.integers(min_periods, max_periods))
    prices = 100 * np.cumprod(draw(st.lists(STEP, min_size=n + 1, max_size=n + 1)))
    signal = np.array(draw(st.lists(st.sampled_from(sides), min_size=n, max_size=n)), "float64")
    return prices, signal


def by_the_book(prices, signal, cost) -> float:
    """Cash and coins, long or flat: buying keeps 1 - cost of the cash, selling 1 - cost."""
    cash, coins = 1.0, 0.0
    for p, pos in zip(prices[:-1], signal):
        if pos == 1 and coins == 0:
            cash, coins = 0.0, cash * (1 - cost) / p
        elif pos == 0 and coins > 0:
            cash, coins = coins * p * (1 - cost), 0.0
    return cash + coins * prices[-1] * (1 - cost)


@settings(max_examples=200, deadline=None)
@given(path_and_signal(), BPS, BPS)
def test_never_in_the_market_returns_exactly_zero(ps, fee, slip):
    prices, _ = ps
    net, equity, trades, costs = simulate(
        prices, np.zeros(len(prices) - 1), fee_bps=fee, slippage_bps=slip
    )
    assert (net == 0).all() and (equity == 1).all() and trades == 0 and costs == 0


@settings(max_examples=200, deadline=None)
@given(path_and_signal(), BPS, BPS)
def test_always_long_is_last_over_first_less_two_costs(ps, fee, slip):
    prices, _ = ps
    _, equity, trades, costs = simulate(
        prices, np.ones(len(prices) - 1), fee_bps=fee, slippage_bps=slip
    )
    c = (fee + slip) / 1e4
    assert equity[-1] == pytest.approx(prices[-1] / prices[0] * (1 - c) ** 2, rel=1e-9)
    assert trades == 1 and costs == pytest.approx(2 * c)


@settings(max_examples=300, deadline=None)
@given(path_and_signal(sides=(0, 1)), BPS)
def test_long_or_flat_matches_cash_and_coins_bookkeeping(ps, fee):
    prices, signal = ps
    _, equity, _, _ = simulate(prices, signal, fee_bps=fee, slippage_bps=0)
    assert equity[-1] == pytest.approx(by_the_book(prices, signal, fee / 1e4), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(path_and_signal(), BPS, BPS)
def test_costs_never_help(ps, fee, extra):
    prices, signal = ps
    _, cheap, _, _ = simulate(prices, signal, fee_bps=fee, slippage_bps=0)
    _, dear, _, _ = simulate(prices, signal, fee_bps=fee, slippage_bps=extra)
    assert dear[-1] <= cheap[-1] * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(path_and_signal(), st.booleans())
def test_a_short_is_the_mirror_of_a_long_without_costs(ps, _):
    prices, signal = ps
    long_net, *_ = simulate(prices, signal, fee_bps=0, slippage_bps=0)
    short_net, *_ = simulate(prices, -signal, fee_bps=0, slippage_bps=0)
    np.testing.assert_allclose(long_net, -short_net, atol=1e-12)


@st.composite
def candles_and_rule(draw):
    n = draw(st.integers(8, 60))
    close = 100 * np.cumprod(draw(st.lists(STEP, min_size=n, max_size=n)))
    values = draw(st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=n, max_size=n))
    hold = draw(st.integers(1, 3))
    return frame(close), np.array(values), hold


@settings(max_examples=100, deadline=None)
@given(candles_and_rule(), BPS, st.booleans())
def test_backtest_invariants_on_random_paths(cr, fee, staggered):
    c, values, hold = cr
    n = len(c)
    rules = {
        "rule": Scripted(values, 1, 3),
        "long": Scripted(np.ones(n), 1, 3),
        "never": Scripted(np.zeros(n), 1, 3),
    }
    rep = backtest_all(
        c, rules, fee_bps=fee, slippage_bps=0, hold=hold, staggered=staggered, allow_short=True
    )
    t = rep.table()
    assert t.loc["long", "total_return"] == pytest.approx(
        t.loc["buy_and_hold", "total_return"], rel=1e-12, abs=1e-12
    )
    assert t.loc["never", "total_return"] == 0.0 and t.loc["never", "costs"] == 0.0
    # positions never overlap: each account's periods follow one another
    close = c["close"].to_numpy()
    origins = np.arange(0, n - 3, 1 if staggered else hold)
    accounts = hold if staggered else 1
    finals = []
    for k in range(accounts):
        o = origins[k::accounts]
        assert (np.diff(o) == hold).all()
        prices, sig = close[np.r_[o, o[-1] + hold]], np.sign(values[o])
        if (sig >= 0).all():
            finals.append(by_the_book(prices, sig, fee / 1e4))
        else:
            finals.append(simulate(prices, sig, fee_bps=fee, slippage_bps=0)[1][-1])
    assert 1 + t.loc["rule", "total_return"] == pytest.approx(np.mean(finals), rel=1e-9)
    if not staggered:
        bh = close[origins[-1] + hold] / close[origins[0]] * (1 - fee / 1e4) ** 2 - 1
        assert t.loc["buy_and_hold", "total_return"] == pytest.approx(bh, rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(candles_and_rule(), BPS)
def test_staggered_with_hold_one_is_the_single_account(cr, fee):
    c, values, _ = cr
    rules = {"rule": Scripted(values, 1, 3)}
    one = backtest_all(c, rules, fee_bps=fee, hold=1).table()
    many = backtest_all(c, rules, fee_bps=fee, hold=1, staggered=True).table()
    np.testing.assert_allclose(
        one.to_numpy(float), many.to_numpy(float), rtol=1e-12, equal_nan=True
    )
