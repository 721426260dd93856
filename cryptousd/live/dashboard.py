"""The live dashboard: a bqplot / ipywidgets view of a :class:`~cryptousd.live.session.LiveSession`.

The view only renders; the session moves data; a daemon thread (the timer) calls ``tick`` then
``render`` every ``refresh`` seconds. Settings come from the page's controls and, for unattended
runs, from the environment: ``CRYPTOUSD_SOURCE`` (auto, exchange, yahoo, replay, simulated),
``CRYPTOUSD_REPLAY`` (files or a store folder, ``os.pathsep``-separated), ``CRYPTOUSD_REPLAY_SPEED``
(minutes of market time per second), ``CRYPTOUSD_REPLAY_LOOP`` (1, the default: a replay loops
over its data for as long as someone watches; 0: it ends with FINISHED), ``CRYPTOUSD_REFRESH_S``,
``CRYPTOUSD_MODEL``, and ``CRYPTOUSD_CLASSIFIER`` (a direction model folder, ``NAME`` or
``NAME:lstm``: P(up) from it). The source ``feed`` draws what a running ``cryptousd serve``
streams (``CRYPTOUSD_FEED_URL``, default http://127.0.0.1:8000, and ``CRYPTOUSD_TOKEN`` when it
needs one) and computes nothing itself.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from ..config import DEFAULT_SYMBOL, REPLAY_SPEED
from ..data.sources.factory import SOURCES, make_source
from ..errors import CryptoUSDError, DataError
from .dashboard_view import SYMBOLS, DashboardView, panel_html
from .session import LiveSession

__all__ = [
    "Dashboard",
    "DashboardView",
    "Settings",
    "make_source",
    "panel_html",
    "served_by_voila",
    "wait_for_viewer",
]


@dataclass(frozen=True)
class Settings:
    source: str = "auto"
    symbol: str = DEFAULT_SYMBOL
    replay: tuple[str, ...] = ()
    replay_speed: float = REPLAY_SPEED
    replay_loop: bool = True  # a replay starts its data again at the end (False: FINISHED)
    refresh_s: float = 1.0
    model: str | None = None
    classifier: str | None = None  # a direction model folder: P(up) from it when set
    classifier_kind: str | None = None  # mlp or lstm (default mlp)
    feed_url: str = "http://127.0.0.1:8000"
    feed_token: str | None = None

    @classmethod
    def from_env(cls, env=os.environ) -> Settings:
        def num(key, default):
            raw = env.get(key)
            if raw in (None, ""):
                return default
            try:
                return float(raw)
            except ValueError:
                raise DataError(f"{key}={raw!r}: not a number") from None

        replay = tuple(p for p in env.get("CRYPTOUSD_REPLAY", "").split(os.pathsep) if p)
        return cls(
            source=env.get("CRYPTOUSD_SOURCE", "auto") or "auto",
            replay=replay,
            replay_speed=num("CRYPTOUSD_REPLAY_SPEED", REPLAY_SPEED),
            replay_loop=flag(env, "CRYPTOUSD_REPLAY_LOOP", True),
            refresh_s=num("CRYPTOUSD_REFRESH_S", 1.0),
            model=env.get("CRYPTOUSD_MODEL") or None,
            classifier=(env.get("CRYPTOUSD_CLASSIFIER") or "").split(":")[0] or None,
            classifier_kind=(env.get("CRYPTOUSD_CLASSIFIER") or "").partition(":")[2] or None,
            feed_url=env.get("CRYPTOUSD_FEED_URL") or cls.feed_url,
            feed_token=env.get("CRYPTOUSD_TOKEN") or None,
        ).validated()

    def validated(self) -> Settings:
        """Check values (they may come from a browser); raise a one-line DataError."""
        if self.source not in SOURCES:
            raise DataError(f"source {self.source!r}: choose one of {', '.join(SOURCES)}")
        if self.symbol not in SYMBOLS:
            raise DataError(f"symbol {self.symbol!r}: choose one of {', '.join(SYMBOLS)}")
        if not (isinstance(self.refresh_s, (int, float)) and 0.1 <= self.refresh_s <= 60):
            raise DataError(f"refresh interval {self.refresh_s}: between 0.1 and 60 seconds")
        if not (isinstance(self.replay_speed, (int, float)) and 1 <= self.replay_speed <= 10_000):
            raise DataError(
                f"replay speed {self.replay_speed}: between 1 and 10000 minutes per second"
            )
        if self.classifier_kind not in (None, "mlp", "lstm"):
            raise DataError(f"classifier kind {self.classifier_kind!r}: choose mlp or lstm")
        if not self.feed_url.startswith(("http://", "https://")):
            raise DataError(f"feed URL {self.feed_url!r}: must start with http:// or https://")
        return self


def flag(env, key: str, default: bool) -> bool:
    """A yes/no environment variable (1/0, true/false, yes/no, on/off)."""
    raw = (env.get(key) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw in ("1", "true", "yes", "on")
    raise DataError(f"{key}={raw!r}: write 1 or 0")


class Dashboard:
    """Wires settings, a source, a forecaster, a :class:`LiveSession` and the view, with a timer
    thread.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = (settings or Settings.from_env()).validated()
        self.forecaster = None  # loaded with the first source that is not the feed
        self.model_line = ""
        self.view = DashboardView()
        self.view.set_controls(self.settings)
        self.note = ""
        self.session: LiveSession | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.render_ms: deque[float] = deque(maxlen=500)
        self._connect()
        self.view.symbol.observe(lambda ch: self._change(symbol=ch["new"]), "value")
        self.view.source.observe(lambda ch: self._change(source=ch["new"]), "value")
        self.view.refresh.observe(lambda ch: self._change(refresh_s=ch["new"]), "value")
        self.view.speed.observe(lambda ch: self._change(replay_speed=float(ch["new"])), "value")
        self.view.pause.observe(self._toggle_pause, "value")
        self.classifier = None  # a DirectionClassifier when P(up) comes from one
        self._classified: tuple | None = None  # (last candle, (label, {h: P(up)}))
        if self.settings.classifier:
            self.view.pup_source.value = f"classifier ({self.settings.classifier_kind or 'mlp'})"
        self.view.pup_source.observe(lambda ch: self._choose_classifier(ch["new"]), "value")
        self._choose_classifier(self.view.pup_source.value)

    @property
    def widget(self):
        return self.view.widget

    def _open(self, settings: Settings) -> tuple[LiveSession, str]:
        """A new session on the source ``settings`` name (slow: may probe the network; no lock)."""
        if settings.source == "feed":  # the service's session, read over HTTP: no model here
            from .feed.client import FeedSession

            session = FeedSession(settings.feed_url, settings.symbol, token=settings.feed_token)
            session.paused = bool(self.view.pause.value)
            return session, ""
        if self.forecaster is None:
            from ..forecast import load_forecaster
            from ..forecast.report import card_headline

            # one forecast per closed candle takes ~1 ms in NumPy: the kernel never imports
            # numba (its import and compiled-code cache would only delay the first chart)
            self.forecaster = load_forecaster(self.settings.model, jit=False)
            card = getattr(self.forecaster, "card", None)
            self.model_line = card_headline(card) if card else self.forecaster.name
        source, note = make_source(
            settings.source,
            settings.symbol,
            replay=settings.replay,
            speed=settings.replay_speed,
            loop=settings.replay_loop,
        )
        session = LiveSession(source, self.forecaster)
        session.paused = bool(self.view.pause.value)
        return session, note

    def _connect(self) -> None:
        session, note = self._open(self.settings)
        with self._lock:
            self.session, self.note = session, note

    def _show_error(self, text: str) -> None:
        self.view.message.value = (
            f"<span class='cu-error' style='color:#c62828'>{html.escape(text)[:300]}</span>"
        )

    def _change(self, **kw) -> None:
        """Apply one control's new value; the timer never sees a half-changed session."""
        try:
            new = replace(self.settings, **kw).validated()
            opened = None
            if (new.source, new.symbol) != (self.settings.source, self.settings.symbol):
                opened = self._open(new)
        except CryptoUSDError as exc:
            self._show_error(str(exc))
            return
        self.view.message.value = ""
        with self._lock:
            old, self.settings = self.settings, new
            if opened is not None:
                stale, (self.session, self.note) = self.session, opened
                getattr(stale, "close", lambda: None)()  # a feed reader stops its thread
            elif new.replay_speed != old.replay_speed and hasattr(self.session.source, "set_speed"):
                self.session.source.set_speed(new.replay_speed)

    def _choose_classifier(self, choice: str) -> None:
        """P(up) from the forecaster, or from the direction classifier of that kind (NumPy)."""
        from ..forecast.direction import load_classifier

        if choice == "forecaster":
            self.classifier = None
            return
        kind = choice.split("(")[1].rstrip(")")
        try:
            self.classifier = load_classifier(self.settings.classifier or None, kind, jit=False)
        except CryptoUSDError as exc:
            self._show_error(str(exc))
            self.view.pup_source.value = "forecaster"
            return
        self._classified = None

    def _classify(self, state):
        """The classifier's P(up) at the state's last candle (computed once per closed candle)."""
        clf = self.classifier
        if clf is None or not len(state.candles) or not hasattr(self.session, "indicator_frame"):
            return None  # the feed source computes nothing in the kernel
        key = (state.candles.index[-1], clf.label)
        if self._classified is None or self._classified[0] != key:
            session = self.session
            p = clf.p_up(session.candles, session.indicator_frame())
            self._classified = (key, (clf.label, p))
        return self._classified[1]

    def _toggle_pause(self, change) -> None:
        with self._lock:
            self.session.paused = bool(change["new"])
        self.view.pause.description = "Resume" if change["new"] else "Pause"
        self.view.pause.icon = "play" if change["new"] else "pause"

    def step(self) -> float:
        """One timer tick: poll, forecast, render. Returns the kernel time it took in ms."""
        t0 = time.perf_counter()
        with self._lock:
            session = self.session
            session.tick()
            state = session.state()
        model_line = getattr(session, "model_line", None) or self.model_line
        self.view.render(
            state,
            describe=session.source.describe(),
            model_line=model_line,
            note=self.note,
            classifier=self._classify(state),
            seams=seams_shown(session.source, state),
        )
        ms = (time.perf_counter() - t0) * 1000
        self.render_ms.append(ms)
        return ms

    def start(self) -> None:
        """Start the timer (a daemon thread); it survives any error and shows it on the page."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        with self._lock:  # a replay's market clock starts now, not when the kernel started
            getattr(self.session.source, "restart_clock", lambda: None)()

        watch = PageWatch()

        def loop():
            failing = False
            while not self._stop.is_set():
                try:
                    self.step()
                    if failing:
                        self.view.message.value, failing = "", False
                except Exception as exc:  # noqa: BLE001 - the page must say it, the loop must go on
                    self._show_error(f"{type(exc).__name__}: {exc}")
                    failing = True
                if watch.page_gone():  # nobody watches: stop, so the server can cull the kernel
                    self._stop.set()
                self._stop.wait(self.settings.refresh_s)

        self._thread = threading.Thread(target=loop, name="cryptousd-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


class PageWatch:
    """Whether the page this Voila kernel serves is still open.

    Voila frees a page's kernel when the page's unload beacon arrives; a crashed tab or a dropped
    network sends none, and a kernel whose timer keeps ticking never looks idle to the server's
    culler. So the timer asks the server, every ``every_s``, how many pages are connected to its
    own kernel (``GET /api/kernels/<id>``, as Voila's environment names it), and reports the page
    gone after ``gone_s`` with none: the timer stops, the kernel goes idle, the culler frees it.
    Outside Voila, or where the server does not answer that (a token, a proxy in between), it
    never reports the page gone: then only the unload beacon frees a closed page's kernel.
    """

    def __init__(self, env=os.environ, gone_s: float | None = None, every_s=None, clock=None):
        kernel, port = env.get("VOILA_KERNEL_ID"), env.get("VOILA_APP_PORT")
        if gone_s is None:  # CRYPTOUSD_UNWATCHED_S: seconds with no page before the timer stops
            gone_s = float(env.get("CRYPTOUSD_UNWATCHED_S") or 60.0)
        every_s = min(10.0, gone_s / 3) if every_s is None else every_s
        base = env.get("VOILA_SERVER_URL", "/")
        host = env.get("VOILA_APP_IP", "127.0.0.1")
        self.url = f"http://{host}:{port}{base}api/kernels/{kernel}" if kernel and port else None
        self.gone_s, self.every_s = gone_s, every_s
        self._clock = clock or time.monotonic
        self._next = self._clock()
        self._alone_since: float | None = None

    def connections(self) -> int | None:
        """Pages connected to this kernel, or None where the server does not say."""
        import httpx

        try:
            r = httpx.get(self.url, timeout=2.0)
            return int(r.json()["connections"]) if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def page_gone(self) -> bool:
        now = self._clock()
        if self.url is None or now < self._next:
            return False
        self._next = now + self.every_s
        n = self.connections()
        if n is None:
            self.url = None  # the server does not tell: never guess the page is gone
            return False
        if n > 0:
            self._alone_since = None
            return False
        self._alone_since = self._alone_since if self._alone_since is not None else now
        return now - self._alone_since >= self.gone_s


def seams_shown(source, state) -> list:
    """(time, "loop N") where a looping replay starts its data again on the shown minutes."""
    seams = getattr(source, "seams", None)
    if seams is None or not len(state.candles):
        return []
    end = state.candles.index[-1]
    if state.forecast is not None:
        end = state.forecast.candles.index[-1]
    return [(t, f"loop {source.pass_of(t) + 1}") for t in seams(state.candles.index[0], end)]


def wait_for_viewer() -> None:
    """In a preheated Voila kernel, block until a page asks for it (Voila's
    ``wait_for_request``; at once anywhere else), so nothing is played before someone watches."""
    if os.environ.get("VOILA_PREHEAT", "False") == "False":
        return
    from voila.utils import wait_for_request

    wait_for_request()


def served_by_voila() -> bool:
    return any(k in os.environ for k in ("VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL"))
