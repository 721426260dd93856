"""The LSTM forecaster at inference time: NumPy only, never TensorFlow."""

from __future__ import annotations

import numpy as np

from ..config import INTERVAL_NS
from .base import Forecaster, scaled_chunks
from .features import Scaler, time_of_day
from .numpy_lstm import NumpyLSTM


class LSTMForecaster(Forecaster):
    """LSTM 64 -> Dropout -> LSTM 32 -> Dense 16 -> Dense out, in one of two variants.

    - ``direct``: Dense(horizon) predicts all future one-minute returns at once;
    - ``recursive``: Dense(1) predicts the next minute, which is appended to the window (with the
      range and volume features held at their training means) and fed back ``horizon`` times.

    Outputs are one-minute log returns divided by ``y_scale`` (their training standard deviation).
    """

    def __init__(
        self,
        net: NumpyLSTM,
        scaler: Scaler,
        y_scale: float,
        variant: str,
        name: str,
        window: int,
        horizon: int,
    ):
        self.net, self.scaler, self.y_scale, self.variant = net, scaler, float(y_scale), variant
        self.name, self.window, self.horizon = name, window, horizon
        expected = horizon if variant == "direct" else 1
        if net.n_out != expected:
            raise ValueError(
                f"{variant} variant needs {expected} outputs, the weights have {net.n_out}"
            )

    def predict_origins(
        self,
        feats: np.ndarray,
        logc: np.ndarray,
        times_ns: np.ndarray,
        origins: np.ndarray,
        chunk: int = 8192,
    ) -> np.ndarray:
        """As :meth:`Forecaster.predict_origins`; the direct variant scales each minute's features
        once (not once per window that contains it) and hands the network the scaled rows and
        where each window starts (:meth:`NumpyLSTM.forward_rows`): the same numbers, no window
        copied."""
        if self.variant != "direct" or len(origins) == 0:
            return super().predict_origins(feats, logc, times_ns, origins, chunk)
        out = np.empty((len(origins), self.horizon))
        for i, scaled, starts in scaled_chunks(self.scaler, feats, origins, self.window, chunk):
            r = self.net.forward_rows(scaled, starts, self.window)
            out[i : i + len(starts)] = np.cumsum(r.astype("float64") * self.y_scale, axis=1)
        return out

    def predict_cum(
        self, feats: np.ndarray, logc: np.ndarray, next_time_ns: np.ndarray
    ) -> np.ndarray:
        x = self.scaler.transform(feats)
        if self.variant == "direct":
            r = self.net(x).astype("float64") * self.y_scale
            return np.cumsum(r, axis=1)
        b = len(x)
        r = np.empty((b, self.horizon))
        mean = self.scaler.mean
        for k in range(self.horizon):
            r[:, k] = self.net(x)[:, 0] * self.y_scale
            tod_sin, tod_cos = time_of_day(next_time_ns + k * INTERVAL_NS)
            held = [np.full(b, mean[1]), np.full(b, mean[2])]  # range and volume at training means
            row = np.column_stack([r[:, k], *held, tod_sin, tod_cos])
            x = np.concatenate([x[:, 1:], self.scaler.transform(row)[:, None, :]], axis=1)
        return np.cumsum(r, axis=1)
