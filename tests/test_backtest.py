"""The backtest: P&L with fees on a hand-computed sequence, and the rule against the baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryptousd import DataError, ModelError
from cryptousd.evaluation.backtest import backtest_all, signals_from_forecast, simulate
from cryptousd.forecast import Forecaster, Persistence

from .test_evaluate import Leaky, calibrated


def test_pnl_on_a_hand_computed_sequence_with_fees():
    prices = np.array([100.0, 110.0, 99.0, 99.0, 108.9])
    pos = np.array([1, 1, 0, 1])  # long, long, flat, long
    net, equity, trades, costs = simulate(prices, pos, fee_bps=10, slippage_bps=0)
    # period 1: +10 % minus entry fee 0.1 %; period 2: -10 %; period 3: flat but pay the exit;
    # period 4: re-enter (fee) and +10 %, then the final exit (fee)
    # costs are multiplicative: entering keeps 0.999 of the capital, exiting 0.999 of its value
    np.testing.assert_allclose(net, [0.999 * 1.1 - 1, -0.10, -0.001, 0.999**2 * 1.1 - 1])
    assert trades == 3 and costs == pytest.approx(0.004)
    np.testing.assert_allclose(equity[-1], 0.999 * 1.1 * 0.9 * 0.999 * 0.999**2 * 1.1)


def test_threshold_must_clear_round_trip_costs():
    pred = np.array([0.0005, 0.0025, -0.003])
    assert signals_from_forecast(pred, fee_bps=10, slippage_bps=1).tolist() == [0, 1, 0]
    assert signals_from_forecast(pred, fee_bps=10, slippage_bps=1, allow_short=True).tolist() == [
        0,
        1,
        -1,
    ]


def test_backtest_reports_every_rule_and_buy_and_hold(candles):
    (p,) = calibrated(candles.iloc[:2000], Persistence())
    rep = backtest_all(
        candles, {"persistence": p, "leaky": Leaky()}, start=candles.index[2000], fee_bps=5
    )
    t = rep.table()
    assert set(t.index) == {"persistence", "leaky", "buy_and_hold"}
    assert t.loc["persistence", "trades"] == 0 and t.loc["persistence", "total_return"] == 0
    assert (
        t.loc["leaky", "total_return"] > 0.1 and t.loc["leaky", "hit_rate"] > 0.95
    )  # the future pays
    assert t.loc["buy_and_hold", "trades"] == 1
    eq = rep.equity()
    assert (
        eq.index.is_monotonic_increasing
        and (eq.index[1:] - eq.index[:-1] == pd.Timedelta("10min")).all()
    )
    # with costs high enough, even perfect foresight trades less
    rich = backtest_all(candles, {"leaky": Leaky()}, start=candles.index[2000], fee_bps=200).table()
    assert rich.loc["leaky", "trades"] < t.loc["leaky", "trades"]


@pytest.mark.parametrize("short", [False, True])
def test_a_rule_that_never_trades_says_why(candles, short):
    (p,) = calibrated(candles.iloc[:2000], Persistence())
    fs = {"persistence": p, "leaky": Leaky()}
    rep = backtest_all(candles, fs, start=candles.index[2000], fee_bps=2000, allow_short=short)
    # the leak forecasts each period's own move (+1e-6 in log terms); no move reaches 40 %
    eq = rep.results["leaky"].equity
    close = candles["close"]
    moves = close[eq.index].to_numpy() / close[eq.index - pd.Timedelta("10min")].to_numpy() - 1
    largest = 1e4 * (np.abs(moves).max() if short else moves.max())
    assert rep.results["leaky"].largest_move_bps == pytest.approx(largest, abs=0.02)
    either = " either way" if short else ""
    shown = f"{largest:.3g}" if short else f"{largest:+.3g}"
    assert rep.notes() == {
        "persistence": "persistence: no forecast cleared the round-trip cost of 4002 bps; "
        f"the largest forecast 10-minute move{either} was {'0' if short else '+0'} bps",
        "leaky": "leaky: no forecast cleared the round-trip cost of 4002 bps; "
        f"the largest forecast 10-minute move{either} was {shown} bps",
    }
    assert rep.to_dict()["notes"] == rep.notes()
    # at a cost the leak clears, it trades and nothing needs saying about it
    cheap = backtest_all(candles, fs, start=candles.index[2000], fee_bps=5, margin_bps=1)
    assert set(cheap.notes()) == {"persistence"}
    assert "round-trip cost plus the margin of 13 bps" in cheap.notes()["persistence"]


def test_buy_and_hold_pays_one_entry_and_one_exit(candles):
    (p,) = calibrated(candles.iloc[:2000], Persistence())
    rep = backtest_all(
        candles, {"persistence": p}, start=candles.index[2000], fee_bps=10, slippage_bps=0
    )
    bh = rep.results["buy_and_hold"]
    first = candles.index.get_loc(rep.start)
    closes = candles["close"].to_numpy()[first : first + 10 * len(bh.period_returns) + 1 : 10]
    assert bh.equity.iloc[-1] == pytest.approx(closes[-1] / closes[0] * 0.999**2, rel=1e-12)
    assert bh.trades == 1 and bh.fees_paid == pytest.approx(0.002)


def test_bad_backtest_requests(candles):
    with pytest.raises(DataError, match="non-negative"):
        backtest_all(candles, {"p": Persistence()}, fee_bps=-1)
    with pytest.raises(ModelError, match="hold between 1 and 10"):
        backtest_all(candles, {"p": Persistence()}, hold=11)
    with pytest.raises(DataError, match="hold 0: .* positive"):
        backtest_all(candles, {"p": Persistence()}, hold=0)
    with pytest.raises(TypeError):  # no stride: hold alone sets the periods
        backtest_all(candles, {"p": Persistence()}, stride=1)


def test_forecasts_from_an_evaluation_are_reused_and_give_the_same_result(candles):
    from cryptousd.evaluation.evaluate import walk_forward

    (p,) = calibrated(candles.iloc[:2000], Persistence())
    forecasters = {"persistence": p, "leaky": Leaky()}
    ev = walk_forward(candles, forecasters, start=candles.index[2000])
    fresh = backtest_all(candles, forecasters, start=candles.index[2000]).table()

    class Refuses(Leaky):
        def predict_origins(self, *a, **k):
            raise AssertionError("should have reused the evaluation's forecasts")

    reused = backtest_all(
        candles,
        {"persistence": p, "leaky": Refuses()},
        start=candles.index[2000],
        forecasts=ev.predictions,
    ).table()
    pd.testing.assert_frame_equal(fresh, reused)


class Scripted(Forecaster):
    """Forecasts a scripted return at each row (the same at every horizon), to fix the signals."""

    name = "scripted"

    def __init__(self, values, window: int = 1, horizon: int = 2):
        self.values, self.window, self.horizon = np.asarray(values, "float64"), window, horizon

    def predict_cum(
        self, feats, logc, next_time_ns
    ):  # the backtest batches through predict_origins
        raise AssertionError("the backtest must forecast through predict_origins")

    def predict_origins(self, feats, logc, times_ns, origins, chunk=8192):
        return np.repeat(self.values[origins, None], self.horizon, axis=1)


def frame(close) -> pd.DataFrame:
    close = np.asarray(close, "float64")
    idx = pd.date_range("2025-01-01", periods=len(close), freq="1min", tz="UTC", name="open_time")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0},
        index=idx.as_unit("ns"),
    )


def test_overlapping_signals_trade_through_staggered_sub_accounts_by_hand():
    c = frame([100, 110, 121, 110, 99, 99, 108.9])
    # origins 0..4 (a 2-minute horizon after each); long at 0, 1, 3, 4 and flat at 2
    f = Scripted([1, 1, -1, 1, 1, 0, 0])
    rep = backtest_all(c, {"s": f}, fee_bps=10, slippage_bps=0, hold=2, staggered=True)
    k = 0.999
    # sub-account A trades origins 0, 2, 4: long 100 -> 121, flat 121 -> 99, long 99 -> 108.9
    a1, a2, a3 = k * 1.21, k * 1.21 * k, k * 1.21 * k * k * 1.1 * k
    # sub-account B trades origins 1, 3: long 110 -> 110, long 110 -> 99, then the exit
    b1, b2 = k * 1.0, k * 1.0 * 0.9 * k
    eq = rep.results["s"].equity
    assert list(eq.index) == list(c.index[2:7])
    np.testing.assert_allclose(
        eq.to_numpy(),
        [(a1 + 1) / 2, (a1 + b1) / 2, (a2 + b1) / 2, (a2 + b2) / 2, (a3 + b2) / 2],
        rtol=1e-12,
    )
    r = rep.results["s"]
    np.testing.assert_allclose(
        r.period_returns, [k * 1.21 - 1, k - 1, k - 1, 0.9 * k - 1, k * k * 1.1 - 1], rtol=1e-12
    )
    assert r.trades == 4 and r.positions.tolist() == [1, 1, 0, 1, 1]
    assert r.fees_paid == pytest.approx((4 * 0.001 + 2 * 0.001) / 2)  # per 1/2 of the capital
    assert rep.table().loc["s", "total_return"] == pytest.approx((a3 + b2) / 2 - 1, rel=1e-12)
    # the same signals in one account, positions 2 minutes apart: origins 0, 2, 4 only
    one = backtest_all(c, {"s": f}, fee_bps=10, slippage_bps=0, hold=2).results["s"]
    assert one.equity.iloc[-1] == pytest.approx(a3, rel=1e-12) and len(one.positions) == 3


@pytest.mark.parametrize("staggered", [False, True])
def test_always_long_equals_buy_and_hold_and_never_in_is_exactly_zero(candles, staggered):
    n = len(candles)
    rules = {
        "long": Scripted(np.ones(n), 60, 10),
        "never": Scripted(np.zeros(n), 60, 10),
        "long but one": Scripted(np.r_[np.ones(3000), 0.0, np.ones(n - 3001)], 60, 10),
    }
    rep = backtest_all(candles, rules, start=candles.index[2000], staggered=staggered)
    t = rep.table()
    assert t.loc["long", "total_return"] == pytest.approx(
        t.loc["buy_and_hold", "total_return"], rel=1e-12
    )
    assert t.loc["never", "total_return"] == 0.0 and t.loc["never", "trades"] == 0
    assert (rep.results["never"].equity == 1.0).all()
    # one flat period costs one extra exit and entry and misses that period's move
    if not staggered:
        r = rep.results["long but one"]
        i = int(np.flatnonzero(r.positions == 0)[0])
        move = 1 + rep.results["buy_and_hold"].period_returns[i]  # a middle period: no fee
        expected = (1 + t.loc["buy_and_hold", "total_return"]) / move * (1 - 0.0011) ** 2
        assert 1 + t.loc["long but one", "total_return"] == pytest.approx(expected, rel=1e-12)


def test_buy_and_hold_with_every_cli_default_on_real_data(recent_file, tmp_path):
    from cryptousd import load_candles
    from cryptousd.cli import main

    out = tmp_path / "b.json"
    assert (
        main(["backtest", "--data", str(recent_file), "--start", "2025-03-25", "--json", str(out)])
        == 0
    )
    d = json.loads(out.read_text())
    c = load_candles(recent_file)["close"]
    first, last = c[pd.Timestamp(d["start"])], c[pd.Timestamp(d["end"])]
    # the first origin has a 60-minute window before it; periods of 10 minutes run back to back
    t0 = max(pd.Timestamp("2025-03-25", tz="UTC"), c.index[0] + pd.Timedelta(minutes=59))
    periods = (c.index[-1] - pd.Timedelta(minutes=10) - t0) // pd.Timedelta(minutes=10) + 1
    assert pd.Timestamp(d["start"]) == t0 and d["periods"] == periods
    assert pd.Timestamp(d["end"]) == t0 + periods * pd.Timedelta(minutes=10)
    cost = (d["fee_bps"] + d["slippage_bps"]) / 1e4  # 10 + 1 bps per side, paid twice
    bh = d["results"]["buy_and_hold"]
    assert bh["total_return"] == pytest.approx(last / first * (1 - cost) ** 2 - 1, rel=1e-9)
    assert -0.065 < bh["total_return"] < -0.055  # the market fell about 5.9 % over those days
    assert bh["trades"] == 1 and bh["costs"] == pytest.approx(2 * cost)
    assert d["hold_minutes"] == 10 and d["staggered"] is False
    # every forecaster that never traded says why, in the JSON as on the screen
    assert set(d["notes"]) == {n for n, r in d["results"].items() if r["trades"] == 0}
    assert d["notes"]["persistence"] == (
        "persistence: no forecast cleared the round-trip cost of 22 bps; "
        "the largest forecast 10-minute move was +0 bps"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stride", "1"], "backtest takes no --stride"),
        (["--stride"], "backtest takes no --stride"),
        (["--hold", "0"], "--hold 0: "),
        (["--hold", "-3"], "--hold -3: "),
    ],
)
def test_cli_backtest_rejects_stride_and_bad_hold_in_one_line(argv, message, capsys):
    from cryptousd.cli import main

    assert main(["backtest", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and "\n" not in err


def test_backtest_help_documents_non_overlapping_positions(capsys):
    from cryptousd.cli import main

    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Positions never overlap" in out and "--every-minute" in out and "--stride" not in out
