"""Training's steps that need no TensorFlow: preparation, baselines, calibration and the card."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cryptousd import ModelError
from cryptousd.data.sources.replay import simulate_candles
from cryptousd.forecast.card import CARD_METRICS, make_card
from cryptousd.forecast.prepare import TrainConfig, calibrate, fit_baselines, prepare

SPLIT = {
    "train": ("2025-01-01", "2025-01-02 12:00"),
    "val": ("2025-01-02 12:00", "2025-01-03 12:00"),
    "test": ("2025-01-03 12:00", "2025-01-04"),
}


@pytest.fixture(scope="module")
def prepared():
    c = simulate_candles(4 * 1440, start="2025-01-01", seed=3)
    cfg = TrainConfig(calib_stride=3)
    return c, cfg, prepare(c, cfg, SPLIT)


def test_prepare_scales_on_training_rows_only(prepared):
    c, cfg, prep = prepared
    a, b = prep.split.train
    np.testing.assert_allclose(prep.x[a:b].mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(prep.x[b:].mean(axis=0), 0, atol=1e-3)  # later rows are not re-centred
    # targets[t - window + 1] are the returns after the window ending at t
    t = prep.split.origins("train")[5]
    r1 = np.log(c["close"].iloc[t + 1] / c["close"].iloc[t])
    assert prep.targets[t - cfg.window + 1, 0] * prep.y_scale == pytest.approx(r1, rel=1e-5)


def test_calibrated_baselines_cover_about_their_nominal_level(prepared):
    _, cfg, prep = prepared
    baselines = fit_baselines(prep, cfg)
    origins = calibrate(baselines, prep, cfg)
    assert origins[1] - origins[0] == cfg.calib_stride
    p = baselines["persistence"]
    a = prep.arrays
    mean = p.predict_origins(a.feats, a.logc, a.times, origins)
    sigma = np.maximum(
        np.std([a.feats[o - cfg.window + 1 : o + 1, 0] for o in origins], axis=1), 1e-5
    )
    lo, hi = p.calibration.interval(mean, sigma, 0.8)
    actual = a.logc[origins[:, None] + np.arange(1, 11)] - a.logc[origins, None]
    inside = ((actual >= lo) & (actual <= hi)).mean()
    assert 0.78 <= inside <= 0.84  # in-sample coverage of a split-conformal 80 % band


def test_card_holds_ranges_training_record_and_command(prepared):
    _, cfg, prep = prepared
    card = make_card(
        name="m",
        config=cfg,
        prep=prep,
        training={"epochs_run": 3},
        calibration_origins=123,
        agreement=1e-7,
        libraries={"numpy": np.__version__},
        command="cryptousd train --epochs 3",
    )
    json.dumps(card)  # serialisable
    assert card["train_range"]["start"].startswith("2025-01-01 00:00")
    assert card["validation_range"]["rows"] == 1440 and card["test_metrics"] is None
    assert card["interval"]["calibration_origins"] == 123 and card["command"].endswith("--epochs 3")
    assert "Dense(10)" in card["architecture"] and "mae_ratio_vs_persistence" in CARD_METRICS


def test_a_bad_config_is_refused_in_one_line():
    with pytest.raises(ModelError, match="epochs 0: must be a whole number >= 1"):
        TrainConfig(epochs=0).validated()
    with pytest.raises(ModelError, match="variant 'sideways'"):
        TrainConfig(variant="sideways").validated()


def test_these_steps_never_import_tensorflow():
    code = (
        "import sys; from cryptousd.forecast import prepare, card; "
        "import cryptousd.research.pipeline; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
