"""Build the feed from settings and run it on uvicorn (what ``cryptousd serve`` runs)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from ...config import DEFAULT_MODEL, DEFAULT_SYMBOL, REPLAY_SPEED
from ...data.sources.factory import make_source
from ...errors import CryptoUSDError, DataError
from ..session import LiveSession
from .app import create_app, normalise_symbol
from .hub import HISTORY_KEEP, QUEUE_EVENTS, Hub, SymbolFeed

FEED_SOURCES = ("auto", "exchange", "replay", "simulated")
MODEL_NOTE = (
    "trained on BTC/USDT minutes, used here for {symbol}: its inputs are mostly scale-free "
    "(log returns, log high/low range, time of day) but log volume is counted in the coin, "
    "so read it as a rough guess, not a model of {symbol}"
)


@dataclass(frozen=True)
class FeedSettings:
    symbols: tuple[str, ...] = (DEFAULT_SYMBOL,)
    source: str = "auto"
    replay: tuple[str, ...] = ()
    speed: float = REPLAY_SPEED
    loop: bool = True  # a replay starts its data again at the end (False: FINISHED, /healthz 503)
    refresh_s: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    model: str | None = None
    queue_events: int = QUEUE_EVENTS
    websocket: bool = True  # trades by websocket for the forming candle where the exchange has it

    def validated(self) -> FeedSettings:
        if self.source not in FEED_SOURCES:
            raise DataError(f"source {self.source!r}: choose one of {', '.join(FEED_SOURCES)}")
        if not self.symbols:
            raise DataError("--symbols: name at least one, e.g. BTC/USD")
        if not (0.05 <= self.refresh_s <= 60):
            raise DataError(f"refresh {self.refresh_s}: between 0.05 and 60 seconds")
        if not (1 <= self.queue_events <= 100_000):
            raise DataError(f"queue {self.queue_events}: between 1 and 100000 events")
        if not is_loopback(self.host) and not self.token:
            raise DataError(
                f"--host {self.host} exposes the feed: set a token with --token or CRYPTOUSD_TOKEN"
            )
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_symbols(text: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(normalise_symbol(s) for s in text.split(",") if s.strip()))
    for s in out:
        base, _, quote = s.partition("/")
        if not (base.isalnum() and quote.isalnum() and len(s) <= 20):
            raise DataError(f"symbol {s!r}: write it as BASE/QUOTE, e.g. BTC/USD")
    return out


def model_for(symbol: str, model: str | None = None) -> tuple[str, str]:
    """The model for ``symbol``: ``model`` when given, else one trained on that symbol in
    ``models/`` (name containing e.g. ``ethusd``), else the default with a note saying so."""
    from ...forecast import available_models

    if model:
        return model, ""
    base = symbol.split("/")[0].lower()
    if base == "btc":
        return DEFAULT_MODEL, ""
    own = [n for n in available_models() if f"-{base}usd" in n]
    if own:
        direct = [n for n in own if "direct" in n]
        return (direct or own)[0], ""
    return DEFAULT_MODEL, MODEL_NOTE.format(symbol=symbol)


def with_websocket(source):
    """An exchange source whose forming candle comes from websocket trades (ccxt.pro
    ``watch_trades``) when the exchange offers them; any other source unchanged."""
    from ...data.sources.exchange import ExchangeSource
    from ...data.sources.stream import StreamingSource, TradeStream

    if not isinstance(source, ExchangeSource):
        return source
    import ccxt.pro

    cls = getattr(ccxt.pro, source.exchange, None)
    if cls is None or not cls().has.get("watchTrades"):
        return source

    def make_client():
        client = cls({"enableRateLimit": True})
        if getattr(source.client, "markets", None):  # the REST client's markets: no reload
            client.set_markets(list(source.client.markets.values()))
        return client

    return StreamingSource(source, TradeStream(make_client, source.symbol).start())


def split_replay(replay: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """``--replay`` items: plain files (for BTC/USD) and ``SYMBOL=FILE`` ones for other symbols."""
    plain, by_symbol = [], {}
    for item in replay:
        head, sep, tail = item.partition("=")
        if sep and "/" in head and not head.startswith((".", "/")):
            by_symbol.setdefault(normalise_symbol(head), []).append(tail)
        else:
            plain.append(item)
    return tuple(plain), by_symbol


def open_source(settings: FeedSettings, symbol: str):
    """(source, note) for ``symbol``: a replay of that symbol's own files when given as
    ``SYMBOL=FILE``, else what :func:`~cryptousd.data.sources.factory.make_source` opens."""
    plain, by_symbol = split_replay(settings.replay)
    if settings.source == "replay" and symbol in by_symbol:
        from ...data.candle_files import load_candles
        from ...data.sources.replay import ReplaySource

        files = by_symbol[symbol]
        name = ", ".join(os.path.basename(f) for f in files)
        candles = load_candles(files if len(files) > 1 else files[0])
        source = ReplaySource(
            candles, speed=settings.speed, symbol=symbol, name=name, loop=settings.loop
        )
        return source, ""
    return make_source(
        settings.source, symbol, replay=plain, speed=settings.speed, loop=settings.loop
    )


def build_hub(settings: FeedSettings) -> Hub:
    """One live session per symbol (slow: loads models, may probe the exchange). A symbol whose
    source cannot be opened is left out with a line saying why, unless none can be."""
    from ...forecast import load_forecaster
    from ...forecast.report import card_headline

    feeds, models, skipped = {}, {}, []
    for symbol in settings.symbols:
        try:
            source, note = open_source(settings, symbol)
        except CryptoUSDError as exc:
            skipped.append(f"{symbol}: {exc}")
            continue
        if settings.websocket:
            source = with_websocket(source)
        name, model_note = model_for(symbol, settings.model)
        if name not in models:  # symbols sharing a model share one copy of it
            # one forecast a minute per symbol takes ~1 ms in NumPy; numba would add ~90 MB of
            # resident memory to the service for nothing a viewer could see
            models[name] = load_forecaster(name, jit=False)
        forecaster = models[name]
        card = getattr(forecaster, "card", None)
        session = LiveSession(source, forecaster, keep=HISTORY_KEEP)
        feeds[symbol] = SymbolFeed(
            symbol,
            session,
            model_line=card_headline(card) if card else forecaster.name,
            model_note=model_note,
            note=note,
            refresh_s=settings.refresh_s,
            queue_events=settings.queue_events,
        )
    if not feeds:
        raise DataError("no symbol could be served: " + "; ".join(skipped))
    for line in skipped:
        print(f"left out {line}", flush=True)
    return Hub(feeds)


def serve_feed(settings: FeedSettings) -> dict:
    """Run the feed in the foreground until Ctrl-C or SIGTERM."""
    import uvicorn

    settings = settings.validated()
    hub = build_hub(settings)
    app = create_app(hub, token=settings.token)
    url = f"http://{settings.host}:{settings.port}/"
    for feed in hub.feeds.values():
        print(f"{feed.symbol}: {feed.session.source.describe()}  {feed.note}".rstrip(), flush=True)
    print(
        f"CryptoUSD live feed: {url}  (API description {url}openapi.json; Ctrl-C to stop)",
        flush=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("CRYPTOUSD_LOG_LEVEL", "warning"),
        access_log=False,
    )
    return {"url": url, "symbols": list(settings.symbols)}
