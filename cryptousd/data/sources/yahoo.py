"""Yahoo Finance through yfinance (``BTC-USD``).

Yahoo serves one-minute bars for the last 30 days only, and at most 7 days per request; a request
beyond that raises :class:`DataError` saying so, instead of quietly returning less.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ...config import DEFAULT_YAHOO_TICKER
from ...errors import BadReply, DataError, RateLimitError, SourceError, SourceUnavailable
from ..candles import make_candle_frame, validate_candles
from .base import ONE_MINUTE, Poll, Source, closed_only, poll_start

MAX_DAYS_PER_REQUEST = 7
MAX_DAYS_BACK = 30


def _yfinance_download(ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    import yfinance as yf

    return yf.Ticker(ticker).history(
        start=start, end=end, interval="1m", auto_adjust=False, prepost=True, raise_errors=True
    )


class YahooSource(Source):
    kind = "yahoo"

    def __init__(
        self,
        ticker: str = DEFAULT_YAHOO_TICKER,
        *,
        download: Callable[[str, pd.Timestamp, pd.Timestamp], pd.DataFrame] = _yfinance_download,
        clock: Callable[[], pd.Timestamp] | None = None,
    ):
        self.ticker = ticker
        self.symbol = ticker.replace("-", "/")
        self._download = download
        self._clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @property
    def status(self) -> str:
        return "LIVE"

    def describe(self) -> str:
        return f"LIVE yahoo {self.ticker}"

    def now(self) -> pd.Timestamp:
        return self._clock()

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        where = f"yahoo {self.ticker}"
        try:
            raw = self._download(self.ticker, start, end)
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - yfinance raises many kinds; none may escape untyped
            name = type(exc).__name__
            text = str(exc).replace("\n", " ")[:160]
            if "RateLimit" in name or "Too Many Requests" in text or "429" in text:
                raise RateLimitError(f"{where}: rate limited by Yahoo; wait a minute") from None
            raise SourceUnavailable(f"{where}: {name}: {text}") from None
        if not isinstance(raw, pd.DataFrame):
            raise BadReply(f"{where}: the reply is {type(raw).__name__}, not a table of candles")
        if raw.empty:
            return make_candle_frame([], [], [], [], [], [])
        cols = {c.lower(): c for c in raw.columns}
        if not all(k in cols for k in ("open", "high", "low", "close", "volume")):
            raise BadReply(f"{where}: reply lacks OHLCV columns (has {list(raw.columns)})")
        idx = pd.DatetimeIndex(raw.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        frame = make_candle_frame(
            idx, *(raw[cols[k]].to_numpy() for k in ("open", "high", "low", "close", "volume"))
        )
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        try:
            return validate_candles(frame, name=where, allow_gaps=True)
        except DataError as exc:
            raise BadReply(f"{exc}; reply ignored") from None

    def history(self, start, end=None) -> pd.DataFrame:
        from ...times import to_utc

        now = self.now()
        start = to_utc(start).floor("1min")
        end = min(to_utc(end), now) if end is not None else now
        oldest = now - pd.Timedelta(days=MAX_DAYS_BACK)
        if start < oldest:
            raise DataError(
                f"yahoo {self.ticker}: one-minute history reaches back {MAX_DAYS_BACK} days only "
                f"(to {oldest:%Y-%m-%d %H:%M}), asked from {start:%Y-%m-%d}; "
                "use an exchange or archive files for older data"
            )
        parts, a = [], start
        while a < end:
            b = min(a + pd.Timedelta(days=MAX_DAYS_PER_REQUEST), end)
            parts.append(self._fetch(a, b))
            a = b
        frame = pd.concat([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
        frame = frame[~frame.index.duplicated(keep="last")]
        closed, _ = closed_only(frame[frame.index >= start], now)
        return closed

    def poll(self, since: pd.Timestamp | None) -> Poll:
        now = self.now()
        start = poll_start(since, now)
        frame = self._fetch(start, now + ONE_MINUTE)
        closed, forming = closed_only(frame[frame.index >= start], now)
        return Poll(closed, forming, now)
