"""The LSTM forward pass in NumPy, matching Keras (``tanh`` cell, ``sigmoid`` gates, order i f c o).

Trick: sigmoid(x) = (1 + tanh(x / 2)) / 2, so the input, forget and output gate columns of the
weights are pre-scaled by 1/2 and a single ``tanh`` over all four gates does the work of four calls.
Input projections of a whole sequence are one matrix product; only ``h @ U`` runs per step.
"""

from __future__ import annotations

import numpy as np

LAYERS = ("lstm_1", "lstm_2", "dense_1", "dense_2")


def _prescale(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray):
    u = recurrent.shape[0]
    s = np.ones(4 * u, dtype="float32")
    s[:u] = s[u : 2 * u] = s[3 * u :] = 0.5
    return (
        (kernel * s).astype("float32"),
        (recurrent * s).astype("float32"),
        (bias * s).astype("float32"),
    )


def _lstm(x: np.ndarray, kernel, recurrent, bias, return_sequences: bool) -> np.ndarray:
    b, t, _ = x.shape
    u = recurrent.shape[0]
    xw = x @ kernel
    xw += bias
    h = np.zeros((b, u), dtype="float32")
    c = np.zeros((b, u), dtype="float32")
    out = np.empty((b, t, u), dtype="float32") if return_sequences else None
    z = np.empty((b, 4 * u), dtype="float32")
    for step in range(t):
        np.matmul(h, recurrent, out=z)
        z += xw[:, step]
        np.tanh(z, out=z)
        gates = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
        i, f, g, o = gates
        # c = sigmoid(f) * c + sigmoid(i) * g with sigmoid = (1 + tanh(x/2)) / 2
        c = 0.5 * ((1.0 + f) * c + (1.0 + i) * g)
        h = 0.5 * (1.0 + o) * np.tanh(c)
        if out is not None:
            out[:, step] = h
    return out if return_sequences else h


class NumpyLSTM:
    """LSTM(64, seq) -> Dropout -> LSTM(32) -> Dense(16, relu) -> Dense(out), inference only."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = dict(weights)  # as given, for saving
        self.l1 = _prescale(
            weights["lstm_1/kernel"], weights["lstm_1/recurrent_kernel"], weights["lstm_1/bias"]
        )
        self.l2 = _prescale(
            weights["lstm_2/kernel"], weights["lstm_2/recurrent_kernel"], weights["lstm_2/bias"]
        )
        self.d1 = (
            weights["dense_1/kernel"].astype("float32"),
            weights["dense_1/bias"].astype("float32"),
        )
        self.d2 = (
            weights["dense_2/kernel"].astype("float32"),
            weights["dense_2/bias"].astype("float32"),
        )
        self.n_features = self.l1[0].shape[0]
        self.n_out = self.d2[0].shape[1]

    def __call__(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """(B, T, F) float32 -> (B, n_out) float32, processed in chunks of ``batch_size``."""
        x = np.asarray(x, dtype="float32")
        if len(x) > batch_size:
            return np.concatenate(
                [self(x[i : i + batch_size], batch_size) for i in range(0, len(x), batch_size)]
            )
        h = _lstm(x, *self.l1, return_sequences=True)
        h = _lstm(h, *self.l2, return_sequences=False)
        d = np.maximum(h @ self.d1[0] + self.d1[1], 0.0)
        return d @ self.d2[0] + self.d2[1]
