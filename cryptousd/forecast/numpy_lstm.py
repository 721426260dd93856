"""The LSTM forward pass without TensorFlow, matching Keras (``tanh`` cell, ``sigmoid`` gates,
gate order i f c o in the saved weights).

Two paths compute the same network:

- :func:`reference_forward`: float64, Keras' formulas written out literally, one step at a time.
  Slow and obviously right; the tests hold the fast path to it and to Keras.
- :class:`NumpyLSTM` (what forecasters call): float32. The input projections of all steps are one
  matrix product; only ``h @ U`` stays inside the loop over steps, batched over every window at
  once. sigmoid(x) = (1 + tanh(x / 2)) / 2, so the input, forget and output gate columns are
  pre-scaled by 1/2 and one ``tanh`` over all four gates does the work of four calls. When numba
  is installed (the optional ``fast`` extra) the loop runs compiled instead (:mod:`.jit_lstm`:
  fused tiles for a few windows; for a batch, chunks of windows on threads, each chunk's 60 steps
  one compiled call whose products are BLAS); ``CRYPTOUSD_JIT=0`` forces the NumPy path.
  ``NumpyLSTM.path`` says which ran. :meth:`NumpyLSTM.forward_rows` takes a series' scaled rows
  and where each window starts instead of copied windows (the evaluation's consecutive origins).
"""

from __future__ import annotations

import os

import numpy as np

LAYERS = ("lstm_1", "lstm_2", "dense_1", "dense_2")
# batches at least this large are split over threads on the NumPy path (ufuncs release the GIL),
# where threadpoolctl can hold BLAS to one thread per thread
THREAD_MIN_BATCH = 1024
# windows per pass of the NumPy path: at 4096 the (B, 4U) gate arrays (4 MB) leave the core's
# cache and one thread does ~7.5k windows/s; at 512-1024, ~10k (measured in one run here)
NUMPY_PART = 1024


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _reference_lstm(x, kernel, recurrent, bias, return_sequences: bool) -> np.ndarray:
    b, t, _ = x.shape
    u = recurrent.shape[0]
    h, c = np.zeros((b, u)), np.zeros((b, u))
    seq = []
    for step in range(t):
        z = x[:, step] @ kernel + h @ recurrent + bias
        i, f, g, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        seq.append(h)
    return np.stack(seq, axis=1) if return_sequences else h


def reference_forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """(B, T, F) -> (B, n_out) in float64, step by step as Keras defines the layers."""
    w = {k: np.asarray(v, dtype="float64") for k, v in weights.items()}
    x = np.asarray(x, dtype="float64")
    h = _reference_lstm(x, w["lstm_1/kernel"], w["lstm_1/recurrent_kernel"], w["lstm_1/bias"], True)
    h = _reference_lstm(
        h, w["lstm_2/kernel"], w["lstm_2/recurrent_kernel"], w["lstm_2/bias"], False
    )
    d = np.maximum(h @ w["dense_1/kernel"] + w["dense_1/bias"], 0.0)
    return d @ w["dense_2/kernel"] + w["dense_2/bias"]


def dense_head(weights: dict[str, np.ndarray]) -> tuple[tuple, tuple]:
    """Dense 16 and Dense out: (kernel, bias) as contiguous float32 (every net's head)."""
    return tuple(
        (
            np.ascontiguousarray(weights[f"{name}/kernel"], dtype="float32"),
            np.ascontiguousarray(weights[f"{name}/bias"], dtype="float32"),
        )
        for name in ("dense_1", "dense_2")
    )


def _prescale(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray):
    u = recurrent.shape[0]
    s = np.ones(4 * u, dtype="float32")
    s[:u] = s[u : 2 * u] = s[3 * u :] = 0.5
    return (
        np.ascontiguousarray(kernel * s, dtype="float32"),
        np.ascontiguousarray(recurrent * s, dtype="float32"),
        np.ascontiguousarray(bias * s, dtype="float32"),
    )


def _lstm(x: np.ndarray, kernel, recurrent, bias, return_sequences: bool) -> np.ndarray:
    b, t, _ = x.shape
    u = recurrent.shape[0]
    xw = x @ kernel  # every step's input projection in one product: (B, T, 4U)
    xw += bias
    h = np.zeros((b, u), dtype="float32")
    c = np.zeros((b, u), dtype="float32")
    tmp = np.empty((b, u), dtype="float32")
    out = np.empty((b, t, u), dtype="float32") if return_sequences else None
    z = np.empty((b, 4 * u), dtype="float32")
    for step in range(t):
        np.matmul(h, recurrent, out=z)
        z += xw[:, step]
        np.tanh(z, out=z)
        # c = sigmoid(f) * c + sigmoid(i) * g, h = sigmoid(o) * tanh(c),
        # with sigmoid = (1 + tanh(x / 2)) / 2 and the 1/2 folded into one multiply
        i, f, g, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
        f += 1.0
        c *= f
        i += 1.0
        np.multiply(i, g, out=tmp)
        c += tmp
        c *= 0.5
        np.tanh(c, out=tmp)
        o += 1.0
        o *= 0.5
        h = out[:, step] if out is not None else h
        np.multiply(o, tmp, out=h)
    return out if return_sequences else h


def jit_wanted() -> bool:
    """Whether the compiled path may be used: numba installed and ``CRYPTOUSD_JIT`` not ``0``."""
    if os.environ.get("CRYPTOUSD_JIT", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


class NumpyLSTM:
    """LSTM(64, seq) -> Dropout -> LSTM(32) -> Dense(16, relu) -> Dense(out), inference only.

    ``path`` is ``"numba"`` or ``"numpy"``: which implementation runs the float32 forward pass.
    ``jit=None`` picks numba when :func:`jit_wanted`, ``False`` forces NumPy.
    """

    def __init__(self, weights: dict[str, np.ndarray], jit: bool | None = None):
        self.weights = dict(weights)  # as given, for saving and the float64 reference
        self.l1 = _prescale(
            weights["lstm_1/kernel"], weights["lstm_1/recurrent_kernel"], weights["lstm_1/bias"]
        )
        self.l2 = _prescale(
            weights["lstm_2/kernel"], weights["lstm_2/recurrent_kernel"], weights["lstm_2/bias"]
        )
        self.d1, self.d2 = dense_head(weights)
        self.n_features = self.l1[0].shape[0]
        self.n_out = self.d2[0].shape[1]
        self.path = "numba" if (jit_wanted() if jit is None else jit) else "numpy"
        self._fused = None  # the numba path's weights for forward_rows, built on first use

    def __call__(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """(B, T, F) float32 -> (B, n_out) float32, in chunks of ``batch_size`` windows."""
        x = np.ascontiguousarray(x, dtype="float32")
        if self.path == "numba":
            from .jit_lstm import lstm_forward

            return lstm_forward(x, *self.l1, *self.l2, *self.d1, *self.d2)
        if len(x) > batch_size:
            return np.concatenate(
                [self(x[i : i + batch_size], batch_size) for i in range(0, len(x), batch_size)]
            )
        threads = min(os.cpu_count() or 1, 4)
        try:  # threads only with BLAS held to one thread each: 2 x 2 threads on 2 cores is slower
            from threadpoolctl import threadpool_limits
        except ImportError:
            threads = 1
        # parts of NUMPY_PART windows: the gates' ufunc passes stay in the core's cache
        parts = [x[i : i + NUMPY_PART] for i in range(0, len(x), NUMPY_PART)]
        if len(x) < THREAD_MIN_BATCH or threads < 2:
            return np.concatenate([self._numpy_forward(p) for p in parts])
        from concurrent.futures import ThreadPoolExecutor

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(self._numpy_forward, parts)))

    def forward_rows(self, rows: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """The windows ``rows[s : s + window]`` for each ``s`` in ``starts`` -> (B, n_out) float32:
        the same numbers as calling the network on those windows, without copying them (windows
        of consecutive origins share all but one row). ``rows`` (N, F) are scaled features.

        On the numba path every row's input projection is computed once, whatever the number of
        windows that contain it, and a batch too small for threads goes through ``__call__``'s
        fused tiles; on the NumPy path the windows are gathered and go through ``__call__``."""
        rows = np.ascontiguousarray(rows, dtype="float32")
        starts = np.asarray(starts, dtype=np.int64)
        if self.path != "numba":
            view = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0)
            return self(view[starts].transpose(0, 2, 1))
        from .jit_lstm import PARALLEL_MIN_BATCH, fuse_weights, lstm_forward, lstm_forward_rows

        try:
            import threadpoolctl
        except ImportError:
            threadpoolctl = None
        if len(starts) <= PARALLEL_MIN_BATCH or threadpoolctl is None:  # fused tiles
            x = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0)[starts]
            x = np.ascontiguousarray(x.transpose(0, 2, 1))
            return lstm_forward(x, *self.l1, *self.l2, *self.d1, *self.d2)
        if self._fused is None:
            self._fused = fuse_weights(*self.l1, *self.l2)
        return lstm_forward_rows(rows, starts, window, self._fused, (*self.d1, *self.d2))

    def _numpy_forward(self, x: np.ndarray) -> np.ndarray:
        h = _lstm(x, *self.l1, return_sequences=True)
        h = _lstm(h, *self.l2, return_sequences=False)
        d = np.maximum(h @ self.d1[0] + self.d1[1], 0.0)
        return d @ self.d2[0] + self.d2[1]
