"""The direction classifier: causal features, scores checked by hand, a tiny training run whose
NumPy forward passes match Keras, the shipped model folder and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cryptousd.evaluation.direction import direction_scores, reliability, roc_auc
from cryptousd.forecast.direction import (
    DIRECTION_FEATURES,
    LogisticRegression,
    direction_features,
    labels,
    load_classifier,
)

SAMPLE_SPLIT = {
    "train": ("2025-03-25", "2025-03-29"),
    "val": ("2025-03-29", "2025-03-30"),
    "test": ("2025-03-30", "2025-04-01"),
}


def test_features_use_only_candles_up_to_their_row(real_candles):
    c = real_candles.iloc[:800]
    full = direction_features(c)
    assert full.shape == (800, len(DIRECTION_FEATURES))
    for k in (100, 500):
        changed = c.copy()
        changed.iloc[k + 1 :, :4] *= 1.1
        # the rows up to k come from the same candles through the same operations, in order
        np.testing.assert_array_equal(direction_features(changed)[: k + 1], full[: k + 1])
    assert np.isfinite(full[60:]).all()  # warmed up after the slowest indicator


def test_labels_mark_flat_moves_for_exclusion():
    np.testing.assert_array_equal(  # labels are exact values (1, 0, -1), no arithmetic
        labels(np.array([0.1, -0.2, 0.0, np.nan])), [1.0, 0.0, -1.0, -1.0]
    )


def test_auc_reliability_and_skill_by_hand():
    p = np.array([0.1, 0.4, 0.35, 0.8])
    up = np.array([False, False, True, True])
    # pairs (up, down) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4)
    assert roc_auc(p, up) == pytest.approx(3 / 4)
    assert reliability(np.full(4, 0.5), up) == [{"p_mean": 0.5, "observed_up": 0.5, "n": 4}]
    ret = np.array([-1.0, -2.0, 0.0, 3.0, 1.0, -1.0, 2.0, 0.5])
    const = direction_scores(np.full(8, 0.6), ret, 1, 1, 0.6, {})
    assert const["n"] == 7 and const["brier_skill"] == pytest.approx(0.0)
    assert const["direction_accuracy"] == pytest.approx(4 / 7)  # always up: 4 of 7 moves
    assert const["direction_accuracy"] == const["direction_majority_baseline"]
    assert const["log_loss"] == pytest.approx(-(4 * np.log(0.6) + 3 * np.log(0.4)) / 7)
    assert const["direction_ci_method"].startswith("wilson")
    overlapping = direction_scores(np.full(8, 0.6), ret, 10, 1, 0.6, {})
    assert overlapping["direction_ci_method"].startswith("moving-block bootstrap")


def test_logistic_regression_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 2))
    p = 1 / (1 + np.exp(-(0.3 + 1.5 * x[:, 0])))
    y = (rng.random(20_000) < p).astype("float32")[:, None]
    lr = LogisticRegression.fit(x, y, l2=0.0)
    assert lr.intercept[0] == pytest.approx(0.3, abs=0.06)
    assert lr.coef[0, 0] == pytest.approx(1.5, abs=0.08) and abs(lr.coef[1, 0]) < 0.06


@pytest.fixture(scope="module")
def tiny_model(real_candles, tmp_path_factory):
    """The whole training chain on the sample, one epoch, a few hundred LSTM windows."""
    from cryptousd.research.direction_train import train_direction

    out = tmp_path_factory.mktemp("models") / "direction-tiny"
    card = train_direction(
        real_candles, out, split=SAMPLE_SPLIT, epochs=1, lstm_stride=20, verbose=False
    )
    return out, card


@pytest.mark.slow
def test_tiny_training_writes_a_folder_whose_numpy_nets_match_keras(tiny_model, real_candles):
    out, card = tiny_model
    assert sorted(p.name for p in out.iterdir()) == [
        "card.json",
        "logistic.npz",
        "lstm.npz",
        "mlp.npz",
        "scaler.json",
    ]
    assert card["numpy_keras_max_abs_diff"]["mlp"] < 1e-5
    assert card["numpy_keras_max_abs_diff"]["lstm"] < 1e-5
    assert card["training"]["lstm"]["windows"] < 600 and card["test_range"]["candles"] == 2880
    test = card["test_metrics"]["results"]
    assert set(test) == {"mlp", "lstm", "logistic", "majority"}
    for k in ("direction_ci_low", "direction_majority_baseline", "log_loss", "brier_skill"):
        assert test["mlp"]["1"][k] is not None
    assert "baseline" in card["verdict"]["mlp@1"] and "55%-65%" in card["verdict"]["mlp@1"]
    for kind in ("mlp", "lstm"):
        p = load_classifier(out, kind).p_up(real_candles.iloc[:500])
        assert set(p) == {1, 10} and all(0 < v < 1 for v in p.values())


def test_the_shipped_model_folder_is_small_honest_and_loads_without_tensorflow():
    from cryptousd.config import MODELS_DIR

    folder = MODELS_DIR / "direction-btcusdt-1m"
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000
    card = json.loads((folder / "card.json").read_text())
    assert card["task"] == "direction" and card["test_range"]["start"].startswith("2025-02-01")
    for k in ("mlp@1", "mlp@10", "lstm@1", "lstm@10"):
        assert "baseline" in card["verdict"][k]
    r = card["test_metrics"]["results"]["mlp"]["1"]
    assert r["direction_ci_low"] < r["direction_accuracy"] < r["direction_ci_high"]
    from cryptousd import ModelError, load_forecaster

    with pytest.raises(ModelError, match="is a direction classifier, not a forecaster"):
        load_forecaster("direction-btcusdt-1m")
    code = (
        "import sys; from cryptousd.forecast.direction import load_classifier; "
        "from cryptousd.data.locate import SAMPLE_FILE; from cryptousd import load_candles; "
        "p = load_classifier().p_up(load_candles(SAMPLE_FILE).iloc[:300]); "
        "assert 0 < p[1] < 1; assert 'tensorflow' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_cli_evaluates_a_direction_model_on_the_sample(tiny_model, tmp_path, capsys):
    from cryptousd.cli import main
    from cryptousd.data.locate import SAMPLE_FILE

    out, _ = tiny_model
    path = tmp_path / "eval.json"
    argv = ["evaluate", "--data", str(SAMPLE_FILE), "--model", str(out), "--stride", "5"]
    assert main([*argv, "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["task"] == "direction" and result["start"].startswith("2025-03-30")
    assert set(result["results"]) == {"mlp", "lstm", "logistic", "majority"}
    assert result["results"]["lstm"]["10"]["direction_ci_method"].startswith("moving-block")
    assert "does not beat" in capsys.readouterr().out or "beats" in json.dumps(result["verdict"])


def test_p_up_from_a_sessions_streaming_indicators_matches_the_full_history(real_candles):
    """A live session keeps 130 candles but its streaming indicators remember the rest."""
    from cryptousd.indicators import indicator_frame

    clf = load_classifier(None, "lstm")
    c = real_candles.iloc[:2000]
    full = indicator_frame(c)
    kept = clf.p_up(c.iloc[-130:], full.iloc[-130:])
    assert kept == pytest.approx(clf.p_up(c), abs=1e-4)
    assert clf.p_up(c.iloc[:50]) == {1: pytest.approx(np.nan, nan_ok=True)} | {
        10: pytest.approx(np.nan, nan_ok=True)
    }
