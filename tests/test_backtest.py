"""The backtest: P&L with fees on a hand-computed sequence, and the rule against the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, ModelError
from cryptousd.backtest import backtest_all, signals_from_forecast, simulate
from cryptousd.forecast import Persistence

from .test_evaluate import Leaky, calibrated


def test_pnl_on_a_hand_computed_sequence_with_fees():
    prices = np.array([100.0, 110.0, 99.0, 99.0, 108.9])
    pos = np.array([1, 1, 0, 1])  # long, long, flat, long
    net, equity, trades, costs = simulate(prices, pos, fee_bps=10, slippage_bps=0)
    # period 1: +10 % minus entry fee 0.1 %; period 2: -10 %; period 3: flat but pay the exit;
    # period 4: re-enter (fee) and +10 %, then the final exit (fee)
    np.testing.assert_allclose(net, [0.10 - 0.001, -0.10, -0.001, 0.10 - 0.002])
    assert trades == 3 and costs == pytest.approx(0.004)
    np.testing.assert_allclose(equity[-1], (1.099) * 0.9 * 0.999 * 1.098)


def test_threshold_must_clear_round_trip_costs():
    pred = np.array([0.0005, 0.0025, -0.003])
    assert signals_from_forecast(pred, fee_bps=10, slippage_bps=1).tolist() == [0, 1, 0]
    assert signals_from_forecast(pred, fee_bps=10, slippage_bps=1, allow_short=True).tolist() == [0, 1, -1]


def test_backtest_reports_every_rule_and_buy_and_hold(candles):
    (p,) = calibrated(candles.iloc[:2000], Persistence())
    rep = backtest_all(candles, {"persistence": p, "leaky": Leaky()}, start=candles.index[2000], fee_bps=5)
    t = rep.table()
    assert set(t.index) == {"persistence", "leaky", "buy_and_hold"}
    assert t.loc["persistence", "trades"] == 0 and t.loc["persistence", "total_return"] == 0
    assert t.loc["leaky", "total_return"] > 0.1 and t.loc["leaky", "hit_rate"] > 0.95  # the future pays
    assert t.loc["buy_and_hold", "trades"] == 1
    eq = rep.equity()
    assert eq.index.is_monotonic_increasing and (eq.index[1:] - eq.index[:-1] == pd.Timedelta("10min")).all()
    # with costs high enough, even perfect foresight trades less
    rich = backtest_all(candles, {"leaky": Leaky()}, start=candles.index[2000], fee_bps=200).table()
    assert rich.loc["leaky", "trades"] < t.loc["leaky", "trades"]


def test_buy_and_hold_pays_one_entry_and_one_exit(candles):
    (p,) = calibrated(candles.iloc[:2000], Persistence())
    rep = backtest_all(candles, {"persistence": p}, start=candles.index[2000], fee_bps=10, slippage_bps=0)
    bh = rep.results["buy_and_hold"]
    first = candles.index.get_loc(rep.start)
    closes = candles["close"].to_numpy()[first : first + 10 * len(bh.period_returns) + 1 : 10]
    g = closes[1:] / closes[:-1] - 1
    g[0] -= 0.001
    g[-1] -= 0.001
    assert bh.equity.iloc[-1] == pytest.approx(np.prod(1 + g), rel=1e-12)
    assert bh.trades == 1 and bh.fees_paid == pytest.approx(0.002)


def test_bad_backtest_requests(candles):
    with pytest.raises(DataError, match="non-negative"):
        backtest_all(candles, {"p": Persistence()}, fee_bps=-1)
    with pytest.raises(ModelError, match="hold between 1 and 10"):
        backtest_all(candles, {"p": Persistence()}, hold=11)


def test_forecasts_from_an_evaluation_are_reused_and_give_the_same_result(candles):
    from cryptousd.evaluate import walk_forward

    (p,) = calibrated(candles.iloc[:2000], Persistence())
    forecasters = {"persistence": p, "leaky": Leaky()}
    ev = walk_forward(candles, forecasters, start=candles.index[2000])
    fresh = backtest_all(candles, forecasters, start=candles.index[2000]).table()

    class Refuses(Leaky):
        def predict_origins(self, *a, **k):
            raise AssertionError("should have reused the evaluation's forecasts")

    reused = backtest_all(candles, {"persistence": p, "leaky": Refuses()}, start=candles.index[2000],
                          forecasts=ev.predictions).table()
    pd.testing.assert_frame_equal(fresh, reused)
