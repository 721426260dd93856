"""Training with Keras (the only tests that import TensorFlow): a tiny model on a learnable
series.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryptousd import DEFAULT_MODEL, load_forecaster
from cryptousd.config import MODELS_DIR
from cryptousd.forecast.features import Scaler, candle_features, windows
from cryptousd.forecast.prepare import TrainConfig
from cryptousd.research.pipeline import train

from .conftest import need_numba

pytestmark = pytest.mark.slow

SPLIT = {
    "train": ("2025-01-01", "2025-01-03 12:00"),
    "val": ("2025-01-03 12:00", "2025-01-04 06:00"),
    "test": ("2025-01-04 06:00", "2025-01-05"),
}


def learnable_candles(n=4 * 1440, phi=0.6, seed=5):
    """Returns with strong AR(1) memory, so there is something for an LSTM to learn."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.001, n)
    r = np.empty(n)
    r[0] = e[0]
    for i in range(1, n):
        r[i] = phi * r[i - 1] + e[i]
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    spread = np.abs(rng.normal(0, 0.0004, n)) * close
    idx = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC", name="open_time").as_unit(
        "ns"
    )
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.gamma(2, 3, n),
        },
        index=idx,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "tiny-direct"
    c = learnable_candles()
    cfg = TrainConfig(
        variant="direct",
        epochs=6,
        stride=1,
        batch_size=64,
        learning_rate=3e-3,
        calib_stride=2,
        eval_stride=2,
        patience=6,
    )
    card = train(c, out, config=cfg, split=SPLIT, command="pytest", verbose=False)
    return out, card, c


def test_training_lowers_validation_loss(trained):
    _, card, _ = trained
    t = card["training"]
    assert t["best_val_loss"] < 0.95 * t["initial_val_loss"], t


def test_model_beats_persistence_on_a_series_with_memory(trained):
    _, card, _ = trained
    m = card["test_metrics"]["by_forecaster"]["tiny-direct"]["1"]
    assert m["mae_ratio_vs_persistence"] < 0.97 and m["dm_pvalue"] < 0.01


def test_numpy_forward_pass_agrees_with_keras(trained):
    import keras

    out, card, c = trained
    model = load_forecaster(out)
    kmodel = keras.saving.load_model(out / "model.keras")
    x = model.scaler.transform(windows(candle_features(c), np.arange(100, 5000, 97)))
    ref = kmodel.predict(x, verbose=0)
    mine = model.net(x)
    assert np.max(np.abs(ref - mine)) / np.max(np.abs(ref)) < 1e-4
    assert card["numpy_keras_max_rel_diff"] < 1e-4


def test_scaler_is_fitted_on_the_training_range_only(trained):
    out, _, c = trained
    saved = Scaler.from_dict(json.loads((out / "scaler.json").read_text()))
    train_rows = c.index < pd.Timestamp(SPLIT["train"][1], tz="UTC")
    np.testing.assert_allclose(saved.mean, candle_features(c)[train_rows].mean(axis=0))
    assert not np.allclose(saved.mean, candle_features(c).mean(axis=0))


def test_save_load_round_trip_and_recursive_variant(tmp_path):
    c = learnable_candles(n=3 * 1440)
    split = {
        "train": ("2025-01-01", "2025-01-02 12:00"),
        "val": ("2025-01-02 12:00", "2025-01-03"),
        "test": None,
    }
    card = train(
        c,
        tmp_path / "rec",
        config=TrainConfig(variant="recursive", epochs=1, stride=4, calib_stride=4),
        split=split,
        command="pytest",
        verbose=False,
    )
    m = load_forecaster(tmp_path / "rec")
    assert m.variant == "recursive" and card["test_metrics"] is None
    fc = m.predict(c.iloc[:500])
    assert len(fc.candles) == 10 and 0 <= fc.p_up <= 1


def test_shipped_default_model_agrees_with_its_keras_file(real_candles):
    import keras

    model = load_forecaster(DEFAULT_MODEL)
    kmodel = keras.saving.load_model(MODELS_DIR / DEFAULT_MODEL / "model.keras")
    x = model.scaler.transform(
        windows(candle_features(real_candles), np.arange(59, len(real_candles) - 1, 101))
    )
    ref = kmodel.predict(x, verbose=0)
    assert np.max(np.abs(ref - model.net(x))) / np.max(np.abs(ref)) < 1e-4


@pytest.mark.parametrize("jit", [False, True], ids=["numpy", "numba"])
def test_float32_fast_paths_agree_with_keras_on_a_lively_network(jit):
    """The shipped model's outputs barely move with the window, so this holds both float32 paths
    to Keras on weights (drawn like Keras' initialisers) whose every unit moves."""
    from cryptousd.forecast.numpy_lstm import NumpyLSTM, reference_forward
    from cryptousd.forecast.train import build_keras_model, keras_weights

    from .test_forecast import random_lstm_weights

    if jit:
        need_numba()
    w = random_lstm_weights(seed=11, scale=1.5)
    kmodel = build_keras_model(5, 60, 10, "direct", 0.2)
    for layer in ("lstm_1", "lstm_2"):
        kmodel.get_layer(layer).set_weights(
            [w[f"{layer}/kernel"], w[f"{layer}/recurrent_kernel"], w[f"{layer}/bias"]]
        )
    for layer in ("dense_1", "dense_2"):
        kmodel.get_layer(layer).set_weights([w[f"{layer}/kernel"], w[f"{layer}/bias"]])
    assert all(np.array_equal(w[k], v) for k, v in keras_weights(kmodel).items())
    x = np.random.default_rng(11).normal(0, 1.5, (300, 60, 5)).astype("float32")
    ref = kmodel.predict(x, verbose=0)
    assert ref.std(axis=0).min() > 1e-3
    mine = NumpyLSTM(w, jit=jit)(x)
    assert np.max(np.abs(ref - mine)) / np.max(np.abs(ref)) < 1e-4
    assert np.max(np.abs(ref - reference_forward(w, x))) / np.max(np.abs(ref)) < 1e-4
