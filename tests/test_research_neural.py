"""The NumPy GRU against its float64 reference and Keras, and the research NeuralForecaster (LSTM
and GRU on extra inputs): fitting, walk-forward, causality, save/load without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import cryptousd
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.errors import DataError, ModelError
from cryptousd.evaluation.evaluate import walk_forward
from cryptousd.forecast.baselines import Persistence
from cryptousd.forecast.inputs import input_matrix, lookback
from cryptousd.forecast.neural import InputScaler, NeuralForecaster
from cryptousd.forecast.numpy_gru import NumpyGRU, random_weights, reference_forward
from cryptousd.times import index_ns

INPUTS = ("ret", "range", "logvol", "tod_sin", "tod_cos", "ret_15", "rv_15", "logvol_rel")
EXTRA = {"lstm": INPUTS + ("trades_rel",), "gru": INPUTS + ("taker_share_5",)}


def _rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


# ---- the GRU numerics -------------------------------------------------------------------------


def test_fast_gru_matches_float64_reference():
    w = random_weights(9, seed=3)
    rng = np.random.default_rng(4)
    for b in (1, 7, 1500):  # one window, a small batch, a threaded batch
        x = rng.normal(size=(b, 60, 9)).astype("float32")
        assert _rel(NumpyGRU(w)(x), reference_forward(w, x)) < 1e-5


def test_numpy_gru_matches_keras():
    from cryptousd.forecast.neural import build_keras_model, keras_weights
    from cryptousd.forecast.train import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(1)
    model = build_keras_model("gru", 6, 60, 10, 0.2)
    rng = np.random.default_rng(5)
    # random weights well away from Keras' initialisation (biases included) so every term counts
    model.set_weights([rng.normal(0, 0.3, v.shape).astype("float32") for v in model.get_weights()])
    x = rng.normal(size=(64, 60, 6)).astype("float32")
    ref = model.predict(x, verbose=0)
    w = keras_weights(model, "gru")
    assert w["gru_1/bias"].shape == (2, 192)
    assert _rel(NumpyGRU(w)(x), ref) < 1e-4
    assert _rel(reference_forward(w, x), ref) < 1e-4


# ---- the forecaster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    candles = cryptousd.load_candles([SAMPLE_FILE])
    rng = np.random.default_rng(0)
    candles["taker_buy"] = candles["volume"] * rng.uniform(0, 1, len(candles))
    return candles


@pytest.fixture(scope="module")
def fitted(sample, tmp_path_factory):
    """Both cells fitted for one epoch on ~2,500 windows of the sample, calibrated, and saved."""
    out = {}
    logc = np.log(sample["close"].to_numpy())
    times = index_ns(sample.index)
    for cell, inputs in EXTRA.items():
        f = NeuralForecaster(cell, inputs, name=f"test_{cell}")
        feats = input_matrix(sample, f.inputs)
        first = f.window - 1 + lookback(f.inputs)
        train = np.arange(first, first + 2500)
        val = np.arange(first + 2600, first + 3400)
        f.fit_origins(feats, logc, times, train, val, epochs=1, progress=False, seed=0)
        f.calibrate(feats, logc, times, val)
        folder = f.to_folder(tmp_path_factory.mktemp(cell) / "model")
        out[cell] = (f, feats, logc, times, folder)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fit_predict_and_walk_forward(fitted, sample, cell):
    f, feats, logc, times, _ = fitted[cell]
    info = f.fit_info
    assert info["cell"] == cell and info["inputs"] == list(EXTRA[cell])
    assert info["epochs_run"] == 1 and info["best_epoch"] == 1 and info["seed"] == 0
    assert info["n_train"] == 2500 and info["n_val"] == 800 and info["export_rel_error"] < 1e-4
    assert np.isfinite(info["val_loss"][0]) and info["zero_val_loss"] > 0
    o = np.arange(5000, 5200)
    pred = f.predict_origins(feats, logc, times, o)
    assert pred.shape == (200, 10) and np.isfinite(pred).all()
    ev = walk_forward(
        sample,
        {"persistence": Persistence(), f.name: f},
        start=sample.index[5000],
        end=sample.index[5600],
        stride=5,
        progress=False,
    )
    table = ev.table.reset_index()
    mine = table[table["forecaster"] == f.name]
    assert len(mine) == 10 and np.isfinite(mine["mae"]).all()
    assert np.isfinite(mine["coverage"]).all() and ev.n_origins == 120


@pytest.mark.slow
def test_future_candles_do_not_change_a_forecast(fitted, sample):
    f, feats, logc, times, _ = fitted["gru"]
    o = np.array([5000, 5001, 5100])
    before = f.predict_origins(feats, logc, times, o)
    changed = sample.copy()
    changed.iloc[5101:, :5] *= 1.5  # every column after the last origin
    changed.iloc[5101:, changed.columns.get_loc("taker_buy")] = 0.0
    f2 = input_matrix(changed, f.inputs)
    after = f.predict_origins(f2, np.log(changed["close"].to_numpy()), times, o)
    np.testing.assert_array_equal(before, after)


@pytest.mark.slow
def test_predict_equals_predict_origins_at_the_last_row(fitted, sample):
    for cell in ("lstm", "gru"):
        f, feats, logc, times, _ = fitted[cell]
        rows = f.window + lookback(f.inputs)
        end = 6000
        fc = f.predict(sample.iloc[end - rows + 1 : end + 1])
        want = f.predict_origins(feats, logc, times, np.array([end]))[0]
        got = np.log(fc.close.to_numpy() / fc.last_close)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_save_load_round_trip_without_tensorflow(fitted, tmp_path):
    origins = np.arange(5000, 5300)
    arrays, expected = {}, {}
    for cell, (f, feats, logc, times, folder) in fitted.items():
        arrays[f"{cell}/feats"], arrays[f"{cell}/logc"] = feats, logc
        expected[cell] = f.predict_origins(feats, logc, times, origins)
        card = json.loads((folder / "card.json").read_text())
        assert card["kind"] == "neural" and card["cell"] == cell
        assert {p.name for p in folder.iterdir()} >= {"weights.npz", "card.json"}
    np.savez(tmp_path / "in.npz", times=fitted["gru"][3], origins=origins, **arrays)
    code = f"""
import sys
import numpy as np
from cryptousd.forecast.neural import NeuralForecaster
d = np.load({str(tmp_path / "in.npz")!r})
out = {{}}
for cell, folder in {json.dumps({c: str(v[4]) for c, v in fitted.items()})}.items():
    f = NeuralForecaster.from_folder(folder)
    assert f.calibration is not None
    out[cell] = f.predict_origins(d[cell + "/feats"], d[cell + "/logc"], d["times"], d["origins"])
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
np.savez({str(tmp_path / "out.npz")!r}, **out)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    got = np.load(tmp_path / "out.npz")
    for cell in fitted:
        np.testing.assert_array_equal(got[cell], expected[cell])


@pytest.mark.slow
def test_folder_refusals(fitted, tmp_path):
    _, _, _, _, folder = fitted["gru"]
    card = json.loads((folder / "card.json").read_text())
    with pytest.raises(DataError, match="fitted on inputs") as exc:
        InputScaler.from_dict(card["scaler"], ["ret", "range"])
    assert "\n" not in str(exc.value)
    other = tmp_path / "lstm_model"
    other.mkdir()
    (other / "card.json").write_text(json.dumps({"name": "x", "variant": "direct"}))
    with pytest.raises(ModelError, match="not a 'neural' one") as exc:
        NeuralForecaster.from_folder(other)
    assert "\n" not in str(exc.value)


def test_constructor_refusals():
    with pytest.raises(ModelError, match="first input must be 'ret'"):
        NeuralForecaster("gru", ("range", "ret"))
    with pytest.raises(ModelError, match="cell 'rnn'"):
        NeuralForecaster("rnn")
    with pytest.raises(ModelError, match="not fitted"):
        NeuralForecaster("lstm").predict_cum(np.zeros((1, 60, 5)), np.zeros((1, 60)), np.zeros(1))
