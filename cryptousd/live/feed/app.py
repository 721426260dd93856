"""The FastAPI application: history, predict, metrics, an SSE stream, health and a static page.

Every answer is JSON; every error is JSON with a 4xx status (5xx only for "not ready yet").
Nothing a client sends reaches a file path or a shell: the symbol is looked up in a dict, the
static page is a fixed set of files shipped in the package.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse

from .events import candles_json, forecast_json, num
from .hub import Hub, SymbolFeed

STATIC = {  # name -> media type; nothing else is served from disk
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_LIMIT = 10_000
READY_WAIT_S = 10.0  # how long a new stream waits for the first candles before it starts
Symbol = Annotated[str, Query(min_length=1, max_length=40, description="e.g. BTC/USD")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="closed candles, newest last")]
LastEventId = Annotated[str | None, Header()]


class FeedError(Exception):
    def __init__(self, status: int, detail: str, **extra):
        self.status, self.detail, self.extra = status, detail, extra


def normalise_symbol(raw: str) -> str:
    return raw.strip().upper().replace("-", "/")


def create_app(hub: Hub, *, token: str | None = None) -> FastAPI:
    """The app serving ``hub``; with ``token`` every /api/ route needs it (bearer or ?token=)."""

    @asynccontextmanager
    async def lifespan(app):
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="CryptoUSD live feed",
        description="One live session per symbol: candles, forecasts and scores, shared by all.",
        version="1",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load their scripts from a CDN and are blank offline; the
        # description is /openapi.json, and /docs leads there (see docs_redirect below)
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(FeedError)
    async def feed_error(request: Request, exc: FeedError):
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)

    def feed_for(symbol: str) -> SymbolFeed:
        feed = hub.feeds.get(normalise_symbol(symbol))
        if feed is None:
            raise FeedError(
                404,
                f"unknown symbol {symbol[:40]!r}; this feed serves {', '.join(hub.symbols)}",
                symbols=hub.symbols,
            )
        return feed

    def check_token(request: Request) -> None:
        if token is None:
            return
        given = request.query_params.get("token", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise FeedError(
                401,
                "a token is required: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN",
            )

    @app.get("/healthz")
    async def healthz():
        """Readiness: 200 while every symbol is live or replaying; 503 with the reasons while
        one is FINISHED, failing for over a minute, without candles yet, or its loop stopped."""
        why = hub.health()
        reasons = [r for r in why.values() if r]
        body = {
            "ok": not reasons,
            "reason": "; ".join(reasons) or None,
            "symbols": {
                s: {
                    "status": f.session.status,
                    "ready": why[s] is None,
                    "reason": why[s],
                    "clients": len(f.subscribers),
                    "events": f.next_id - 1,
                }
                for s, f in hub.feeds.items()
            },
        }
        return JSONResponse(body, status_code=503 if reasons else 200)

    @app.get("/livez")
    async def livez():
        """Liveness: 200 while the process and its event loop answer and every tick loop runs."""
        why = hub.alive()
        return JSONResponse({"ok": why is None, "reason": why}, status_code=503 if why else 200)

    @app.get("/api/history")
    async def history(
        request: Request,
        symbol: Symbol = "BTC/USD",
        limit: Limit = 60,
    ):
        """Closed candles, newest last."""
        check_token(request)
        feed = feed_for(symbol)
        return {"symbol": feed.symbol, "candles": candles_json(feed.history.iloc[-limit:])}

    @app.get("/api/predict")
    async def predict(request: Request, symbol: Symbol = "BTC/USD"):
        """The latest forecast: 10 candles, their interval, P(up), model, latency, origin."""
        check_token(request)
        feed = feed_for(symbol)
        fc = feed.session.forecast
        if fc is None:
            raise FeedError(
                503,
                f"{feed.symbol}: no forecast yet ({len(feed.history)} of "
                f"{feed.session.window} candles); retry in a few seconds",
            )
        out = forecast_json(fc, feed.symbol)
        out.update(model_line=feed.model_line, model_note=feed.model_note)
        return out

    @app.get("/api/metrics")
    async def metrics(request: Request, symbol: Symbol = "BTC/USD"):
        """The live scorecard beside persistence, the model card's headline, the source state."""
        check_token(request)
        feed = feed_for(symbol)
        ms = sorted(feed.session.forecast_ms)
        state = feed.state_json()
        return {
            **state,
            "model": feed.session.forecaster.name,
            "model_line": feed.model_line,
            "model_note": feed.model_note,
            "forecast_ms_p50": num(ms[len(ms) // 2]) if ms else None,
            "forecast_ms_max": num(ms[-1]) if ms else None,
            "candles": len(feed.history),
            "last_candle": candles_json(feed.history.iloc[-1:])[0]["t"]
            if len(feed.history)
            else None,
            "clients": len(feed.subscribers),
            "clients_dropped": feed.stats.dropped,
            "streams_served": feed.stats.served,
            "events": feed.next_id - 1,
            "ticks": feed.stats.ticks,
            "uptime_s": num(time.time() - feed.stats.started),
        }

    @app.get("/api/stream")
    async def stream(
        request: Request,
        symbol: Symbol = "BTC/USD",
        last_event_id: LastEventId = None,
    ):
        """Server-Sent Events ``candle``, ``tick``, ``forecast``, ``state`` with ids; reconnect
        with ``Last-Event-ID`` to get what was missed (from a bounded buffer)."""
        check_token(request)
        feed = feed_for(symbol)
        raw = last_event_id or request.query_params.get("last_event_id")
        last = None
        if raw not in (None, ""):
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
                raise FeedError(422, f"Last-Event-ID {raw[:20]!r}: not an event id (digits)")
            last = int(raw)

        async def events():
            if not feed.ready.is_set():  # no candles yet: the backfill comes as the snapshot
                try:
                    await asyncio.wait_for(feed.ready.wait(), timeout=READY_WAIT_S)
                except TimeoutError:
                    pass  # a source that has nothing yet: stream its state events meanwhile
            sub = feed.subscribe(last)  # here, so that a stream never started leaves nothing
            try:
                if sub.backlog:
                    yield b"".join(ev.wire for ev in sub.backlog)
                sub.backlog = []
                while True:
                    batch = [await sub.queue.get()]
                    while not sub.queue.empty():  # what piled up goes out in one write
                        batch.append(sub.queue.get_nowait())
                    if batch[-1] is None:  # dropped: fell behind; it reconnects with its id
                        return
                    yield b"".join(ev.wire for ev in batch)
            finally:
                feed.unsubscribe(sub)

        return EventSourceResponse(
            events(),
            ping=15,
            send_timeout=30,  # a send stuck behind a client that reads nothing gives up
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(_static("index.html"))

    @app.get("/docs", include_in_schema=False)
    async def docs_redirect():
        return RedirectResponse("openapi.json")  # relative: right behind a path prefix too

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        icon = (files("cryptousd.live.feed") / "static" / "favicon.ico").read_bytes()
        return Response(icon, media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC:
            raise FeedError(404, f"no static file {name[:40]!r}")
        return Response(_static(name), media_type=STATIC[name])

    return app


def _static(name: str) -> str:
    return (files("cryptousd.live.feed") / "static" / name).read_text(encoding="utf-8")


__all__ = ["MAX_LIMIT", "create_app", "normalise_symbol"]
