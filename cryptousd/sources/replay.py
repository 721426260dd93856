"""Replay stored candles as if live, and a clearly labelled simulated market.

A replay has its own market clock: it starts ``WINDOW`` candles into the data and moves ``speed``
minutes of market time per second of wall time (``speed=None`` moves one minute per poll, for tests
and soak runs). The forming candle is revealed gradually: open first, then a close that walks from
the open to the recorded close as the minute passes, with high and low clipped to match.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..candles import validate_candles
from ..config import OHLCV, WINDOW
from ..errors import DataError, SourceError
from ..times import index_ns
from .base import ONE_MINUTE, Poll, Source, poll_start


class ReplayFinished(SourceError):
    """The replay has played all its candles."""

    retryable = False


class ReplaySource(Source):
    kind = "replay"

    def __init__(
        self,
        candles: pd.DataFrame,
        *,
        speed: float | None = 60.0,
        symbol: str = "BTC/USDT",
        start=None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "replay",
    ):
        validate_candles(candles, name=name, allow_gaps=True)
        if len(candles) <= WINDOW:
            raise DataError(f"{name}: {len(candles)} candles; a replay needs more than {WINDOW}")
        if speed is not None and not (0 < speed <= 100_000):
            raise DataError(
                f"replay speed {speed}: must be between 0 and 100000 minutes per second"
            )
        self.candles = candles[OHLCV]
        self._ns = index_ns(candles.index)
        self.speed = speed
        self.symbol = symbol
        self.name = name
        self._clock = clock
        first = self.candles.index[WINDOW] if start is None else pd.Timestamp(start)
        self._t0_market = first
        self._t0_wall = clock()
        self._steps = 0

    # clock ----------------------------------------------------------------------------------
    def now(self) -> pd.Timestamp:
        if self.speed is None:
            return self._t0_market + self._steps * ONE_MINUTE
        elapsed = (self._clock() - self._t0_wall) * self.speed
        return self._t0_market + pd.Timedelta(minutes=elapsed)

    def set_speed(self, speed: float | None) -> None:
        """Change speed without jumping: the market clock continues from where it is."""
        here = self.now()
        self._t0_market, self._t0_wall, self._steps = here, self._clock(), 0
        self.speed = speed

    @property
    def status(self) -> str:
        return "REPLAY step" if self.speed is None else f"REPLAY x{self.speed:g}"

    def describe(self) -> str:
        return f"{self.status} {self.symbol} from {self.name}"

    # data -----------------------------------------------------------------------------------
    def history(self, start, end=None) -> pd.DataFrame:
        now = self.now()
        end = now if end is None else min(pd.Timestamp(end), now)
        # closed: open_time + 1 min <= end
        a = int(np.searchsorted(self._ns, pd.Timestamp(start).value))
        b = int(np.searchsorted(self._ns, (end - ONE_MINUTE).value, side="right"))
        return self.candles.iloc[a:b]

    def poll(self, since: pd.Timestamp | None) -> Poll:
        if self.speed is None:
            self._steps += 1
        now = self.now()
        if now > self.candles.index[-1] + 2 * ONE_MINUTE:
            raise ReplayFinished(
                f"{self.name}: replay reached the end of its data at {self.candles.index[-1]}; "
                "restart it"
            )
        start = poll_start(since, now, backfill=WINDOW)
        closed = self.history(start, now)
        return Poll(closed, self._forming(now), now)

    def _forming(self, now: pd.Timestamp) -> pd.Series | None:
        minute = now.floor("1min")
        i = int(np.searchsorted(self._ns, minute.value))
        if i >= len(self._ns) or self._ns[i] != minute.value or self.speed is None:
            return None
        o, h, lo, c, v = self.candles.iloc[i].to_numpy()
        frac = float((now - minute) / ONE_MINUTE)
        close = o + (c - o) * frac
        top, bottom = max(o, close), min(o, close)
        return pd.Series(
            {
                "open": o,
                "high": top + (h - max(o, c)) * frac,
                "low": bottom - (min(o, c) - lo) * frac,
                "close": close,
                "volume": v * frac,
            },
            name=minute,
        )


def simulate_candles(
    n: int,
    *,
    start="2025-01-01",
    price: float = 60_000.0,
    vol_per_min: float = 0.0008,
    seed: int = 7,
) -> pd.DataFrame:
    """A geometric random walk with realistic one-minute candles (for demos and offline tests).

    ``vol_per_min`` is the standard deviation of one-minute log returns (0.0008 is about BTC's).
    """
    rng = np.random.default_rng(seed)
    # volatility clusters: a slowly varying scale
    scale = np.exp(
        np.convolve(rng.normal(0, 0.35, n + 59), np.ones(60) / np.sqrt(60), mode="valid")[:n] * 0.5
    )
    ticks = 12
    r = rng.normal(0, vol_per_min / np.sqrt(ticks), (n, ticks)) * scale[:, None]
    path = price * np.exp(np.cumsum(r.ravel())).reshape(n, ticks)
    close = path[:, -1]
    open_ = np.r_[price, close[:-1]]
    high = np.maximum(path.max(axis=1), open_)
    low = np.minimum(path.min(axis=1), open_)
    volume = rng.gamma(2.0, 4.0, n) * scale
    from ..times import to_utc

    index = pd.date_range(
        to_utc(start).floor("1min"), periods=n, freq="1min", name="open_time"
    ).as_unit("ns")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


class SimulatedSource(ReplaySource):
    """A random-walk market, labelled SIMULATED everywhere: the fallback with no network and
    no data.
    """

    kind = "simulated"

    def __init__(
        self,
        *,
        speed: float | None = 1.0,
        seed: int = 7,
        minutes: int = 200_000,
        clock=time.monotonic,
    ):
        start = pd.Timestamp.now(tz="UTC").floor("1min") - (WINDOW + 1) * ONE_MINUTE
        super().__init__(
            simulate_candles(minutes, start=start, seed=seed),
            speed=speed,
            symbol="SIM/USD",
            clock=clock,
            name="simulated market",
        )

    @property
    def status(self) -> str:
        return "SIMULATED" if self.speed in (None, 1.0) else f"SIMULATED x{self.speed:g}"

    def describe(self) -> str:
        return f"{self.status}: a random walk, not market data"
