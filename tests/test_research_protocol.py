"""The research protocol: purged and embargoed splits, choice on validation only, intervals from
each model's own error scale, every run and every touch of the test range recorded, one-line
refusals. On the real 7-day sample, with the fast candidates."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cryptousd as cu
import cryptousd.forecast.features
import cryptousd.forecast.inputs
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.errors import DataError
from cryptousd.forecast.baselines import Drift, Persistence
from cryptousd.research import protocol as rp


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return cu.load_candles([SAMPLE_FILE])


def _cfg(tmp_path, **kw) -> rp.Config:
    kw = {
        "ranges": rp.SAMPLE_RANGES,
        "models": ("ridge-price", "ridge-flow"),
        "direction_models": ("lgbm-dir-flow",),
        "out": tmp_path,
        **kw,
    }
    cfg = rp.Config(**kw)
    cfg.stride_engineered, cfg.scale_stride = 1, 2
    return cfg


@pytest.fixture(scope="module")
def result(candles, tmp_path_factory):
    out = tmp_path_factory.mktemp("research")
    return rp.run(candles, _cfg(out), say=lambda s: None, progress=False)


def test_splits_are_purged_and_embargoed(candles):
    idx = candles.index
    r = rp.SAMPLE_RANGES
    train = rp.range_origins(candles, r.train, rows_before=360, horizon=10, embargo=0)
    val = rp.range_origins(candles, r.val, rows_before=360, horizon=10, embargo=60)
    val_start = idx.searchsorted(pd.Timestamp(r.val[0], tz="UTC"))
    val_end = idx.searchsorted(pd.Timestamp(r.val[1], tz="UTC"))
    # no training target reaches validation; validation starts an hour in and its targets end
    # before the test range
    assert train.max() + 10 < val_start
    assert val.min() == val_start + 60
    assert val.max() + 10 < val_end
    assert train.min() == 359  # a full window and look-back before the first origin


def test_the_run_compares_every_candidate_on_the_same_origins(result):
    t = result.table
    for k in ("val", "test"):
        sub = t[t["range"] == k]
        assert set(sub["model"]) == {
            "persistence",
            "persistence+vol",
            "drift",
            "ridge-price",
            "ridge-flow",
        }
        ev = result.evaluations[k]
        origins = ev.predictions["persistence"][0]
        for name, (o, _) in ev.predictions.items():
            np.testing.assert_array_equal(o, origins, err_msg=name)
        p = sub[sub["model"] == "persistence"]
        assert (p["mae_ratio"] == 1.0).all()
    assert result.choice["best"] in ("ridge-price", "ridge-flow")
    # validation coverage is what the conformal calibration promised (it was fitted there)
    val = t[(t["range"] == "val") & (t["horizon"] == 10)].set_index("model")
    assert abs(val.loc["ridge-flow", "coverage"] - 0.8) < 0.02


def test_intervals_use_each_models_own_error_scale(result):
    f = result.forecasters
    assert f["persistence"].scale_model is None
    assert f["persistence+vol"].scale_model is not None
    assert f["ridge-flow"].scale_model is not None
    t = result.table[(result.table["range"] == "test") & (result.table["horizon"] == 10)]
    w = t.set_index("model")["width_bps"]
    # persistence with an error-scale model: the same point forecast, a different band
    assert w["persistence+vol"] != pytest.approx(w["persistence"], rel=1e-4)


def test_predict_and_a_reloaded_model_draw_the_evaluated_interval(result, candles):
    """A single predict() and a model folder read back give the interval walk_forward scored."""
    ev = result.evaluations["test"]
    origins = ev.predictions["persistence"][0]
    last = int(origins[-1])
    window = candles.iloc[: last + 1]
    for name in ("ridge-flow", "persistence+vol"):
        f = result.forecasters[name]
        fc = f.predict(window, coverage=0.8)
        arr = cu.forecast.features.series_arrays(candles)
        feats = cu.forecast.inputs.input_matrix(candles, f.inputs)
        scale = f.origin_scale(feats, arr.logc, arr.times, np.array([last]))
        mean = f.predict_origins(feats, arr.logc, arr.times, np.array([last]))
        lo, hi = f.calibration.interval(mean, scale, 0.8)
        np.testing.assert_allclose(fc.upper.to_numpy(), fc.last_close * np.exp(hi[0]), rtol=1e-9)
        np.testing.assert_allclose(fc.lower.to_numpy(), fc.last_close * np.exp(lo[0]), rtol=1e-9)
    back = rp.load_model(result.folder / "models" / "ridge-flow")
    again = back.predict(window, coverage=0.8)
    first = result.forecasters["ridge-flow"].predict(window, coverage=0.8)
    np.testing.assert_allclose(again.upper.to_numpy(), first.upper.to_numpy(), rtol=1e-12)
    assert back.scale_model is not None


def test_monthly_refits_forecast_each_month_with_its_own_model(candles):
    """Origins from a refit's first minute on use that refit; earlier ones the base model."""
    arr = cu.forecast.features.series_arrays(candles)
    cut = candles.index.searchsorted(pd.Timestamp("2025-03-30", tz="UTC"))
    m = rp.MonthlyRefit("drift@monthly", Persistence(), [(int(candles.index[cut].value), Drift())])
    o = np.arange(cut - 3, cut + 3)
    out = m.predict_origins(arr.feats, arr.logc, arr.times, o)
    assert (out[:3] == 0).all()  # persistence before the boundary
    np.testing.assert_array_equal(
        out[3:], Drift().predict_origins(arr.feats, arr.logc, arr.times, o[3:])
    )


def test_direction_classifiers_alone_read_the_same_origins(candles, tmp_path):
    """No forecaster reads 300 candles back, the classifiers do: all still share the origins."""
    cfg = _cfg(tmp_path, models=(), direction_models=("lgbm-dir-price",))
    r = rp.run(candles, cfg, say=lambda s: None, progress=False, save=False)
    o = r.evaluations["test"].predictions["persistence"][0]
    assert int(r.direction[r.direction["range"] == "test"]["n"].max()) <= len(o)
    assert o.min() >= 359


def test_an_unsaved_run_writes_nothing(candles, tmp_path):
    cfg = _cfg(tmp_path / "record", direction_models=())
    cfg.models = ("ridge-price",)
    rp.run(candles, cfg, say=lambda s: None, progress=False, save=False)
    assert not (tmp_path / "record").exists()


def test_direction_classifiers_are_scored_against_the_majority(result):
    d = result.direction
    assert set(d["model"]) == {"lgbm-dir-flow", "majority"}
    maj = d[d["model"] == "majority"]
    assert np.allclose(maj["accuracy"], maj["majority"], equal_nan=True)
    assert ((d["ci_low"] <= d["accuracy"]) & (d["accuracy"] <= d["ci_high"])).all()


def test_every_run_and_test_touch_is_recorded(candles, tmp_path):
    cfg = _cfg(tmp_path, direction_models=())
    cfg.models = ("ridge-price",)
    first = rp.run(candles, cfg, say=lambda s: None, progress=False)
    second = rp.run(candles, cfg, say=lambda s: None, progress=False)
    res = pd.read_csv(tmp_path / "results.csv")
    assert first.run_id != second.run_id
    assert set(res["run"]) == {first.run_id, second.run_id}
    touches = second.table[second.table["model"] == "ridge-price"]["test_touches"]
    assert (touches == 2).all()
    log = pd.read_csv(tmp_path / "test-log.csv")
    assert (log["model"] == "ridge-price").sum() == 2
    # fees are not part of a model's fit: changing them is the same configuration
    cfg.fee_bps = 5.0
    again = rp.run(candles, cfg, say=lambda s: None, progress=False)
    assert (again.table[again.table["model"] == "ridge-price"]["test_touches"] == 3).all()
    run = json.loads((second.folder / "run.json").read_text())
    assert run["choice"]["best"] == "ridge-price"
    assert (second.folder / "models" / "ridge-price" / "card.json").exists()
    # a changed configuration is a new fingerprint: its first touch
    cfg.seed = 1
    third = rp.run(candles, cfg, say=lambda s: None, progress=False)
    assert (third.table[third.table["model"] == "ridge-price"]["test_touches"] == 1).all()


def test_the_default_changes_only_on_significance_on_validation_and_test():
    def table(val_p, test_p, ratio=0.99):
        rows = []
        for k, p in (("val", val_p), ("test", test_p)):
            rows.append(
                {"range": k, "model": "m", "horizon": 10, "mae_ratio": ratio, "dm_pvalue": p}
            )
        return pd.DataFrame(rows)

    assert rp.choose(table(0.01, 0.01), ["m"])["ship"]
    assert not rp.choose(table(0.01, 0.2), ["m"])["ship"]
    assert not rp.choose(table(0.2, 0.01), ["m"])["ship"]
    assert not rp.choose(table(0.01, 0.01, ratio=1.01), ["m"])["ship"]
    assert "the shipped default stays" in rp.choose(table(0.01, 0.2), ["m"])["why"]


def test_flow_models_are_skipped_where_the_candles_lack_taker_volume(candles, tmp_path):
    said = []
    cfg = _cfg(tmp_path, direction_models=())
    rp.run(candles.drop(columns=["taker_buy"]), cfg, say=said.append, progress=False, save=False)
    assert any("ridge-flow: skipped, the candles lack taker_buy" in s for s in said)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"embargo": 5}, "embargo 5 minutes: give at least the horizon"),
        ({"models": ("ridge-magic",)}, "unknown model"),
        (
            {"ranges": rp.Ranges(("2024-01-01", "2025-01-01"), ("2025-01-01", "2025-02-01"))},
            "outside the data",
        ),
        (
            {
                "ranges": rp.Ranges(
                    ("2025-03-25", "2025-03-29"),
                    ("2025-03-28", "2025-03-30"),
                    ("2025-03-30", "2025-04-01"),
                    None,
                )
            },
            "starts before the previous one ends",
        ),
    ],
)
def test_refusals_are_one_line(candles, tmp_path, change, message):
    cfg = _cfg(tmp_path)
    for k, v in change.items():
        setattr(cfg, k, v)
    with pytest.raises(DataError, match=message) as e:
        rp.run(candles, cfg, say=lambda s: None, progress=False, save=False)
    assert "\n" not in str(e.value)


def test_cli_research_quick(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cryptousd.cli",
            "research",
            "--quick",
            "--models",
            "ridge-flow",
            "--out",
            str(out),
            "--json",
            str(tmp_path / "r.json"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["choice"]["best"] == "ridge-flow"
    assert d["choice"]["why"] in proc.stdout
    assert (out / "results.csv").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "cryptousd.cli", "research", "--quick", "--epochs", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "--epochs 0" in bad.stderr
