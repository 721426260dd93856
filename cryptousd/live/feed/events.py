"""Candles, forecasts and session state as plain JSON (no NaN: a missing number is ``null``).

Times are ISO 8601 UTC strings of the candle's open time (``2025-03-25T00:00:00Z``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from ...config import INTERVAL


def num(x) -> float | None:
    """A finite float, or None (JSON null) for NaN, inf and None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def iso(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def candle_json(t: pd.Timestamp, row) -> dict:
    """One candle: ``{"t", "open", "high", "low", "close", "volume"}``."""
    return {
        "t": iso(t),
        "open": num(row["open"]),
        "high": num(row["high"]),
        "low": num(row["low"]),
        "close": num(row["close"]),
        "volume": num(row["volume"]),
    }


def candles_json(frame: pd.DataFrame) -> list[dict]:
    cols = frame[["open", "high", "low", "close", "volume"]].to_numpy()
    return [
        {
            "t": iso(t),
            "open": num(o),
            "high": num(h),
            "low": num(lo),
            "close": num(c),
            "volume": num(v),
        }
        for t, (o, h, lo, c, v) in zip(frame.index, cols, strict=True)
    ]


def forecast_json(fc, symbol: str) -> dict:
    """A :class:`~cryptousd.forecast.base.Forecast`: its 10 candles, the interval of each close,
    P(up) at the last horizon, the model, the latency and the origin (last input candle)."""
    return {
        "symbol": symbol,
        "model": fc.model,
        "origin": iso(fc.origin),
        "interval": INTERVAL,
        "horizon": len(fc.candles),
        "coverage": num(fc.coverage),
        "last_close": num(fc.last_close),
        "p_up": num(fc.p_up),
        "latency_ms": num(fc.elapsed_ms),
        "candles": candles_json(fc.candles),
        "lower": [num(x) for x in fc.lower.to_numpy()],
        "upper": [num(x) for x in fc.upper.to_numpy()],
    }


def scorecard_json(sc) -> dict:
    """The session's running scores at the last horizon, beside persistence on the same minutes."""
    return {
        "resolved": sc.n,
        "mae": num(sc.mae),
        "mae_persistence": num(sc.mae_persistence),
        "mae_ratio": num(sc.mae / sc.mae_persistence) if sc.n and sc.mae_persistence else None,
        "hit_rate": num(sc.hit_rate),
        "directional": sc.directional,
        "coverage": num(sc.coverage),
    }


@dataclass(frozen=True)
class Event:
    """One server-sent event, serialised once and shared by every client's queue."""

    id: int
    event: str  # candle | tick | forecast | state
    data: str  # JSON text

    @property
    def wire(self) -> bytes:
        """The event as it goes on the socket (encoded once, however many clients get it)."""
        cached = self.__dict__.get("_wire")
        if cached is None:
            cached = f"id: {self.id}\nevent: {self.event}\ndata: {self.data}\n\n".encode()
            object.__setattr__(self, "_wire", cached)
        return cached

    def payload(self) -> dict:
        return json.loads(self.data)


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)
