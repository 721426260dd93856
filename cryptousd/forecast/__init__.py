"""Forecasting: the TensorFlow-free forecaster, baselines, intervals and model folders.

``cryptousd.forecast.train`` is the only module that imports TensorFlow; nothing here imports it.
"""

from .base import Forecast, Forecaster
from .baselines import BASELINES, Drift, Persistence, RidgeAR
from .intervals import Calibration
from .lstm import LSTMForecaster
from .model_folder import available_models, load_baselines, load_forecaster, read_card

load_model = load_forecaster  # becomes the one loader of every model kind

__all__ = [
    "BASELINES",
    "Calibration",
    "Drift",
    "Forecast",
    "Forecaster",
    "LSTMForecaster",
    "Persistence",
    "RidgeAR",
    "available_models",
    "load_baselines",
    "load_forecaster",
    "load_model",
    "read_card",
]
