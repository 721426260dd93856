"""The GRU forward pass without TensorFlow, matching Keras 3's ``GRU`` defaults: ``tanh``
candidate, ``sigmoid`` gates, ``reset_after=True``, gate order z r h in the kernel columns and a
bias of shape (2, 3 * units) (row 0 the input bias, row 1 the recurrent bias)::

    z  = sigmoid(x Wz + bz_in + h Uz + bz_rec)
    r  = sigmoid(x Wr + br_in + h Ur + br_rec)
    hh = tanh(x Wh + bh_in + r * (h Uh + bh_rec))
    h  = z * h + (1 - z) * hh

Two paths compute the same network (the mirror of :mod:`.numpy_lstm`):

- :func:`reference_forward`: float64, the formulas above written out literally, one step at a
  time. Slow and obviously right; the tests hold the fast path to it and to Keras.
- :class:`NumpyGRU` (what forecasters call): float32. The input projections of all steps are one
  matrix product (with the z and r parts of the recurrent bias folded in); only ``h @ U`` stays
  inside the loop over steps, batched over every window at once. sigmoid(x) = (1 + tanh(x / 2)) / 2,
  so the z and r columns are pre-scaled by 1/2 and one ``tanh`` serves both gates. Large batches
  are split over threads as in :class:`.numpy_lstm.NumpyLSTM`.
"""

from __future__ import annotations

import os

import numpy as np

from .numpy_lstm import THREAD_MIN_BATCH, dense_head

LAYERS = ("gru_1", "gru_2", "dense_1", "dense_2")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _reference_gru(x, kernel, recurrent, bias, return_sequences: bool) -> np.ndarray:
    b, t, _ = x.shape
    u = recurrent.shape[0]
    b_in, b_rec = bias[0], bias[1]
    h = np.zeros((b, u))
    seq = []
    for step in range(t):
        xz = x[:, step] @ kernel[:, :u] + b_in[:u]
        xr = x[:, step] @ kernel[:, u : 2 * u] + b_in[u : 2 * u]
        xh = x[:, step] @ kernel[:, 2 * u :] + b_in[2 * u :]
        hz = h @ recurrent[:, :u] + b_rec[:u]
        hr = h @ recurrent[:, u : 2 * u] + b_rec[u : 2 * u]
        hh_rec = h @ recurrent[:, 2 * u :] + b_rec[2 * u :]
        z = _sigmoid(xz + hz)
        r = _sigmoid(xr + hr)
        hh = np.tanh(xh + r * hh_rec)
        h = z * h + (1.0 - z) * hh
        seq.append(h)
    return np.stack(seq, axis=1) if return_sequences else h


def reference_forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """(B, T, F) -> (B, n_out) in float64, step by step as Keras defines the layers."""
    w = {k: np.asarray(v, dtype="float64") for k, v in weights.items()}
    x = np.asarray(x, dtype="float64")
    h = _reference_gru(x, w["gru_1/kernel"], w["gru_1/recurrent_kernel"], w["gru_1/bias"], True)
    h = _reference_gru(h, w["gru_2/kernel"], w["gru_2/recurrent_kernel"], w["gru_2/bias"], False)
    d = np.maximum(h @ w["dense_1/kernel"] + w["dense_1/bias"], 0.0)
    return d @ w["dense_2/kernel"] + w["dense_2/bias"]


def _prepare(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray):
    """(kernel, recurrent, input-side bias, candidate recurrent bias), float32, with the z and r
    columns halved (for the tanh form of sigmoid) and their recurrent bias moved to the input
    side (it adds linearly there; only the candidate's is multiplied by r)."""
    u = recurrent.shape[0]
    bias = np.asarray(bias, dtype="float64").reshape(2, 3 * u)
    s = np.ones(3 * u)
    s[: 2 * u] = 0.5
    b_x = bias[0].copy()
    b_x[: 2 * u] += bias[1, : 2 * u]
    return (
        np.ascontiguousarray(np.asarray(kernel, dtype="float64") * s, dtype="float32"),
        np.ascontiguousarray(np.asarray(recurrent, dtype="float64") * s, dtype="float32"),
        np.ascontiguousarray(b_x * s, dtype="float32"),
        np.ascontiguousarray(bias[1, 2 * u :], dtype="float32"),
    )


def _gru(x: np.ndarray, kernel, recurrent, b_x, b_hh, return_sequences: bool) -> np.ndarray:
    b, t, _ = x.shape
    u = recurrent.shape[0]
    xw = x @ kernel  # every step's input projection in one product: (B, T, 3U)
    xw += b_x
    h = np.zeros((b, u), dtype="float32")
    out = np.empty((b, t, u), dtype="float32") if return_sequences else None
    m = np.empty((b, 3 * u), dtype="float32")
    zr = np.empty((b, 2 * u), dtype="float32")
    cand = np.empty((b, u), dtype="float32")
    spare = (np.empty((b, u), dtype="float32"), np.empty((b, u), dtype="float32"))
    for step in range(t):
        np.matmul(h, recurrent, out=m)
        xs = xw[:, step]
        np.add(xs[:, : 2 * u], m[:, : 2 * u], out=zr)
        np.tanh(zr, out=zr)  # tanh(x / 2): sigmoid = (1 + this) / 2
        zr += 1.0
        zr *= 0.5
        z, r = zr[:, :u], zr[:, u:]
        mh = m[:, 2 * u :]
        mh += b_hh
        mh *= r
        np.add(xs[:, 2 * u :], mh, out=cand)
        np.tanh(cand, out=cand)
        # h = z * h + (1 - z) * hh = hh + z * (h - hh)
        new = out[:, step] if out is not None else spare[step % 2]
        np.subtract(h, cand, out=new)
        new *= z
        new += cand
        h = new
    return out if return_sequences else h


class NumpyGRU:
    """GRU(64, seq) -> Dropout -> GRU(32) -> Dense(16, relu) -> Dense(out), inference only.

    Weights are keyed ``gru_1/kernel``, ``gru_1/recurrent_kernel``, ``gru_1/bias`` (2, 3U), the
    same for ``gru_2``, and ``dense_1/kernel`` etc. as :class:`.numpy_lstm.NumpyLSTM`'s.
    ``path`` is always ``"numpy"`` (there is no compiled GRU loop).
    """

    path = "numpy"

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = dict(weights)  # as given, for saving and the float64 reference
        self.l1 = _prepare(
            weights["gru_1/kernel"], weights["gru_1/recurrent_kernel"], weights["gru_1/bias"]
        )
        self.l2 = _prepare(
            weights["gru_2/kernel"], weights["gru_2/recurrent_kernel"], weights["gru_2/bias"]
        )
        self.d1, self.d2 = dense_head(weights)
        self.n_features = self.l1[0].shape[0]
        self.n_out = self.d2[0].shape[1]

    def __call__(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """(B, T, F) float32 -> (B, n_out) float32, in chunks of ``batch_size`` windows."""
        x = np.ascontiguousarray(x, dtype="float32")
        if len(x) > batch_size:
            return np.concatenate(
                [self(x[i : i + batch_size], batch_size) for i in range(0, len(x), batch_size)]
            )
        threads = min(os.cpu_count() or 1, 4)
        try:  # threads only with BLAS held to one thread each: 2 x 2 threads on 2 cores is slower
            from threadpoolctl import threadpool_limits
        except ImportError:
            threads = 1
        if len(x) < THREAD_MIN_BATCH or threads < 2:
            return self._numpy_forward(x)
        from concurrent.futures import ThreadPoolExecutor

        parts = np.array_split(x, threads)
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(self._numpy_forward, parts)))

    def _numpy_forward(self, x: np.ndarray) -> np.ndarray:
        h = _gru(x, *self.l1, return_sequences=True)
        h = _gru(h, *self.l2, return_sequences=False)
        d = np.maximum(h @ self.d1[0] + self.d1[1], 0.0)
        return d @ self.d2[0] + self.d2[1]


def random_weights(n_features: int, n_out: int = 10, seed: int = 0, cell: str = "gru") -> dict:
    """Random weights of the GRU (or, ``cell="lstm"``, the LSTM) network at Keras-like scales,
    for tests and timing."""
    rng = np.random.default_rng(seed)
    g = 3 if cell == "gru" else 4
    w = {}
    for layer, n_in, u in ((f"{cell}_1", n_features, 64), (f"{cell}_2", 64, 32)):
        w[f"{layer}/kernel"] = rng.normal(0, 1 / np.sqrt(n_in), (n_in, g * u))
        w[f"{layer}/recurrent_kernel"] = rng.normal(0, 1 / np.sqrt(u), (u, g * u))
        shape = (2, g * u) if cell == "gru" else (g * u,)
        w[f"{layer}/bias"] = rng.normal(0, 0.1, shape)
    w["dense_1/kernel"] = rng.normal(0, 1 / np.sqrt(32), (32, 16))
    w["dense_1/bias"] = rng.normal(0, 0.1, 16)
    w["dense_2/kernel"] = rng.normal(0, 1 / np.sqrt(16), (16, n_out))
    w["dense_2/bias"] = rng.normal(0, 0.1, n_out)
    return {k: v.astype("float32") for k, v in w.items()}
