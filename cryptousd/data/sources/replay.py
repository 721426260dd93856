"""Replay stored candles as if live, and a clearly labelled simulated market.

A replay has its own market clock: it starts ``WINDOW`` candles into the data and moves ``speed``
minutes of market time per second of wall time (``speed=None`` moves one minute per poll, for tests
and soak runs). The forming candle is revealed gradually: open first, then a close that walks from
the open to the recorded close as the minute passes, with high and low clipped to match.

A replay either ends or loops. One that ends (``loop=False``) first hands out every candle that
closed, up to the data's last minute, then raises :class:`ReplayFinished`. One that loops
(``loop=True``, what an automatically chosen replay does) plays its data again and again, each pass
continuing the last one so that the chart never jumps back. The first pass (``k = 0``) is the data
as recorded. Every later pass ``k >= 1`` is the data transformed so::

    open_time_k = open_time + k * span      span = last open_time - first open_time + 1 minute
    price_k     = price * ratio ** (1 - x)  ratio = last close / first open  (o, h, l, c)
                                            x = (open_time - first open_time) / (span - 1 minute)
    volume_k    = volume

Each later pass starts at the price the first one ended on (its first open is the last close) and
loses the data's drift over its length (``ratio ** -x`` falls from 1 to 1 / ratio), so it ends on
that same price again: every pass after the first is the same, and prices stay where the data
left them however long the replay runs (a compounding ``ratio ** k`` halved the price every ten
passes of a week that fell 6 %). Within a candle nothing changes shape (one factor for its OHLC),
and a one-minute return moves by the constant ``-log(ratio) / (n - 1)`` (0.06 bps on the bundled
week). The seams (where pass ``k >= 1`` starts) are :meth:`ReplaySource.seams`; the status says
which pass is playing ("REPLAY x60 · loop 2").
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ...config import OHLCV, WINDOW
from ...errors import DataError, SourceError
from ...times import index_ns
from ..candles import validate_candles
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
        loop: bool = False,
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
        self.loop = loop
        first, last = self.candles.index[0], self.candles.index[-1]
        self.span = last - first + ONE_MINUTE  # one pass of the data in market time
        self.ratio = float(self.candles["close"].iloc[-1] / self.candles["open"].iloc[0])
        self._clock = clock
        self._t0_market = self.candles.index[WINDOW] if start is None else pd.Timestamp(start)
        self._t0_wall = clock()
        self._steps = 0
        self._polled: pd.Timestamp | None = None  # the market time of the last poll

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

    def restart_clock(self) -> None:
        """Start the market clock again from the last poll's time (or its start): what a viewer
        saw first is where the replay goes on, however long the source waited for one."""
        self._t0_market = self._polled if self._polled is not None else self._t0_market
        self._t0_wall, self._steps = self._clock(), 0

    def pass_of(self, t: pd.Timestamp) -> int:
        """Which pass of the data (0 for the first) plays market time ``t``."""
        return max(0, (pd.Timestamp(t) - self.candles.index[0]) // self.span)

    def seams(self, start, end) -> list[pd.Timestamp]:
        """Where a pass after the first starts, for ``start <= seam <= end`` (none unless
        looping)."""
        if not self.loop:
            return []
        k0 = max(1, self.pass_of(start) + (pd.Timestamp(start) > self._seam(self.pass_of(start))))
        return [self._seam(k) for k in range(k0, self.pass_of(end) + 1)]

    def _seam(self, k: int) -> pd.Timestamp:
        return self.candles.index[0] + k * self.span

    @property
    def status(self) -> str:
        label = "REPLAY step" if self.speed is None else f"REPLAY x{self.speed:g}"
        return f"{label} · loop {self.pass_of(self.now()) + 1}" if self.loop else label

    def describe(self) -> str:
        again = self.loop and self.pass_of(self.now()) > 0
        return f"{self.status} {self.symbol} from {self.name}" + (
            " (its minutes again, moved on in time)" * again
        )

    # data -----------------------------------------------------------------------------------
    def history(self, start, end=None) -> pd.DataFrame:
        now = self.now()
        end = now if end is None else min(pd.Timestamp(end), now)
        if not self.loop:
            return self._closed(pd.Timestamp(start), end)
        start = max(pd.Timestamp(start), self.candles.index[0])
        if end <= start:
            return self.candles.iloc[:0]
        # closed: open_time + 1 min <= end, in each pass the range touches
        parts = [
            self._moved(self._closed(start - k * self.span, end - k * self.span), k)
            for k in range(self.pass_of(start), self.pass_of(end - ONE_MINUTE) + 1)
        ]
        return parts[0] if len(parts) == 1 else pd.concat(parts)

    def _closed(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The data's candles with ``start <= open_time`` and ``open_time + 1 min <= end``."""
        a = int(np.searchsorted(self._ns, start.value))
        b = int(np.searchsorted(self._ns, (end - ONE_MINUTE).value, side="right"))
        return self.candles.iloc[a:b]

    def _moved(self, part: pd.DataFrame, k: int) -> pd.DataFrame:
        """``part`` of the data as pass ``k`` plays it (see the module's docstring)."""
        if k == 0:
            return part
        out = part.copy()
        out.index = out.index + k * self.span
        out[["open", "high", "low", "close"]] *= self._factor(index_ns(part.index))[:, None]
        return out

    def _factor(self, open_ns) -> np.ndarray:
        """The price factor of a later pass for candles at the data's own ``open_ns``."""
        x = (np.asarray(open_ns, dtype="int64") - self._ns[0]) / max(1, self._ns[-1] - self._ns[0])
        return self.ratio ** (1.0 - x)

    def poll(self, since: pd.Timestamp | None) -> Poll:
        if self.speed is None:
            self._steps += 1
        now = self.now()
        last = self.candles.index[-1]
        if not self.loop and now > last + 2 * ONE_MINUTE:
            if since is not None and since >= last:
                raise ReplayFinished(
                    f"{self.name}: the replay reached the end of its data ({last:%Y-%m-%d %H:%M} "
                    "UTC); restart it, or leave out --no-loop (CRYPTOUSD_REPLAY_LOOP=0) to loop"
                )
            now = last + ONE_MINUTE  # the closed candles not handed out yet, then FINISHED
        self._polled = now
        start = poll_start(since, now, backfill=WINDOW)
        closed = self.history(start, now)
        return Poll(closed, self._forming(now), now)

    def _forming(self, now: pd.Timestamp) -> pd.Series | None:
        minute = now.floor("1min")
        k = self.pass_of(minute) if self.loop else 0
        i = int(np.searchsorted(self._ns, (minute - k * self.span).value))
        if i >= len(self._ns) or self._ns[i] != (minute - k * self.span).value:
            return None
        if self.speed is None:
            return None
        o, h, lo, c, v = self.candles.iloc[i].to_numpy()
        f = float(self._factor([self._ns[i]])[0]) if k else 1.0
        o, h, lo, c = (x * f for x in (o, h, lo, c))
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
    from ...times import to_utc

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
