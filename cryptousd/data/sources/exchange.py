"""Exchanges through ccxt: paginated one-minute backfill and live polling of closed candles.

The default market is Coinbase BTC/USD (reachable from the US; Binance.com answers US users with
HTTP 451). Every ccxt failure is turned into one of the typed errors of :mod:`cryptousd.errors`
with a one-line message; retryable ones are retried with exponential backoff that honours the
exchange's rate limit and any ``Retry-After`` header. A reply that does not parse as candles raises
:class:`BadReply` and nothing from it is returned, let alone stored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ...config import DEFAULT_EXCHANGE, DEFAULT_SYMBOL
from ...errors import (
    BadReply,
    DataError,
    RateLimitError,
    RegionBlocked,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
)
from ..candles import make_candle_frame, validate_candles
from .base import ONE_MINUTE, Poll, Source, closed_only, poll_start

_STATUS = re.compile(r"\b([1-5]\d\d)\b")


def translate_ccxt_error(
    exc: Exception, where: str, headers: dict | None = None, status: int | None = None
) -> SourceError:
    """A ccxt exception as one of our typed, one-line errors (``status``: the HTTP status, if
    known).
    """
    import ccxt

    text = str(exc).replace("\n", " ")
    if status is None or status < 400:
        status = next((int(m) for m in _STATUS.findall(text) if int(m) >= 400), None)
    retry_after = None
    if headers:
        value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        try:
            retry_after = float(value) if value is not None else None
        except ValueError:
            retry_after = None
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)) or status in (418, 429):
        return RateLimitError(
            f"{where}: rate limited (HTTP {status or 429})", retry_after=retry_after
        )
    if isinstance(exc, ccxt.RequestTimeout):
        return SourceTimeout(f"{where}: no answer in time; check the network or raise the timeout")
    if status in (451, 403):
        return RegionBlocked(
            f"{where}: refused from this region (HTTP {status}); "
            "use --exchange coinbase or kraken, which serve the US"
        )
    if isinstance(exc, ccxt.BadSymbol):
        return BadReply(
            f"{where}: unknown market ({text[:120]}); list markets with ccxt or pick BTC/USD",
            retry_after=None,
        )
    if isinstance(exc, (ccxt.ExchangeNotAvailable, ccxt.OnMaintenance, ccxt.NetworkError)):
        code = f"HTTP {status}" if status else "network error"
        return SourceUnavailable(f"{where}: exchange unavailable ({code})", retry_after=retry_after)
    if isinstance(exc, (ccxt.BadResponse, ccxt.ExchangeError)):
        return BadReply(f"{where}: error reply ({text[:160]})")
    return SourceUnavailable(f"{where}: {type(exc).__name__}: {text[:160]}")


def rows_to_frame(rows, where: str) -> pd.DataFrame:
    """ccxt OHLCV rows ``[ms, o, h, l, c, v]`` to a candle frame, or :class:`BadReply`."""
    if not isinstance(rows, list):
        kind = "HTML" if isinstance(rows, str) and "<" in rows[:200] else type(rows).__name__
        raise BadReply(
            f"{where}: the reply is {kind}, not candles; the API may have changed or be down"
        )
    if not rows:
        return make_candle_frame([], [], [], [], [], [])
    try:
        arr = np.array(rows, dtype="float64")
    except (TypeError, ValueError):
        raise BadReply(f"{where}: candles with non-numeric fields; reply ignored") from None
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise BadReply(
            f"{where}: candles with {arr.shape[-1] if arr.ndim == 2 else '?'} fields, "
            "expected 6; reply ignored"
        )
    if not np.isfinite(arr[:, :6]).all():
        raise BadReply(f"{where}: candles with missing values; reply ignored")
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    _, keep = np.unique(arr[:, 0], return_index=True)
    arr = arr[keep]
    frame = make_candle_frame(arr[:, 0].astype("int64") * 1_000_000, *arr[:, 1:6].T)
    try:
        return validate_candles(frame, name=where, allow_gaps=True)
    except DataError as exc:
        raise BadReply(f"{exc}; reply ignored") from None


class ExchangeSource(Source):
    """One-minute candles from an exchange through ccxt (REST polling)."""

    kind = "exchange"
    page_limit = 300  # Coinbase serves 300 candles a request; ccxt caps others itself

    def __init__(
        self,
        exchange: str = DEFAULT_EXCHANGE,
        symbol: str = DEFAULT_SYMBOL,
        *,
        client=None,
        timeout_s: float = 10.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if client is None:
            import ccxt

            if not hasattr(ccxt, exchange):
                raise DataError(f"unknown exchange {exchange!r}; try coinbase, kraken or bitstamp")
            client = getattr(ccxt, exchange)(
                {"enableRateLimit": True, "timeout": int(timeout_s * 1000)}
            )
        self.client = client
        self.exchange = client.id
        self._last_status: int | None = None
        on_rest_response = client.on_rest_response

        def record_status(code, reason, url, method, headers, body, *rest):
            self._last_status = int(code) if code is not None else None
            return on_rest_response(code, reason, url, method, headers, body, *rest)

        client.on_rest_response = (
            record_status  # ccxt's hook: lets errors say which HTTP status came back
        )
        self.symbol = symbol
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    @property
    def status(self) -> str:
        return "LIVE"

    def describe(self) -> str:
        return f"LIVE {self.exchange} {self.symbol}"

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.client.milliseconds(), unit="ms", tz="UTC")

    def _call(self, what: str, fn, *args, **kwargs):
        """Call ccxt, translating errors and retrying the retryable ones with backoff."""
        where = f"{self.exchange} {what}"
        for attempt in range(self.max_retries + 1):
            self._last_status = None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - everything is translated below
                if isinstance(exc, SourceError):
                    err = exc
                else:
                    err = translate_ccxt_error(
                        exc,
                        where,
                        getattr(self.client, "last_response_headers", None),
                        self._last_status,
                    )
                if not err.retryable or isinstance(err, BadReply):
                    raise err from None
                if attempt == self.max_retries:
                    if attempt:  # say that retrying was tried, and what to do now
                        err = type(err)(
                            f"{err}; gave up after {attempt + 1} tries: check the network "
                            "or try again later",
                            retry_after=err.retry_after,
                        )
                    raise err from None
                rate_s = getattr(self.client, "rateLimit", 0) / 1000
                self._sleep(max(err.retry_after or 0, rate_s, self.backoff_s * 2**attempt))
        raise AssertionError("unreachable")

    def fetch_page(self, since: pd.Timestamp, limit: int | None = None) -> pd.DataFrame:
        """One request: up to ``limit`` candles from ``since`` (the last may still be forming)."""
        limit = limit or self.page_limit
        since_ms = int(since.value // 1_000_000)
        params = {}
        if self.exchange == "coinbase":  # ccxt needs an explicit end for Coinbase's window
            params["until"] = since_ms + limit * 60_000
        rows = self._call(
            f"fetch_ohlcv {self.symbol}",
            self.client.fetch_ohlcv,
            self.symbol,
            "1m",
            since_ms,
            limit,
            params,
        )
        if rows == [] and isinstance(getattr(self.client, "last_http_response", None), str):
            body = self.client.last_http_response.lstrip()[:1]
            if body and body not in "{[":
                raise BadReply(
                    f"{self.exchange} fetch_ohlcv {self.symbol}: the reply is HTML, not candles; "
                    "the API may be down"
                )
        return rows_to_frame(rows, f"{self.exchange} {self.symbol}")

    def history(
        self, start, end=None, progress: Callable[[int], None] | None = None
    ) -> pd.DataFrame:
        """Closed candles in ``[start, end)``, paginated; ``progress(n)`` is told of each page."""
        from ...times import to_utc

        now = self.now()
        start = to_utc(start).floor("1min")
        end = min(to_utc(end), now) if end is not None else now
        parts, since = [], start
        while since < end:
            page = self.fetch_page(since)
            page = page[(page.index >= since) & (page.index < end)]
            if progress:
                progress(len(page))
            if len(page):
                parts.append(page)
                since = page.index[-1] + ONE_MINUTE
            else:  # an empty window (no trades, or before listing): skip ahead
                since = since + self.page_limit * ONE_MINUTE
        frame = pd.concat(parts) if parts else make_candle_frame([], [], [], [], [], [])
        frame = frame[~frame.index.duplicated(keep="last")]
        closed, _ = closed_only(frame, now)
        return closed

    def poll(self, since: pd.Timestamp | None) -> Poll:
        now = self.now()
        start = poll_start(since, now)
        if now - start > (self.page_limit - 2) * ONE_MINUTE:  # long outage: backfill by pages
            closed = self.history(start, now)
            latest = self.fetch_page(now.floor("1min") - ONE_MINUTE, limit=3)
            _, forming = closed_only(latest, now)
            return Poll(closed, forming, now)
        page = self.fetch_page(start)
        closed, forming = closed_only(page[page.index >= start], now)
        return Poll(closed, forming, now)
