"""Features, targets and splits: nothing after a window's end can reach its inputs."""

from __future__ import annotations

import numpy as np
import pytest

from cryptousd import DataError
from cryptousd.forecast.features import (
    FEATURES,
    Scaler,
    candle_features,
    future_returns,
    time_split,
    windows,
)


def test_feature_shapes_and_values(candles):
    x = candle_features(candles)
    assert (
        x.shape == (len(candles), len(FEATURES)) and x.dtype == np.float64 and np.isfinite(x).all()
    )
    np.testing.assert_allclose(x[:, 0], np.log(candles["close"] / candles["open"]))
    assert x[0, 3] == pytest.approx(0.0) and x[0, 4] == pytest.approx(1.0)  # midnight UTC


def test_changing_data_after_a_window_leaves_its_inputs_unchanged(candles):
    t = 2000
    before = windows(candle_features(candles), np.array([t]))
    changed = candles.copy()
    changed.iloc[t + 1 :, :4] *= 1.5
    changed.iloc[t + 1 :, 4] = 0.0
    after = windows(candle_features(changed), np.array([t]))
    np.testing.assert_array_equal(before, after)  # the same rows, the same ops, in order: exact


def test_future_returns_are_the_next_closes():
    close = np.array([100.0, 101.0, 99.0, 102.0])
    y = future_returns(close, horizon=2)
    assert y[0, 0] == pytest.approx(np.log(101 / 100)) and y[0, 1] == pytest.approx(
        np.log(99 / 101)
    )
    assert np.isnan(y[-1]).all() and np.isnan(y[-2, 1])


def test_scaler_uses_only_the_rows_it_is_given(candles):
    x = candle_features(candles)
    sc = Scaler.fit(x[:1000])
    np.testing.assert_allclose(sc.mean, x[:1000].mean(axis=0))
    assert Scaler.from_dict(sc.to_dict()).mean.tolist() == sc.mean.tolist()


def test_split_origins_keep_a_horizon_gap(candles):
    sp = time_split(
        candles.index,
        ("2025-01-01", "2025-01-02"),
        ("2025-01-02", "2025-01-03"),
        ("2025-01-03", "2025-01-04"),
    )
    tr, va, te = sp.origins("train"), sp.origins("val"), sp.origins("test")
    assert tr[-1] + 10 < sp.train[1] and va[0] >= sp.val[0] + 10 and va[-1] + 10 < sp.val[1]
    assert (
        te[0] - (va[-1] + 10) >= 10
    )  # last validation target and first test origin are a horizon apart
    with pytest.raises(DataError, match="overlap"):
        time_split(candles.index, ("2025-01-02", "2025-01-03"), ("2025-01-01", "2025-01-02"))


def test_windows_hold_the_rows_ending_at_each_origin():
    x = np.arange(200, dtype=float).reshape(100, 2)
    w = windows(x, np.array([59, 99]))
    assert w.shape == (2, 60, 2) and w[0, -1, 0] == 118 and w[0, 0, 0] == 0 and w[1, -1, 1] == 199
