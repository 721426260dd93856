"""Time conversions every layer needs: epoch numbers, UTC timestamps, int64 nanoseconds.

A leaf module: it imports nothing from the package but the errors and the config constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError

# epoch magnitude -> unit: seconds ~1.7e9, ms ~1.7e12, us ~1.7e15, ns ~1.7e18
_UNIT_BOUNDS = [
    (1e11, "s", 1_000_000_000),
    (1e14, "ms", 1_000_000),
    (1e17, "us", 1_000),
    (np.inf, "ns", 1),
]


def index_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Open times as int64 nanoseconds, whatever the index's unit (pandas 3 defaults to us)."""
    return index.as_unit("ns").asi8


def to_utc(ts) -> pd.Timestamp:
    """Anything ``pd.Timestamp`` reads, as a UTC timestamp (naive means UTC).

    Raises :class:`DataError` with a one-line message for text that is not a time.
    """
    try:
        ts = pd.Timestamp(ts)
    except (ValueError, TypeError):
        raise DataError(
            f"{ts!r} is not a date or time; use ISO 8601 such as 2025-03-01 or 2025-03-01T12:30"
        ) from None
    if ts is pd.NaT:
        raise DataError(f"{ts!r} is not a date or time; use ISO 8601 such as 2025-03-01")
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def epoch_units(values: np.ndarray) -> np.ndarray:
    """Index into ``_UNIT_BOUNDS`` for each epoch number (0 = s, 1 = ms, 2 = us, 3 = ns)."""
    a = np.abs(np.asarray(values, dtype="float64"))
    return np.searchsorted(np.array([b for b, _, _ in _UNIT_BOUNDS[:-1]]), a, side="right")


def epoch_to_ns(values: np.ndarray, *, name: str) -> np.ndarray:
    """Epoch numbers in one unit (s, ms, us or ns, told apart by magnitude) to int64 ns.

    Raises :class:`DataError` when one file mixes units (Binance switched its spot archive from
    milliseconds to microseconds on 2025-01-01, so a hand-concatenated file can).
    """
    values = np.asarray(values)
    if len(values) == 0:
        return values.astype("int64")
    units = epoch_units(values)
    if (units != units[0]).any():
        found = sorted({_UNIT_BOUNDS[u][1] for u in np.unique(units)})
        i = int(np.flatnonzero(units != units[0])[0])
        raise DataError(
            f"{name}: mixed timestamp units ({' and '.join(found)}) in one file, "
            f"first change at row {i + 1}; split the file by unit"
        )
    mult = _UNIT_BOUNDS[int(units[0])][2]
    if np.issubdtype(values.dtype, np.floating):
        if not np.isfinite(values).all():
            raise DataError(f"{name}: missing or non-numeric timestamps")
        return np.round(values * mult).astype("int64")
    return values.astype("int64") * mult
