"""The forecaster interface and the Forecast it returns.

Every forecaster maps windows of raw features (and log closes) to the mean cumulative log return
of the next ``horizon`` minutes; this base class turns that into prices, a calibrated interval and
P(up). The baselines (:mod:`.baselines`) have exactly the same interface as the LSTM.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import COVERAGE, HORIZON, INTERVAL_NS, OHLCV, WINDOW
from ..errors import ModelError
from ..times import index_ns
from .features import FEATURES, features_from_arrays, windows
from .inputs import input_matrix, lookback
from .intervals import Calibration, window_sigma


@dataclass
class Forecast:
    """The next ``horizon`` candles of one forecast.

    ``candles`` continue the input's index and are always valid OHLC: open = the previous close,
    close = the predicted close, high/low reach the interval's bounds. Predicted candles carry no
    volume (0). ``lower``/``upper`` bound the close at ``coverage``; ``p_up`` is the probability
    that the close ``horizon`` minutes ahead is above ``last_close``.
    """

    candles: pd.DataFrame
    lower: pd.Series
    upper: pd.Series
    p_up: float
    model: str
    elapsed_ms: float
    coverage: float
    origin: pd.Timestamp  # open time of the last input candle
    last_close: float

    @property
    def close(self) -> pd.Series:
        return self.candles["close"]

    @property
    def change_pct(self) -> float:
        """Forecast close at the last horizon against the last close, in percent."""
        return float((self.candles["close"].iloc[-1] / self.last_close - 1) * 100)


_CANDLE_COLUMNS = pd.Index(OHLCV)


def forecast_candles(last_time_ns: int, last_close: float, mean, lower, upper) -> pd.DataFrame:
    """Cumulative log returns (H,) to a valid candle frame continuing after ``last_time_ns``."""
    close = last_close * np.exp(mean)
    lo = last_close * np.exp(lower)
    hi = last_close * np.exp(upper)
    ohlcv = np.empty((len(mean), 5))
    ohlcv[0, 0] = last_close
    ohlcv[1:, 0] = close[:-1]
    ohlcv[:, 3] = close
    np.maximum(np.maximum(ohlcv[:, 0], close), hi, out=ohlcv[:, 1])
    np.minimum(np.minimum(ohlcv[:, 0], close), lo, out=ohlcv[:, 2])
    ohlcv[:, 4] = 0.0
    index = _future_index(last_time_ns, len(mean))
    return pd.DataFrame(ohlcv, index=index, columns=_CANDLE_COLUMNS)


def _future_index(last_time_ns: int, n: int) -> pd.DatetimeIndex:
    """The ``n`` open times after ``last_time_ns``, as a UTC index named ``open_time``."""
    times = last_time_ns + INTERVAL_NS * np.arange(1, n + 1, dtype="int64")
    return pd.DatetimeIndex(times.view("M8[ns]"), name="open_time").tz_localize("UTC")


def _columns(candles: pd.DataFrame, names: list[str], rows: int) -> np.ndarray:
    """The last ``rows`` of the named columns as one float64 (rows, len(names)) array; a missing
    column raises ``KeyError``. Reads each column's array directly (a per-column ``candles[c]``
    builds a Series each time, which costs more than the whole forward pass)."""
    get = getattr(candles, "_get_column_array", None)  # pandas' column access without a Series
    cols = list(candles.columns)
    out = np.empty((min(rows, len(candles)), len(names)))
    for j, name in enumerate(names):
        if get is not None and name in cols and cols.count(name) == 1:
            col = get(cols.index(name))
        else:
            col = candles[name].to_numpy()
        out[:, j] = col[len(col) - len(out) :]
    return out


def check_window(candles: pd.DataFrame, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``window`` rows as (ohlcv float64, times ns), or a one-line :class:`ModelError`."""
    if not isinstance(candles, pd.DataFrame) or not isinstance(candles.index, pd.DatetimeIndex):
        raise ModelError(
            "predict() takes a candle frame indexed by open_time (see cryptousd.load_candles)"
        )
    if len(candles) < window:
        raise ModelError(
            f"the model reads {window} candles, got {len(candles)}; "
            f"pass at least the last {window} closed candles"
        )
    try:
        ohlcv = _columns(candles, OHLCV, window)
    except KeyError as exc:
        raise ModelError(f"candles lack column(s) {exc}; need {', '.join(OHLCV)}") from None
    times = index_ns(candles.index[len(candles) - window :])
    if not np.isfinite(ohlcv).all():
        raise ModelError(
            "the last candles contain NaN or infinite values; repair or fill them first"
        )
    if (np.diff(times) != INTERVAL_NS).any():
        i = int(np.flatnonzero(np.diff(times) != INTERVAL_NS)[0])
        raise ModelError(
            f"the last {window} candles have a gap after {candles.index[i - window]}; "
            "fill it with cryptousd.fill_gaps first"
        )
    if (ohlcv[:, 3] <= 0).any() or (ohlcv[:, 1] < ohlcv[:, 2]).any():
        raise ModelError("the last candles hold impossible prices (<= 0, or high < low)")
    return ohlcv, times


def scaled_chunks(scaler, feats: np.ndarray, origins: np.ndarray, window: int, chunk: int):
    """For batch inference of windowed nets: per chunk of ``origins``, yield (position of the
    chunk, its rows scaled once each, the start of each origin's window in those rows). A minute
    shared by many windows is scaled once per chunk, not once per window."""
    for i in range(0, len(origins), chunk):
        o = origins[i : i + chunk]
        first = int(o.min()) - window + 1
        yield i, scaler.transform(feats[first : int(o.max()) + 1]), o - window + 1 - first


class Forecaster(ABC):
    """Base class: subclasses implement :meth:`predict_cum`."""

    name: str = "forecaster"
    window: int = WINDOW
    horizon: int = HORIZON
    calibration: Calibration | None = None
    card: dict | None = None
    #: per-candle input columns ``predict_cum`` reads, in order (names from
    #: :data:`cryptousd.forecast.inputs.ALL_INPUTS`); the base five unless a forecaster asks for
    # more
    inputs: tuple[str, ...] = tuple(FEATURES)
    #: a model of this forecaster's own error scale (``scale(logc, times_ns, origins) -> (B,)``,
    #: e.g. :class:`cryptousd.forecast.scale.ScaleModel`); None draws intervals at the window's
    #: volatility
    scale_model = None

    # the one method a forecaster must provide ---------------------------------------------
    @abstractmethod
    def predict_cum(
        self, feats: np.ndarray, logc: np.ndarray, next_time_ns: np.ndarray
    ) -> np.ndarray:
        """Mean cumulative log returns (B, horizon) from raw feature windows (B, W, F), log closes
        (B, W) and the open time of each window's first future minute (B,)."""

    def fit(self, feats: np.ndarray, logc: np.ndarray, split) -> Forecaster:
        """Learn parameters from training rows (baselines that need it override this)."""
        return self

    # shared machinery ----------------------------------------------------------------------
    def predict_origins(
        self,
        feats: np.ndarray,
        logc: np.ndarray,
        times_ns: np.ndarray,
        origins: np.ndarray,
        chunk: int = 8192,
    ) -> np.ndarray:
        """Batch inference at many origins of one series: (B, horizon) mean cumulative log
        returns.
        """
        out = np.empty((len(origins), self.horizon))
        for i in range(0, len(origins), chunk):
            o = origins[i : i + chunk]
            out[i : i + chunk] = self.predict_cum(
                windows(feats, o, self.window),
                windows(logc[:, None], o, self.window)[..., 0],
                times_ns[o] + INTERVAL_NS,
            )
        return out

    def origin_scale(self, feats, logc, times_ns, origins) -> np.ndarray:
        """The scale (B,) each origin's interval is drawn at: by default the standard deviation of
        the window's one-minute returns (``feats`` column ``ret``). A forecaster with a model of
        its own errors overrides this, so a better model shows narrower bands at equal coverage."""
        if self.scale_model is not None:
            return self.scale_model.scale(logc, times_ns, origins)
        if "ret" not in self.inputs:
            raise ModelError(
                f"{self.name} reads no 'ret' input to draw its interval at; add 'ret' to its "
                "inputs or give it a scale_model"
            )
        j = self.inputs.index("ret")
        return window_sigma(windows(feats[:, j : j + 1], origins, self.window)[..., 0])

    def calibrate(self, feats, logc, times_ns, origins) -> Calibration:
        """Fit the interval / P(up) calibration on held-out origins."""
        mean = self.predict_origins(feats, logc, times_ns, origins)
        actual = logc[origins[:, None] + np.arange(1, self.horizon + 1)] - logc[origins, None]
        sigma = self.origin_scale(feats, logc, times_ns, origins)
        self.calibration = Calibration.fit(mean, actual, sigma)
        return self.calibration

    def input_rows(self, candles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(feats, log closes, open times ns) of the rows :meth:`predict` reads from ``candles``,
        for a forecaster with inputs beyond the base five: its window plus the inputs' lookback."""
        rows = self.window + lookback(self.inputs)
        ohlcv, times = check_window(candles, rows)
        tail = candles.iloc[len(candles) - rows :]
        return input_matrix(tail, self.inputs), np.log(ohlcv[:, 3]), times

    def predict(self, candles: pd.DataFrame, coverage: float = COVERAGE) -> Forecast:
        """Forecast the next ``horizon`` candles from the last ``window`` closed candles."""
        t0 = time.perf_counter()
        if self.inputs == tuple(FEATURES):
            ohlcv, times = check_window(candles, self.window)
            feats = features_from_arrays(ohlcv, times)
            logc = np.log(ohlcv[:, 3])
            mean = self.predict_cum(feats[None], logc[None], times[-1:] + INTERVAL_NS)[0]
            if self.scale_model is None:
                sigma = window_sigma(feats[:, 0])
            else:
                sigma = float(self.origin_scale(feats, logc, times, np.array([len(logc) - 1]))[0])
            last_close = float(ohlcv[-1, 3])
        else:
            all_feats, all_logc, all_times = self.input_rows(candles)
            last = np.array([len(all_logc) - 1])
            mean = self.predict_origins(all_feats, all_logc, all_times, last)[0]
            sigma = float(self.origin_scale(all_feats, all_logc, all_times, last)[0])
            times = all_times
            last_close = float(candles["close"].iloc[-1])
        if self.calibration is None:
            raise ModelError(
                f"{self.name} has no interval calibration; "
                "calibrate it (or load a trained model folder)"
            )
        lower, upper = self.calibration.interval(mean[None], sigma, coverage)
        p_up = float(self.calibration.p_up(mean[-1:], np.atleast_1d(sigma))[0])
        frame = forecast_candles(int(times[-1]), last_close, mean, lower[0], upper[0])
        return Forecast(
            candles=frame,
            lower=pd.Series(last_close * np.exp(lower[0]), index=frame.index, name="lower"),
            upper=pd.Series(last_close * np.exp(upper[0]), index=frame.index, name="upper"),
            p_up=p_up,
            model=self.name,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
            coverage=coverage,
            origin=candles.index[-1],
            last_close=last_close,
        )
