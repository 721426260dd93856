"""One live session per symbol, ticked by one task, its events fanned out to every client.

The session (:class:`~cryptousd.live.session.LiveSession`) ticks in a worker thread; what changed
since the
last tick becomes events (``candle`` for each newly closed candle, ``tick`` for the forming one,
``forecast``, ``state``), each with an id that grows by one. Events are serialised once and kept
in a bounded buffer, so a client that reconnects with ``Last-Event-ID`` gets what it missed. Each
client has a bounded queue; a client whose queue is full has fallen behind and is dropped (its
stream ends; it may reconnect with ``Last-Event-ID``), so one slow client never slows the others
nor grows memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import pandas as pd

from ...config import WINDOW
from .events import Event, candle_json, dumps, forecast_json, num, scorecard_json

log = logging.getLogger("cryptousd.live.feed")

BUFFER_EVENTS = 4096  # events kept for Last-Event-ID replays
QUEUE_EVENTS = 256  # events a client may be behind before it is dropped
HISTORY_KEEP = 10_000  # closed candles each session keeps for /api/history
RECONNECT_GRACE_S = 60.0  # a source failing for longer than this makes the feed not ready


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue
    backlog: list[Event]
    dropped: bool = False


@dataclass
class FeedStats:
    clients: int = 0
    dropped: int = 0
    served: int = 0  # streams opened since start
    ticks: int = 0
    tick_errors: int = 0
    started: float = field(default_factory=time.time)


class SymbolFeed:
    """A live session for one symbol and its event stream."""

    def __init__(
        self,
        symbol: str,
        session,
        *,
        model_line: str = "",
        model_note: str = "",
        note: str = "",
        refresh_s: float = 1.0,
        buffer_events: int = BUFFER_EVENTS,
        queue_events: int = QUEUE_EVENTS,
    ):
        self.symbol = symbol
        self.session = session
        self.model_line = model_line
        self.model_note = model_note
        self.note = note
        self.refresh_s = refresh_s
        self.queue_events = queue_events
        self.events: deque[Event] = deque(maxlen=buffer_events)
        self.recent_candles: deque[Event] = deque(maxlen=WINDOW)
        self.latest: dict[str, Event] = {}
        self.subscribers: set[Subscriber] = set()
        self.stats = FeedStats()
        self.next_id = 1
        self._last_time: pd.Timestamp | None = None
        self._last_forecast = None
        self._last_forming: tuple | None = None
        self._last_state: str | None = None
        self.history = session.candles  # what /api/history reads (replaced, never mutated)
        # set once the first candles are published: a stream opened before that waits, so the
        # first backfill (60 candles at once) comes in its snapshot, not through its queue
        self.ready = asyncio.Event()

    # publishing -------------------------------------------------------------------------------
    def _emit(self, kind: str, data: dict) -> Event:
        ev = Event(self.next_id, kind, dumps(data))
        self.next_id += 1
        self.events.append(ev)
        self.latest[kind] = ev
        if kind == "candle":
            self.recent_candles.append(ev)
        for sub in list(self.subscribers):
            try:
                sub.queue.put_nowait(ev)
            except asyncio.QueueFull:
                self._drop(sub)
        return ev

    def _drop(self, sub: Subscriber) -> None:
        """The client fell behind: empty its queue and end its stream."""
        sub.dropped = True
        self.subscribers.discard(sub)
        self.stats.dropped += 1
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
        log.info("%s: dropped a client %d events behind", self.symbol, self.queue_events)

    def state_json(self) -> dict:
        s = self.session
        retry = None if s.retry_at is None else max(0.0, s.retry_at - s.clock())
        return {
            "symbol": self.symbol,
            "status": s.status,
            "source": s.source.describe(),
            "error": s.error,
            "next_retry_in": retry,
            "note": self.note,
            "model_line": self.model_line,
            "model_note": self.model_note,
            "scorecard": scorecard_json(s.scorecard),
        }

    def health(self) -> str | None:
        """Why this symbol is not ready (None when it is live or replaying): FINISHED, failing
        for longer than :data:`RECONNECT_GRACE_S`, or no candles yet."""
        s = self.session
        if s.finished:
            return f"{self.symbol}: FINISHED: {s.error}"
        since = getattr(s, "failing_since", None)
        if s.error is not None and since is not None:
            failing_s = s.clock() - since
            if failing_s > RECONNECT_GRACE_S:
                return f"{self.symbol}: RECONNECTING for {failing_s:.0f} s ({s.error})"
        if not self.ready.is_set():
            return f"{self.symbol}: no candles yet ({s.status}); retry in a few seconds"
        return None

    def publish(self) -> int:
        """Turn what changed in the session since the last call into events. Returns how many."""
        before = self.next_id
        s = self.session
        candles = s.candles
        if len(candles):
            new = candles if self._last_time is None else candles[candles.index > self._last_time]
            if self._last_time is None:
                new = new.iloc[-WINDOW:]
            emitted = time.time()
            ind = s.indicator_frame() if hasattr(s, "indicator_frame") else None
            for t, row in new.iterrows():
                data = candle_json(t, row)
                data.update(symbol=self.symbol, emitted=emitted)
                if ind is not None and t in ind.index:  # the panes draw what the feed sends
                    data["indicators"] = {k: num(v) for k, v in ind.loc[t].items()}
                self._emit("candle", data)
            self._last_time = candles.index[-1]
            self.ready.set()
        self.history = candles
        if s.forecast is not None and s.forecast is not self._last_forecast:
            self._last_forecast = s.forecast
            self._emit("forecast", forecast_json(s.forecast, self.symbol))
        f = s.forming
        key = None if f is None else (f.name, *f.to_numpy().tolist())
        if key != self._last_forming:
            self._last_forming = key
            data = {"symbol": self.symbol, "candle": None if f is None else candle_json(f.name, f)}
            self._emit("tick", data)
        state = self.state_json()
        text = dumps({k: v for k, v in state.items() if k != "next_retry_in"})
        if text != self._last_state:
            self._last_state = text
            self._emit("state", state)
        return self.next_id - before

    # subscribing ------------------------------------------------------------------------------
    def snapshot(self) -> list[Event]:
        """What a new client gets first: the last 60 candles, then the latest forecast, forming
        candle and state, in id order."""
        extra = [self.latest[k] for k in ("forecast", "tick", "state") if k in self.latest]
        return sorted([*self.recent_candles, *extra], key=lambda e: e.id)

    def backlog(self, last_id: int | None) -> list[Event]:
        """Events after ``last_id`` from the buffer, or the snapshot when the buffer no longer
        reaches back that far (or the id is not one of ours)."""
        if last_id is None or not self.events:
            return self.snapshot()
        first = self.events[0].id
        if last_id < first - 1 or last_id >= self.next_id:
            return self.snapshot()
        return [e for e in self.events if e.id > last_id]

    def subscribe(self, last_id: int | None = None) -> Subscriber:
        sub = Subscriber(asyncio.Queue(maxsize=self.queue_events), self.backlog(last_id))
        self.subscribers.add(sub)
        self.stats.served += 1
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    # the loop ---------------------------------------------------------------------------------
    async def run(self) -> None:
        """Tick the session every ``refresh_s`` seconds and publish; never stops on an error."""
        while True:
            t0 = time.monotonic()
            try:
                await asyncio.to_thread(self.session.tick)
                self.stats.ticks += 1
            except Exception as exc:  # a forecaster bug must not stop the feed
                self.stats.tick_errors += 1
                self.session.error = f"{type(exc).__name__}: {exc}"
                if getattr(self.session, "failing_since", 0) is None:
                    self.session.failing_since = self.session.clock()
                log.exception("%s: tick failed", self.symbol)
            self.publish()
            await asyncio.sleep(max(0.0, self.refresh_s - (time.monotonic() - t0)))


class Hub:
    """The feeds by symbol, and the tasks that run them."""

    def __init__(self, feeds: dict[str, SymbolFeed]):
        self.feeds = feeds
        self._tasks: list[asyncio.Task] = []

    @property
    def symbols(self) -> list[str]:
        return list(self.feeds)

    def health(self) -> dict[str, str | None]:
        """Per symbol, why it is not ready (None when it is); a stopped tick loop is a failure."""
        out = {s: f.health() for s, f in self.feeds.items()}
        for task in self._tasks:
            symbol = task.get_name().removeprefix("feed ")
            if task.done() and symbol in out:
                out[symbol] = f"{symbol}: its tick loop stopped; restart the feed"
        return out

    def alive(self) -> str | None:
        """Why the process should be restarted (a tick loop that stopped), or None."""
        stopped = [t.get_name() for t in self._tasks if t.done()]
        return f"stopped: {', '.join(stopped)}; restart the feed" if stopped else None

    async def start(self) -> None:
        for feed in self.feeds.values():
            self._tasks.append(asyncio.create_task(feed.run(), name=f"feed {feed.symbol}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
