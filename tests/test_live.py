"""LiveSession: bounded memory, scoring, surviving a failing source, backfill after an outage,
soak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptousd import SourceUnavailable, load_forecaster
from cryptousd.data.sources import ReplaySource
from cryptousd.data.sources.base import Poll
from cryptousd.data.sources.replay import simulate_candles
from cryptousd.live.session import LiveSession


class Flaky:
    """Wraps a source; fails the polls whose numbers are in ``fail_on``."""

    kind = "flaky"
    status = "LIVE"

    def __init__(self, inner, fail_on=()):
        self.inner, self.fail_on, self.calls = inner, set(fail_on), 0

    def poll(self, since):
        self.calls += 1
        if self.calls in self.fail_on:
            self.inner.poll(since)  # the market moves on while we are disconnected
            raise SourceUnavailable("exchange unavailable (HTTP 503); will retry")
        return self.inner.poll(since)

    def describe(self):
        return "flaky"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def model():
    return load_forecaster()


def test_window_stays_bounded_and_each_closed_candle_is_forecast(model, candles):
    s = LiveSession(ReplaySource(candles, speed=None), model)
    for _ in range(300):
        s.tick()
    assert len(s.candles) == s.keep == 130 and len(s.state().candles) == 60
    assert s.candles.index[-1] == candles.index[60 + 299]
    assert s.forecast.origin == s.candles.index[-1]
    assert len(s.pending) <= s.pending.maxlen


def test_forecasts_are_scored_when_due_against_persistence(model, candles):
    s = LiveSession(ReplaySource(candles, speed=None), model)
    s.tick()  # backfill: 60 candles, one forecast
    first = s.forecast
    for _ in range(9):
        s.tick()
    assert s.scorecard.n == 0  # its 10th minute has not closed yet
    s.tick()
    assert s.scorecard.n == 1
    due = first.candles.index[-1]
    actual = candles.loc[due, "close"]
    assert s.scorecard.mae == pytest.approx(abs(first.candles["close"].iloc[-1] - actual))
    assert s.scorecard.mae_persistence == pytest.approx(abs(first.last_close - actual))


def test_a_failing_source_is_survived_with_backoff_and_missed_candles_are_backfilled(
    model, candles
):
    clock = Clock()
    src = Flaky(ReplaySource(candles, speed=None), fail_on={3, 4, 5})
    s = LiveSession(src, model, clock=clock, backoff_s=(1.0, 60.0))
    s.tick(), s.tick()
    last_ok = s.candles.index[-1]
    r = s.tick()  # poll 3 fails
    assert r.error and s.status == "RECONNECTING" and "HTTP 503" in s.state().error
    assert s.tick().error is None and src.calls == 3  # backing off: no poll before the retry time
    clock.t = 1.0
    s.tick()  # poll 4 fails: wait 2 s
    assert s.state().next_retry_in == pytest.approx(2.0)
    clock.t = 3.0
    s.tick()  # poll 5 fails: wait 4 s
    clock.t = 7.0
    r = s.tick()  # poll 6 succeeds and backfills the 4 minutes that closed meanwhile
    assert r.error is None and s.status == "LIVE" and r.new_candles == 4
    assert s.candles.index[-1] == last_ok + pd.Timedelta(minutes=4)
    assert (np.diff(s.candles.index.as_unit("ns").asi8) == 60_000_000_000).all()
    assert s.errors_seen == 3


def test_a_source_that_raises_anything_does_not_stop_the_loop(model, candles):
    class Broken:
        status = "LIVE"

        def poll(self, since):
            raise KeyError("surprise")

    s = LiveSession(Broken(), model)
    r = s.tick()
    assert "KeyError" in r.error and s.status == "RECONNECTING"


def test_holes_the_source_cannot_fill_become_flat_candles(model, candles):
    class Holey:
        status = "LIVE"

        def __init__(self):
            self.n = 0

        def poll(self, since):
            self.n += 1
            part = candles.iloc[:61] if self.n == 1 else candles.iloc[63:64]
            return Poll(part, None, part.index[-1])

    s = LiveSession(Holey(), model)
    s.tick(), s.tick()
    assert len(s.candles) == 64 and s.candles.index[-1] == candles.index[63]
    assert s.candles.loc[candles.index[61], "volume"] == 0


def test_pause_stops_polling(model, candles):
    src = Flaky(ReplaySource(candles, speed=None))
    s = LiveSession(src, model)
    s.tick()
    s.paused = True
    s.tick()
    assert src.calls == 1 and s.status == "PAUSED"


@pytest.mark.slow
def test_soak_10000_candles_flat_memory_no_errors(model):
    import gc

    import psutil

    data = simulate_candles(10_200, seed=21)
    s = LiveSession(ReplaySource(data, speed=None), model)
    rss = []
    for i in range(10_000):
        r = s.tick()
        assert r.error is None
        if i in (2_000, 9_999):
            gc.collect()
            rss.append(psutil.Process().memory_info().rss)
    assert s.scorecard.n > 9_900 and s.errors_seen == 0
    assert len(s.candles) == s.keep and len(s.pending) <= s.pending.maxlen
    assert rss[1] - rss[0] < 16 * 2**20, rss  # flat: no growth beyond allocator noise


def test_streaming_indicators_follow_the_session_and_equal_the_batch_form(model, candles):
    from cryptousd.indicators import indicator_frame

    s = LiveSession(ReplaySource(candles, speed=None), model)
    s.tick()
    first = s.candles.index[0]
    for _ in range(399):
        s.tick()
    state = s.state()
    assert state.indicators.index.equals(state.candles.index)
    batch = indicator_frame(candles.loc[first : s.candles.index[-1]])  # every candle it has seen
    np.testing.assert_allclose(
        s.indicator_frame().to_numpy(), batch.iloc[-s.keep :].to_numpy(), rtol=0, atol=1e-9
    )
    assert state.indicators.notna().all().all()  # warmed up after 400 candles
    off = LiveSession(ReplaySource(candles, speed=None), model, indicators=False)
    off.tick()
    assert off.state().indicators is None


def test_forecasts_and_scores_go_on_across_a_looping_replays_seam(model, real_candles):
    """200 real minutes looped: after 400 ticks the session is in the third pass, its kept
    candles one minute apart with no price jump, and every forecast past the seams scored."""
    short = real_candles.iloc[:200][["open", "high", "low", "close", "volume"]]
    src = ReplaySource(short, speed=None, loop=True)
    s = LiveSession(src, model)
    scored_before_seam = 0
    for i in range(400):
        s.tick()
        if i == 130:
            scored_before_seam = s.scorecard.n
    assert s.status == "REPLAY step · loop 3" and s.error is None and not s.finished
    kept = s.candles
    assert (np.diff(kept.index.asi8) == 60_000_000_000).all()
    assert s.scorecard.n > scored_before_seam + 200  # the scorecard went on past both seams
    assert s.forecast.origin == kept.index[-1] and np.isfinite(s.forecast.p_up)
    seam = short.index[0] + 2 * src.span
    assert src.seams(kept.index[0], kept.index[-1]) == [seam]
    jump = kept["open"].loc[seam] / kept["close"].shift().loc[seam]
    assert jump == pytest.approx(1.0)
