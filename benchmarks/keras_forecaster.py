"""The slow reference for bench_live: the same forecaster, but each forward pass through Keras."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from cryptousd.config import MODELS_DIR


class _KerasNet:
    def __init__(self, path):
        self.model = keras.saving.load_model(path)
        self.n_out = self.model.output_shape[-1]

    def __call__(self, x, batch_size=2048):
        return self.model.predict(np.asarray(x, dtype="float32"), verbose=0)


class KerasForecaster:
    """Wraps a loaded LSTMForecaster, swapping its NumPy network for the Keras model."""

    def __new__(cls, numpy_forecaster):
        import copy

        f = copy.copy(numpy_forecaster)
        f.net = _KerasNet(MODELS_DIR / numpy_forecaster.name / "model.keras")
        return f
