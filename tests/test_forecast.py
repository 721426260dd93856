"""The TensorFlow-free forecaster, baselines, intervals and model folders (no TensorFlow here)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cryptousd import DEFAULT_MODEL, ModelError, load_forecaster
from cryptousd.config import MODELS_DIR
from cryptousd.data.sources.replay import simulate_candles
from cryptousd.forecast import Drift, Persistence, load_baselines, read_card
from cryptousd.forecast.features import candle_features

from .conftest import assert_candle_frame, need_numba


@pytest.fixture(scope="module")
def model():
    return load_forecaster(DEFAULT_MODEL)


def test_default_model_forecast_is_valid(model, real_candles):
    c = real_candles.iloc[:500]
    fc = model.predict(c)
    assert_candle_frame(fc.candles)
    assert len(fc.candles) == 10 and fc.candles.index[0] == c.index[-1] + pd.Timedelta("1min")
    assert fc.candles["open"].iloc[0] == c["close"].iloc[-1]
    np.testing.assert_array_equal(  # each open is the previous close, copied: exact
        fc.candles["open"].to_numpy()[1:], fc.candles["close"].to_numpy()[:-1]
    )
    assert (fc.lower <= fc.upper).all() and (fc.candles["high"] >= fc.upper - 1e-9).all()
    assert 0.0 <= fc.p_up <= 1.0 and fc.model == DEFAULT_MODEL and fc.elapsed_ms > 0
    assert (fc.upper - fc.lower).is_monotonic_increasing  # uncertainty grows with the horizon


def test_every_forecast_over_a_day_is_valid_ohlc(model, real_candles):
    c = real_candles.iloc[:1500]
    for end in range(60, 1500, 37):
        fc = model.predict(c.iloc[:end])
        assert_candle_frame(fc.candles)
        assert 0 <= fc.p_up <= 1


def test_batch_inference_equals_single_window_inference(model, real_candles):
    c = real_candles.iloc[:400]
    feats, logc = candle_features(c), np.log(c["close"].to_numpy())
    times = c.index.as_unit("ns").asi8
    origins = np.array([59, 200, 399])
    batch = model.predict_origins(feats, logc, times, origins)
    for o, row in zip(origins, batch, strict=True):
        single = model.predict(c.iloc[: o + 1])
        np.testing.assert_allclose(
            np.log(single.candles["close"].to_numpy() / single.last_close),
            row,
            rtol=1e-6,
            atol=1e-12,
        )


def test_forecast_ignores_candles_after_its_window(model, real_candles):
    c = real_candles.iloc[:300]
    a = model.predict(c.iloc[:200])
    b = model.predict(c.iloc[100:200])  # only the last 60 matter
    pd.testing.assert_frame_equal(a.candles, b.candles)


def test_no_tensorflow_is_imported_for_inference():
    code = (
        "import sys, cryptousd; from cryptousd.live.dashboard import Dashboard; "
        "from cryptousd.evaluation.evaluate import walk_forward;"
        "f = cryptousd.load_forecaster(); import cryptousd.data.sources.replay as r; "
        "c = r.simulate_candles(100);"
        "f.predict(c); print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False False"


def test_card_has_what_the_design_asks(model):
    card = read_card(MODELS_DIR / DEFAULT_MODEL)
    for key in (
        "name",
        "created",
        "variant",
        "window",
        "horizon",
        "features",
        "train_range",
        "validation_range",
        "test_range",
        "test_metrics",
        "libraries",
        "command",
    ):
        assert key in card, key
    tm = card["test_metrics"]["by_forecaster"]
    assert set(tm) >= {DEFAULT_MODEL, "persistence", "drift", "ar"}
    assert tm["persistence"]["10"]["mae_ratio_vs_persistence"] == 1.0
    assert card["command"].startswith("cryptousd train")
    assert (
        card["train_range"]["end"] < card["validation_range"]["start"] < card["test_range"]["start"]
    )


def test_baselines_have_the_same_interface(real_candles):
    c = real_candles.iloc[:200]
    for name, f in load_baselines().items():
        fc = f.predict(c)
        assert fc.model == name and len(fc.candles) == 10 and 0 <= fc.p_up <= 1
        assert_candle_frame(fc.candles)
    assert (load_forecaster("persistence").predict(c).candles["close"] == c["close"].iloc[-1]).all()


def test_drift_carries_the_window_mean_return():
    c = simulate_candles(60)
    fc = Persistence()
    d = Drift()
    logc = np.log(c["close"].to_numpy())[None]
    expected = (logc[0, -1] - logc[0, 0]) / 59 * np.arange(1, 11)
    np.testing.assert_allclose(d.predict_cum(None, logc, None)[0], expected)
    assert (fc.predict_cum(None, logc, None) == 0).all()


def test_interval_coverage_on_held_out_synthetic_data_is_near_nominal():
    calib = simulate_candles(30_000, seed=11)
    held_out = simulate_candles(30_000, seed=12, start="2026-01-01")
    from cryptousd.evaluation.evaluate import walk_forward

    f = Drift()
    feats, logc = candle_features(calib), np.log(calib["close"].to_numpy())
    f.calibrate(feats, logc, calib.index.as_unit("ns").asi8, np.arange(59, 29_980))
    p = Persistence()
    p.calibrate(feats, logc, calib.index.as_unit("ns").asi8, np.arange(59, 29_980))
    ev = walk_forward(held_out, {"drift": f, "persistence": p}, stride=3)
    cov = ev.table["coverage"]
    assert ((cov - 0.8).abs() < 0.05).all(), cov.to_dict()
    ev90 = walk_forward(held_out, {"drift": f, "persistence": p}, stride=3, coverage=0.9)
    assert ((ev90.table["coverage"] - 0.9).abs() < 0.05).all()


# ---- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def model_copy(tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, dst)
    return dst


def test_short_window_gaps_and_nan_are_one_line_errors(model, real_candles):
    c = real_candles.iloc[:100]
    with pytest.raises(ModelError, match="reads 60 candles, got 59"):
        model.predict(c.iloc[:59])
    with pytest.raises(ModelError, match="gap after"):
        model.predict(c.drop(c.index[80]))
    bad = c.copy()
    bad.iloc[90, 3] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        model.predict(bad)


def test_a_missing_model_file_is_named(model_copy):
    (model_copy / "weights.npz").unlink()
    with pytest.raises(ModelError, match="missing weights.npz"):
        load_forecaster(model_copy)


@pytest.mark.parametrize("fname", ["weights.npz", "calibration.npz"])
def test_a_corrupt_model_file_is_named(model_copy, fname):
    (model_copy / fname).write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=f"{fname}: corrupt"):
        load_forecaster(model_copy)


def test_corrupt_card(model_copy):
    (model_copy / "card.json").write_text("{ half")
    with pytest.raises(ModelError, match="card.json: unreadable"):
        load_forecaster(model_copy)


def test_unknown_model_and_window_horizon_mismatch(model_copy):
    with pytest.raises(ModelError, match="no model folder 'nope'"):
        load_forecaster("nope")

    with pytest.raises(ModelError, match="forecasts 10; the request asks for window 60, horizon 5"):
        load_forecaster(model_copy, horizon=5)


def random_lstm_weights(seed=0, n_features=5, n_out=10, scale=1.0):
    """Weights of the shipped architecture, drawn like Keras' initialisers (Glorot-uniform kernels,
    unit forget-gate bias), so that every gate and state moves with the input."""
    rng = np.random.default_rng(seed)

    def glorot(n_in, n_o):
        lim = scale * np.sqrt(6 / (n_in + n_o))
        return rng.uniform(-lim, lim, (n_in, n_o)).astype("float32")

    w = {}
    for name, n_in, u in (("lstm_1", n_features, 64), ("lstm_2", 64, 32)):
        bias = rng.normal(0, 0.1, 4 * u)
        bias[u : 2 * u] += 1.0
        w |= {
            f"{name}/kernel": glorot(n_in, 4 * u),
            f"{name}/recurrent_kernel": glorot(u, 4 * u),
            f"{name}/bias": bias.astype("float32"),
        }
    for name, n_in, n_o in (("dense_1", 32, 16), ("dense_2", 16, n_out)):
        w |= {f"{name}/kernel": glorot(n_in, n_o), f"{name}/bias": rng.normal(0, 0.1, n_o)}
    return {k: v.astype("float32") for k, v in w.items()}


def fast_paths():
    """The float32 paths present here: NumPy always, numba where it is installed."""
    from cryptousd.forecast.numpy_lstm import jit_wanted

    return [False, True] if jit_wanted() else [False]


@pytest.mark.parametrize("jit", fast_paths(), ids=lambda j: "numba" if j else "numpy")
@pytest.mark.parametrize("batch", [1, 7, 2500])  # one window; less than a tile; threads/tiles
def test_float32_forward_pass_agrees_with_the_float64_reference(jit, batch):
    from cryptousd.forecast.numpy_lstm import NumpyLSTM, reference_forward

    w = random_lstm_weights(seed=batch, scale=1.5)
    x = np.random.default_rng(batch).normal(0, 1.5, (batch, 60, 5)).astype("float32")
    net = NumpyLSTM(w, jit=jit)
    assert net.path == ("numba" if jit else "numpy")
    ref = reference_forward(w, x)
    got = net(x)
    assert got.dtype == np.float32 and got.shape == (batch, 10)
    assert batch == 1 or ref.std(axis=0).min() > 1e-3  # outputs depend on the window
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 1e-5


def test_batched_rows_equal_the_same_windows_one_by_one():
    from cryptousd.forecast.numpy_lstm import NumpyLSTM

    w = random_lstm_weights(seed=3)
    x = np.random.default_rng(3).normal(0, 1, (1500, 60, 5)).astype("float32")
    for jit in fast_paths():
        net = NumpyLSTM(w, jit=jit)
        batch = net(x)
        one_by_one = np.concatenate([net(x[i : i + 1]) for i in range(0, 1500, 149)])
        np.testing.assert_allclose(batch[::149], one_by_one, rtol=1e-5, atol=1e-6)


def test_jit_can_be_switched_off(monkeypatch):
    from cryptousd.forecast.numpy_lstm import NumpyLSTM

    monkeypatch.setenv("CRYPTOUSD_JIT", "0")
    assert NumpyLSTM(random_lstm_weights()).path == "numpy"


def test_batches_on_the_numba_path_agree_with_or_without_threadpoolctl(monkeypatch):
    """A batch runs as BLAS chunks on threads (threadpoolctl) or as parallel fused tiles."""
    from cryptousd.forecast.numpy_lstm import NumpyLSTM

    need_numba()
    w = random_lstm_weights(seed=5)
    x = np.random.default_rng(5).normal(0, 1, (700, 60, 5)).astype("float32")
    net = NumpyLSTM(w, jit=True)
    chunks = net(x)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails: fused tiles
    tiles = net(x)
    np.testing.assert_allclose(chunks, tiles, rtol=1e-5, atol=1e-6)


def test_direct_batch_path_equals_the_generic_per_window_scaling(model, real_candles):
    from cryptousd.forecast.base import Forecaster
    from cryptousd.forecast.features import series_arrays

    a = series_arrays(real_candles.iloc[:3000])
    origins = np.r_[59, np.arange(100, 2980, 7)]
    fast = model.predict_origins(a.feats, a.logc, a.times, origins, chunk=100)
    generic = Forecaster.predict_origins(model, a.feats, a.logc, a.times, origins)
    # The two paths feed the float32 network batches of different shapes, so BLAS sums in a
    # different order (on another CPU's OpenBLAS kernel, or with another thread count). float32
    # rounding (eps 1.2e-7) compounded over 60 recurrent steps and three layers moves an output by
    # well under 1e-6 of the network's unit (seen: 2e-8); the forecast is that unit times y_scale,
    # summed over at most 10 horizons. So: 10 x 1e-6 x y_scale (7.5e-9 in log return, i.e.
    # 7.5e-5 bps), absolute, since forecasts near zero make a relative bound meaningless.
    np.testing.assert_allclose(fast, generic, rtol=0, atol=10 * 1e-6 * model.y_scale)
    assert np.abs(fast).max() > 1e3 * 10 * 1e-6 * model.y_scale  # the bound is far below the values
