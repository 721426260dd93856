"""The direction classifier: P(the close h minutes ahead is above the last close), h = 1 and 10.

Two networks read the same rows, trained with Keras (:mod:`cryptousd.research.direction_train`)
and run here in NumPy (no TensorFlow):

- ``mlp``: the seed terminal's small MLP, Dense 32 -> 16 -> 8 (ReLU) -> 2 sigmoid heads (one per
  horizon), on the last row's features and the last ``LAGS`` one-minute returns;
- ``lstm``: LSTM(32, sequences) -> Dropout -> LSTM(16) -> Dense(8, ReLU) -> 2 sigmoid heads on the
  last ``WINDOW`` rows of the same features (the forecaster's NumPy LSTM forward pass).

Beside them, a logistic regression on the MLP's inputs (fitted in NumPy) is the honest learned
baseline, and the majority direction of the training period the constant one.

Every feature of row ``t`` uses candles ``<= t`` only (see :mod:`cryptousd.indicators`); warm-up
rows (NaN) are set to the training mean (0 after scaling). The scaler is fitted on training rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from ..config import MODELS_DIR
from ..errors import ModelError
from ..indicators import indicator_frame
from ..times import index_ns
from .features import Scaler, time_of_day, windows
from .numpy_lstm import NumpyLSTM

DIRECTION_FEATURES = [
    "ret",  # log(close / previous close)
    "range",  # log(high / low)
    "logvol",  # log(1 + volume)
    "rsi",  # (RSI 14 - 50) / 50
    "macd_bps",  # MACD 12/26 line in bps of the close
    "macd_hist_bps",  # MACD histogram in bps of the close
    "bb_pct_b",  # Bollinger %b (20, 2)
    "bb_width",  # Bollinger width, % of the mid band
    "volatility",  # annualised 30-minute realised volatility
    "vwap_gap_bps",  # close vs the 14-minute VWAP, bps
    "tod_sin",
    "tod_cos",
]
HORIZONS = (1, 10)
WINDOW = 30  # rows the LSTM reads
LAGS = 10  # one-minute returns the MLP reads (the last row's included)
DEFAULT_CLASSIFIER = "direction-btcusdt-1m"
KINDS = ("mlp", "lstm")


def direction_features(candles: pd.DataFrame, indicators: pd.DataFrame | None = None) -> np.ndarray:
    """(N, len(DIRECTION_FEATURES)) float64 features of a candle frame; NaN in warm-up rows.

    ``indicators``: the candles' indicator values when already known (a live session's streaming
    ones, which carry the history before the kept candles); computed from ``candles`` if None.
    """
    c = candles["close"].to_numpy("float64")
    ind = indicator_frame(candles) if indicators is None else indicators
    tod_sin, tod_cos = time_of_day(index_ns(candles.index))
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = [
            np.r_[np.nan, np.diff(np.log(c))],
            np.log(candles["high"].to_numpy("float64") / candles["low"].to_numpy("float64")),
            np.log1p(candles["volume"].to_numpy("float64")),
            (ind["rsi"].to_numpy() - 50) / 50,
            ind["macd"].to_numpy() / c * 1e4,
            ind["macd_hist"].to_numpy() / c * 1e4,
            ind["bb_pct_b"].to_numpy(),
            ind["bb_width"].to_numpy(),
            ind["volatility"].to_numpy(),
            (c / ind["vwap"].to_numpy() - 1) * 1e4,
            tod_sin,
            tod_cos,
        ]
    return np.column_stack(cols)


def direction_targets(close: np.ndarray, horizons=HORIZONS) -> np.ndarray:
    """(N, len(horizons)) log returns from each row's close to the close h minutes later; NaN
    past the end."""
    lc = np.log(np.asarray(close, dtype="float64"))
    out = np.full((len(lc), len(horizons)), np.nan)
    for j, h in enumerate(horizons):
        out[: len(lc) - h, j] = lc[h:] - lc[:-h]
    return out


def labels(returns: np.ndarray) -> np.ndarray:
    """1 up, 0 down, -1 flat or unknown (excluded from losses and scores)."""
    y = np.where(returns > 0, 1.0, 0.0)
    return np.where((returns == 0) | np.isnan(returns), -1.0, y).astype("float32")


class DirectionScaler(Scaler):
    """Per-feature standardisation fitted on training rows; NaN becomes 0 (the training mean)."""

    FEATURE_NAMES: ClassVar[list[str]] = DIRECTION_FEATURES

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return np.nan_to_num(np.clip(z, -10, 10), nan=0.0).astype("float32")

    @classmethod
    def mismatch(cls, fitted_on) -> Exception:
        return ModelError(
            f"classifier scaler was fitted on {fitted_on}, this version computes "
            f"{DIRECTION_FEATURES}; retrain with `cryptousd train --task direction`"
        )


def mlp_inputs(z: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(B, F + LAGS - 1): the origin row's scaled features and the LAGS - 1 returns before it."""
    lags = np.stack([z[origins - k, 0] for k in range(1, LAGS)], axis=1)
    return np.concatenate([z[origins], lags], axis=1).astype("float32")


def lstm_inputs(z: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(B, WINDOW, F) scaled rows ending at each origin."""
    return np.ascontiguousarray(windows(z, origins, WINDOW), dtype="float32")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype="float64")))


class DenseNet:
    """Dense layers (ReLU between, sigmoid at the end) in NumPy from ``dense_i/kernel|bias``."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = dict(weights)
        n = len([k for k in weights if k.endswith("/kernel")])
        self.layers = [
            (weights[f"dense_{i}/kernel"].astype("float32"), weights[f"dense_{i}/bias"])
            for i in range(1, n + 1)
        ]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype="float32")
        for i, (k, b) in enumerate(self.layers):
            h = h @ k + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return sigmoid(h)


class LogisticRegression:
    """L2-regularised logistic regression, one per horizon, fitted by Newton's method."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray):
        self.coef, self.intercept = np.asarray(coef), np.asarray(intercept)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 25):
        """``x`` (N, D), ``y`` (N, H) labels in {1, 0, -1 (skipped)}."""
        d = x.shape[1]
        coef, icpt = np.zeros((d, y.shape[1])), np.zeros(y.shape[1])
        for j in range(y.shape[1]):
            keep = y[:, j] >= 0
            xa = np.c_[np.ones(keep.sum()), x[keep].astype("float64")]
            t = y[keep, j].astype("float64")
            w = np.zeros(d + 1)
            reg = np.r_[0.0, np.full(d, l2 * len(t))]
            for _ in range(iters):
                p = sigmoid(xa @ w)
                grad = xa.T @ (p - t) + reg * w
                hess = (xa * (p * (1 - p))[:, None]).T @ xa + np.diag(reg + 1e-9)
                step = np.linalg.solve(hess, grad)
                w -= step
                if np.abs(step).max() < 1e-10:
                    break
            icpt[j], coef[:, j] = w[0], w[1:]
        return cls(coef, icpt)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(np.asarray(x, dtype="float64") @ self.coef + self.intercept)


class DirectionClassifier:
    """A direction model folder loaded for inference (NumPy only).

    ``p_up(candles)`` -> {horizon: P(up)} at the last candle; ``predict_origins(z, origins)`` ->
    (B, len(HORIZONS)) for many origins of scaled features ``z``.
    """

    def __init__(self, kind: str, net, scaler: DirectionScaler, card: dict, name: str):
        if kind not in KINDS:
            raise ModelError(f"classifier kind {kind!r}: choose one of {', '.join(KINDS)}")
        self.kind, self.net, self.scaler, self.card, self.name = kind, net, scaler, card, name
        self.horizons = tuple(card.get("horizons", HORIZONS))
        # rows a prediction needs: the indicators' warm-up (MACD signal: 33) and the window
        self.needs = 40 + (WINDOW if kind == "lstm" else LAGS)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})"

    def predict_origins(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if self.kind == "mlp":
            return self.net(mlp_inputs(z, origins))
        return sigmoid(self.net(lstm_inputs(z, origins)))

    def p_up(
        self, candles: pd.DataFrame, indicators: pd.DataFrame | None = None
    ) -> dict[int, float]:
        """P(up) at each horizon after the last candle of ``candles`` (all closed).

        ``indicators``: their values on ``candles``' index, e.g. a live session's streaming ones
        (which remember the candles it no longer keeps); else computed from ``candles``.
        """
        if len(candles) < self.needs:
            return {h: float("nan") for h in self.horizons}
        tail = candles.iloc[-max(self.needs, 200) :]
        ind = None if indicators is None else indicators.loc[tail.index]
        z = self.scaler.transform(direction_features(tail, ind))
        p = self.predict_origins(z, np.array([len(z) - 1]))[0]
        return {h: float(v) for h, v in zip(self.horizons, p, strict=True)}


def resolve_classifier_dir(path_or_name=None) -> Path:
    name = path_or_name or DEFAULT_CLASSIFIER
    for path in (Path(str(name)), MODELS_DIR / str(name)):
        if (path / "card.json").exists():
            return path
    raise ModelError(
        f"no direction model folder {name!r}; train one with `cryptousd train --task direction`"
    )


def _npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({type(exc).__name__}); retrain it") from None


def load_classifier(
    path_or_name=None, kind: str | None = None, *, jit: bool | None = None
) -> DirectionClassifier:
    """Load a direction model folder; ``kind`` ``mlp`` or ``lstm`` (default: the card's
    ``default_kind``). Never imports TensorFlow. ``jit``: see :class:`.numpy_lstm.NumpyLSTM`."""
    folder = resolve_classifier_dir(path_or_name)
    card = json.loads((folder / "card.json").read_text())
    if card.get("task") != "direction":
        what = card.get("task") or "price forecaster"
        raise ModelError(
            f"{folder.name} is a {what}, not a direction model; give a direction folder "
            "(models/direction-*, made by `cryptousd train --task direction`)"
        )
    kind = kind or card.get("default_kind", "mlp")
    scaler = DirectionScaler.from_dict(json.loads((folder / "scaler.json").read_text()))
    weights = _npz(folder / f"{kind}.npz")
    net = DenseNet(weights) if kind == "mlp" else NumpyLSTM(weights, jit=jit)
    return DirectionClassifier(kind, net, scaler, card, card.get("name", folder.name))


def load_logistic(path_or_name=None) -> LogisticRegression:
    d = _npz(resolve_classifier_dir(path_or_name) / "logistic.npz")
    return LogisticRegression(d["coef"], d["intercept"])
