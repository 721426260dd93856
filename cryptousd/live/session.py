"""The live session: source -> rolling window -> forecast -> scorecard. No widgets, no threads.

A timer elsewhere (the dashboard's) calls :meth:`LiveSession.tick`. Each tick polls the source for
the candles closed since the last one (which also backfills anything missed during an outage) and
the forming candle; each newly closed candle triggers a forecast, and forecasts whose horizon has
closed are scored against what happened, beside persistence. A failing source never raises out of
``tick``: the session records the error, backs off exponentially and retries.

Memory is bounded: the session keeps ``keep`` candles and at most ``horizon`` pending forecasts.
Each closed candle also updates the streaming indicators (:mod:`cryptousd.indicators`, O(1) per
candle, equal to the batch form over the candles this session has seen); ``state().indicators``
holds their values on the shown candles.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import INTERVAL_NS, OHLCV
from ..data.candles import fill_gaps
from ..data.sources.base import Source
from ..data.sources.replay import ReplayFinished
from ..errors import CryptoUSDError, SourceError
from ..forecast.base import Forecast, Forecaster
from ..indicators import COLUMNS as INDICATOR_COLUMNS
from ..indicators import IndicatorParams, StreamingIndicators
from ..times import index_ns

_INDICATOR_INDEX = pd.Index(INDICATOR_COLUMNS)  # built once: a frame per tick reuses it


@dataclass
class Scorecard:
    """Running scores of this session's resolved forecasts at the model's last horizon."""

    n: int = 0
    abs_err: float = 0.0
    abs_err_persistence: float = 0.0
    hits: int = 0
    directional: int = 0  # resolved forecasts whose actual move was not flat
    inside: int = 0

    def add(self, predicted: float, last: float, actual: float, lower: float, upper: float) -> None:
        self.n += 1
        self.abs_err += abs(predicted - actual)
        self.abs_err_persistence += abs(last - actual)
        self.inside += int(lower <= actual <= upper)
        if actual != last and predicted != last:
            self.directional += 1
            self.hits += int((predicted > last) == (actual > last))

    @property
    def mae(self) -> float:
        return self.abs_err / self.n if self.n else math.nan

    @property
    def mae_persistence(self) -> float:
        return self.abs_err_persistence / self.n if self.n else math.nan

    @property
    def hit_rate(self) -> float:
        return self.hits / self.directional if self.directional else math.nan

    @property
    def coverage(self) -> float:
        return self.inside / self.n if self.n else math.nan


@dataclass
class TickResult:
    new_candles: int = 0
    forecasts: int = 0
    scored: int = 0
    error: str | None = None
    elapsed_ms: float = 0.0


@dataclass
class LiveState:
    """What the view needs to draw; replaced (never mutated) on each tick."""

    candles: pd.DataFrame
    forming: pd.Series | None
    forecast: Forecast | None
    status: str  # the source's (LIVE, REPLAY x60, SIMULATED) or FINISHED, PAUSED, RECONNECTING
    error: str | None
    next_retry_in: float | None
    last_update: float | None  # monotonic time of the last successful poll
    scorecard: Scorecard = field(default_factory=Scorecard)
    indicators: pd.DataFrame | None = None  # indicator values on ``candles``' index (or None)


class LiveSession:
    """Move closed candles from a source to a forecaster and score the forecasts as they come
    due.
    """

    def __init__(
        self,
        source: Source,
        forecaster: Forecaster,
        *,
        keep: int | None = None,
        max_forecasts_per_tick: int = 10,
        backoff_s: tuple[float, float] = (1.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
        indicators: IndicatorParams | bool | None = True,
    ):
        self.source = source
        self.forecaster = forecaster
        self.window = forecaster.window
        self.horizon = forecaster.horizon
        self.keep = keep or 2 * self.window + self.horizon
        self.max_forecasts_per_tick = max_forecasts_per_tick
        self.backoff_s = backoff_s
        self.clock = clock
        self.candles = pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in OHLCV},
            index=pd.DatetimeIndex([], tz="UTC", name="open_time"),
        )
        self.forming: pd.Series | None = None
        self.forecast: Forecast | None = None
        self.pending: deque[Forecast] = deque(maxlen=self.horizon + max_forecasts_per_tick)
        self.scorecard = Scorecard()
        self.error: str | None = None
        self.failures = 0
        self.retry_at: float | None = None
        self.failing_since: float | None = None  # clock time of the first failure in a row
        self.last_update: float | None = None
        self.paused = False
        self.finished = False
        self.forecast_ms: deque[float] = deque(maxlen=500)
        self.errors_seen = 0
        params = indicators if isinstance(indicators, IndicatorParams) else None
        self.indicators = StreamingIndicators(params) if indicators else None
        # the values on the kept candles: rows [_ind_start, _ind_end) of a buffer twice as long,
        # compacted when full (amortised O(1) per candle)
        self._ind_buf = np.full((2 * self.keep, len(INDICATOR_COLUMNS)), np.nan)
        self._ind_start = self._ind_end = 0
        self._indicator_frame: pd.DataFrame | None = None

    # the loop body ---------------------------------------------------------------------------
    def tick(self) -> TickResult:
        """Poll once, forecast each new closed candle, score what has come due. Never raises for
        a failing source; programming errors in the forecaster still surface."""
        t0 = time.perf_counter()
        result = TickResult()
        now = self.clock()
        if self.paused or self.finished or (self.retry_at is not None and now < self.retry_at):
            return result
        since = self.candles.index[-1] if len(self.candles) else None
        try:
            poll = self.source.poll(since)
        except CryptoUSDError as exc:
            self._failed(exc, now)
            result.error = self.error
            return result
        except Exception as exc:  # noqa: BLE001 - a source bug must not kill the loop either
            self._failed(SourceError(f"{type(exc).__name__}: {exc}"), now)
            result.error = self.error
            return result
        self.error, self.failures, self.retry_at = None, 0, None
        self.failing_since = None
        self.last_update = now
        self.forming = poll.forming
        closed = poll.closed[OHLCV] if len(poll.closed) else poll.closed
        if len(closed):
            if since is not None:
                closed = closed[closed.index > since]
            result.new_candles = len(closed)
            result.scored += self._append(closed)
            result.forecasts = self._forecast_new(len(closed))
        result.elapsed_ms = (time.perf_counter() - t0) * 1000
        return result

    def _failed(self, exc: Exception, now: float) -> None:
        self.errors_seen += 1
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        if isinstance(exc, ReplayFinished):
            self.finished = True
        base, cap = self.backoff_s
        wait = min(cap, base * 2 ** (self.failures - 1))
        hint = getattr(exc, "retry_after", None)
        wait = max(wait, hint or 0)
        self.retry_at = now + wait
        self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    def _append(self, closed: pd.DataFrame) -> int:
        frame = closed if not len(self.candles) else pd.concat([self.candles, closed])
        if len(frame) > 1 and (np.diff(index_ns(frame.index)) != INTERVAL_NS).any():
            # a hole the source could not backfill: flat candles at the previous close, volume 0
            frame = fill_gaps(frame)[0][OHLCV]
        scored = self._score(frame)
        if self.indicators is not None:
            first_new = (
                frame.index.searchsorted(self.candles.index[-1], "right")
                if len(self.candles)
                else 0
            )
            self._update_indicators(frame[OHLCV].to_numpy("float64")[first_new:])
        self.candles = frame.iloc[-self.keep :]
        return scored

    def _update_indicators(self, ohlcv: np.ndarray) -> None:
        """Feed the newly closed candles (rows of OHLCV) to the streaming indicators."""
        for row in ohlcv.tolist():
            d = self.indicators.update(*row)
            if self._ind_end == len(self._ind_buf):  # full: keep the last keep - 1 rows
                kept = self._ind_buf[self._ind_end - self.keep + 1 : self._ind_end].copy()
                self._ind_buf[: len(kept)] = kept
                self._ind_start, self._ind_end = 0, len(kept)
            self._ind_buf[self._ind_end] = [d[c] for c in INDICATOR_COLUMNS]
            self._ind_end += 1
            self._ind_start = max(self._ind_start, self._ind_end - self.keep)
        self._indicator_frame = None

    def indicator_frame(self, last: int | None = None) -> pd.DataFrame | None:
        """The streaming indicators' values on the last ``last`` kept candles (all if None);
        the same index as those candles."""
        if self.indicators is None:
            return None
        if self._indicator_frame is None:
            values = self._ind_buf[self._ind_start : self._ind_end].copy()
            index = self.candles.index[len(self.candles) - len(values) :]
            self._indicator_frame = pd.DataFrame(values, index=index, columns=_INDICATOR_INDEX)
        return self._indicator_frame if last is None else self._indicator_frame.iloc[-last:]

    def _forecast_new(self, n_new: int) -> int:
        made = 0
        n = len(self.candles)
        for back in range(min(n_new, self.max_forecasts_per_tick) - 1, -1, -1):
            end = n - back
            if end < self.window:
                continue
            fc = self.forecaster.predict(self.candles.iloc[end - self.window : end])
            self.forecast_ms.append(fc.elapsed_ms)
            self.pending.append(fc)
            self.forecast = fc
            made += 1
        return made

    def _score(self, frame: pd.DataFrame) -> int:
        scored = 0
        close = frame["close"]
        while self.pending:
            fc = self.pending[0]
            due = fc.candles.index[-1]
            if due > frame.index[-1]:
                break
            self.pending.popleft()
            if due in close.index:
                self.scorecard.add(
                    float(fc.candles["close"].iloc[-1]),
                    fc.last_close,
                    float(close.loc[due]),
                    float(fc.lower.iloc[-1]),
                    float(fc.upper.iloc[-1]),
                )
                scored += 1
        return scored

    # what the view reads ----------------------------------------------------------------------
    @property
    def status(self) -> str:
        if self.finished:
            return "FINISHED"
        if self.paused:
            return "PAUSED"
        if self.error is not None:
            return "RECONNECTING"
        return self.source.status

    def state(self) -> LiveState:
        retry = None if self.retry_at is None else max(0.0, self.retry_at - self.clock())
        return LiveState(
            self.candles.iloc[-self.window :],
            self.forming,
            self.forecast,
            self.status,
            self.error,
            retry,
            self.last_update,
            self.scorecard,
            self.indicator_frame(self.window),
        )
