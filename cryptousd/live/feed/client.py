"""Read the feed back: an SSE parser and :class:`FeedSession`, the dashboard's ``feed`` source.

A :class:`FeedSession` looks to the dashboard like a :class:`~cryptousd.live.session.LiveSession`
(``tick``,
``state``, ``paused``, ``source.describe()``) but computes nothing: a daemon thread reads
``/api/stream`` and keeps the last 60 candles, the forming candle, the forecast and the state it
was sent. A dropped connection reconnects with ``Last-Event-ID`` after a growing pause, and the
state says RECONNECTING meanwhile. Importing this module imports neither ccxt nor a forecaster.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import pandas as pd

from ...config import OHLCV, WINDOW
from ...forecast.base import Forecast
from ...indicators import COLUMNS as INDICATOR_COLUMNS
from ..session import LiveState, Scorecard

DEFAULT_FEED_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class SSE:
    id: str | None
    event: str
    data: str

    def json(self):
        return json.loads(self.data)


def parse_sse(lines: Iterable[str]) -> Iterator[SSE]:
    """Server-sent events from the stream's text lines (comments and pings skipped)."""
    ev_id, event, data = None, "message", []
    for line in lines:
        if line == "":
            if data:
                yield SSE(ev_id, event, "\n".join(data))
            ev_id, event, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            ev_id = value


def indicators_from_json(rows: list[dict]) -> pd.DataFrame | None:
    """The indicator values the feed sent with its candles (None when it sent none)."""
    rows = [r for r in rows if r.get("indicators")]
    if not rows:
        return None
    index = pd.DatetimeIndex(pd.to_datetime([r["t"] for r in rows], utc=True)).as_unit("ns")
    values = [[r["indicators"].get(c, math.nan) for c in INDICATOR_COLUMNS] for r in rows]
    frame = pd.DataFrame(values, index=index, columns=INDICATOR_COLUMNS, dtype="float64")
    return frame.rename_axis("open_time")


def frame_from_json(rows: list[dict]) -> pd.DataFrame:
    """Candles as sent (``t`` plus OHLCV) back to a candle frame."""
    times = pd.to_datetime([r["t"] for r in rows], utc=True)
    index = pd.DatetimeIndex(times, name="open_time").as_unit("ns")
    return pd.DataFrame(
        {c: pd.Series([r[c] for r in rows], index=index, dtype="float64") for c in OHLCV}
    )


def forecast_from_json(d: dict) -> Forecast:
    """The forecast as the feed sends it, back to the :class:`Forecast` the view draws."""
    candles = frame_from_json(d["candles"])
    return Forecast(
        candles,
        pd.Series(d["lower"], index=candles.index, dtype="float64"),
        pd.Series(d["upper"], index=candles.index, dtype="float64"),
        float("nan") if d["p_up"] is None else d["p_up"],
        d["model"],
        d["latency_ms"] or 0.0,
        d["coverage"],
        pd.Timestamp(d["origin"]),
        d["last_close"],
    )


def scorecard_from_json(d: dict) -> Scorecard:
    n, directional = d["resolved"], d["directional"]
    return Scorecard(
        n=n,
        abs_err=(d["mae"] or 0.0) * n,
        abs_err_persistence=(d["mae_persistence"] or 0.0) * n,
        hits=round((d["hit_rate"] or 0.0) * directional),
        directional=directional,
        inside=round((d["coverage"] or 0.0) * n),
    )


class FeedReader:
    """What ``describe()`` says on the page: the feed's URL and the source it relays."""

    kind = "feed"

    def __init__(self, url: str, symbol: str):
        self.url, self.symbol, self.upstream = url, symbol, ""

    @property
    def status(self) -> str:
        return "FEED"

    def describe(self) -> str:
        return f"FEED {self.url} · {self.upstream or self.symbol}"


class FeedSession:
    """The dashboard's session when its source is ``feed``: it draws what the service streams."""

    def __init__(
        self,
        url: str = DEFAULT_FEED_URL,
        symbol: str = "BTC/USD",
        *,
        token: str | None = None,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        start: bool = True,
    ):
        self.url = url.rstrip("/")
        self.symbol = symbol
        self.token = token
        self.backoff_s = backoff_s
        self.source = FeedReader(self.url, symbol)
        self.paused = False
        self.window = WINDOW
        self.candles: deque[dict] = deque(maxlen=WINDOW)
        self.forming: dict | None = None
        self.forecast: dict | None = None
        self.remote: dict = {}
        self.last_id: str | None = None
        self.error: str | None = "connecting"
        self.retry_at: float | None = None
        self.last_update: float | None = None
        self.events = 0
        self.reconnects = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._frame: pd.DataFrame | None = None
        self._indicators: pd.DataFrame | None = None
        self._fc: Forecast | None = None
        self._shown: LiveState | None = None  # what a paused view keeps showing
        self._thread = threading.Thread(target=self._run, name="cryptousd-feed", daemon=True)
        if start:
            self._thread.start()

    # the reader thread ------------------------------------------------------------------------
    def _run(self) -> None:
        import httpx

        failures = 0
        headers = {"Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        while not self._stop.is_set():
            h = dict(headers, **({"Last-Event-ID": self.last_id} if self.last_id else {}))
            try:
                timeout = httpx.Timeout(10.0, read=30.0)  # the server pings every 15 s
                with (
                    httpx.Client(timeout=timeout) as client,
                    client.stream(
                        "GET", f"{self.url}/api/stream", params={"symbol": self.symbol}, headers=h
                    ) as resp,
                ):
                    if resp.status_code != 200:
                        resp.read()
                        raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
                    with self._lock:
                        self.error, self.retry_at, failures = None, None, 0
                    for ev in parse_sse(resp.iter_lines()):
                        if self._stop.is_set():
                            return
                        self._apply(ev)
                    raise RuntimeError("the feed closed the stream")
            except Exception as exc:  # noqa: BLE001 - any failure: say it, wait, reconnect
                failures += 1
                base, cap = self.backoff_s
                wait = min(cap, base * 2 ** (failures - 1))
                with self._lock:
                    self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                    self.retry_at = time.monotonic() + wait
                    self.reconnects += 1
                self._stop.wait(wait)

    def _apply(self, ev: SSE) -> None:
        d = ev.json()
        with self._lock:
            self.last_id = ev.id or self.last_id
            self.events += 1
            self.last_update = time.monotonic()
            if ev.event == "candle":
                if not self.candles or d["t"] > self.candles[-1]["t"]:
                    self.candles.append(d)
                    self._frame = None
            elif ev.event == "tick":
                self.forming = d["candle"]
            elif ev.event == "forecast":
                self.forecast, self._fc = d, None
            elif ev.event == "state":
                self.remote = d
                self.source.upstream = d.get("source", "")

    # what the dashboard calls -----------------------------------------------------------------
    def tick(self) -> None:
        """Nothing to do: the reader thread keeps the state current."""

    def close(self) -> None:
        self._stop.set()

    @property
    def model_line(self) -> str:
        """The model card's headline as the feed says it, with its note (e.g. trained on BTC)."""
        line, note = self.remote.get("model_line", ""), self.remote.get("model_note", "")
        return f"{line} — {note}" if note else line

    @property
    def status(self) -> str:
        if self.paused:
            return "PAUSED"
        if self.error is not None:
            return "RECONNECTING"
        return self.remote.get("status", "FEED")

    def state(self) -> LiveState:
        if self.paused and self._shown is not None:
            return replace(self._shown, status="PAUSED")
        self._shown = self._state()
        return self._shown

    def _state(self) -> LiveState:
        with self._lock:
            if self._frame is None:
                self._frame = frame_from_json(list(self.candles))
                self._indicators = indicators_from_json(list(self.candles))
            if self._fc is None and self.forecast is not None:
                self._fc = forecast_from_json(self.forecast)
            f = self.forming
            forming = None
            if f is not None:
                forming = pd.Series({c: f[c] for c in OHLCV}, name=pd.Timestamp(f["t"]))
            retry = None if self.retry_at is None else max(0.0, self.retry_at - time.monotonic())
            error = self.error or self.remote.get("error")
            sc = self.remote.get("scorecard")
            return LiveState(
                self._frame,
                forming,
                self._fc,
                self.status,
                error,
                retry,
                self.last_update,
                scorecard_from_json(sc) if sc else Scorecard(),
                indicators=self._indicators,
            )
