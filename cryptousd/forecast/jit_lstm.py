"""The compiled LSTM forward pass (numba), used by :class:`.numpy_lstm.NumpyLSTM` when numba is
installed (the optional ``fast`` extra). Imported only then; the NumPy path is the one that
always works, and :func:`.numpy_lstm.reference_forward` (float64) is the reference.

Two layouts. A few windows (a live forecast) go through fused tiles of ``TILE`` windows: for each
step the input and recurrent products of both layers, the gates and the state updates in one
compiled pass, nothing larger than a tile's state leaving the core's caches. A batch (evaluation)
is cut into chunks that threads take in turn, one per core (:func:`lstm_forward`): NumPy's
single-threaded BLAS does the products, compiled code the gates between them.
Weights come pre-scaled as in :class:`.numpy_lstm.NumpyLSTM` (gate order i f c o; i, f and o
columns halved so that sigmoid(x) = (1 + tanh(x')) / 2). ``tanh`` is Eigen's float32 rational
approximation (within a few ulp of ``np.tanh``), which the compiler can vectorise: with NumPy's
error model (``error_model="numpy"``), as Python's would check each division for zero and keep
the loop scalar (5x slower).
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange

TILE = 8  # windows per tile
PARALLEL_MIN_BATCH = 4 * TILE  # smaller batches run on one core
CHUNK = 128  # windows per thread's turn in a batch (128-256 measured best here)
_CLAMP = np.float32(7.90531110763549805)


@njit(inline="always", fastmath=True, error_model="numpy", cache=True)
def _tanh(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(inline="always", fastmath=True, error_model="numpy", cache=True)
def _lstm_step(inp, n, kernel, recurrent, bias, h, c, z):
    """One step of one LSTM layer for the first ``n`` windows of a tile, in place."""
    n_in = inp.shape[1]
    u = h.shape[1]
    g4 = 4 * u
    half = np.float32(0.5)
    for w in range(n):
        for j in range(g4):
            z[w, j] = bias[j]
    for k in range(n_in):
        for w in range(n):
            v = inp[w, k]
            for j in range(g4):
                z[w, j] += v * kernel[k, j]
    for k in range(u):
        for w in range(n):
            v = h[w, k]
            for j in range(g4):
                z[w, j] += v * recurrent[k, j]
    for w in range(n):
        for j in range(g4):
            z[w, j] = _tanh(z[w, j])
        for j in range(u):
            i = half + half * z[w, j]
            f = half + half * z[w, u + j]
            o = half + half * z[w, 3 * u + j]
            cj = f * c[w, j] + i * z[w, 2 * u + j]
            c[w, j] = cj
            h[w, j] = o * _tanh(cj)


@njit(fastmath=True, error_model="numpy", cache=True)
def _run_tile(x, s, n, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2, out):
    """Windows ``s .. s + n - 1`` (n <= TILE) through both layers and the head into ``out``."""
    n_f = x.shape[2]
    u1, u2 = r1.shape[0], r2.shape[0]
    n_d, n_out = d1.shape[1], d2.shape[1]
    h1 = np.zeros((TILE, u1), np.float32)
    c1 = np.zeros((TILE, u1), np.float32)
    h2 = np.zeros((TILE, u2), np.float32)
    c2 = np.zeros((TILE, u2), np.float32)
    z1 = np.empty((TILE, 4 * u1), np.float32)
    z2 = np.empty((TILE, 4 * u2), np.float32)
    xin = np.empty((TILE, n_f), np.float32)
    for t in range(x.shape[1]):
        for w in range(n):
            for k in range(n_f):
                xin[w, k] = x[s + w, t, k]
        _lstm_step(xin, n, k1, r1, b1, h1, c1, z1)
        _lstm_step(h1, n, k2, r2, b2, h2, c2, z2)
    d = np.empty(n_d, np.float32)
    for w in range(n):
        for j in range(n_d):
            d[j] = e1[j]
        for k in range(u2):
            for j in range(n_d):
                d[j] += h2[w, k] * d1[k, j]
        for j in range(n_out):
            acc = e2[j]
            for k in range(n_d):
                acc += max(d[k], np.float32(0.0)) * d2[k, j]
            out[s + w, j] = acc


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def _forward_parallel(x, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2):
    n_b = x.shape[0]
    out = np.empty((n_b, d2.shape[1]), np.float32)
    for tile in prange((n_b + TILE - 1) // TILE):
        s = tile * TILE
        _run_tile(x, s, min(TILE, n_b - s), k1, r1, b1, k2, r2, b2, d1, e1, d2, e2, out)
    return out


@njit(fastmath=True, error_model="numpy", cache=True)
def _forward_serial(x, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2):
    n_b = x.shape[0]
    out = np.empty((n_b, d2.shape[1]), np.float32)
    for s in range(0, n_b, TILE):
        _run_tile(x, s, min(TILE, n_b - s), k1, r1, b1, k2, r2, b2, d1, e1, d2, e2, out)
    return out


@njit(fastmath=True, error_model="numpy", nogil=True, cache=True)
def _gates(z, xw, t, c, h):
    """One step's gates and state update for a batch, in place: ``z`` holds ``h @ U``; adds the
    step's input projection ``xw[:, t]`` and leaves the new state in ``c`` and ``h``."""
    half = np.float32(0.5)
    u = h.shape[1]
    for r in range(z.shape[0]):
        for j in range(4 * u):
            z[r, j] = _tanh(z[r, j] + xw[r, t, j])
        for j in range(u):
            i = half + half * z[r, j]
            f = half + half * z[r, u + j]
            o = half + half * z[r, 3 * u + j]
            cj = f * c[r, j] + i * z[r, 2 * u + j]
            c[r, j] = cj
            h[r, j] = o * _tanh(cj)


def _layer(x, kernel, recurrent, bias, return_sequences: bool):
    """One LSTM layer over a chunk: NumPy's matrix products (every step's input projection at
    once, then ``h @ U`` per step) and the compiled gates between them."""
    b, t, _ = x.shape
    u = recurrent.shape[0]
    xw = x @ kernel
    xw += bias
    h = np.zeros((b, u), np.float32)
    c = np.zeros((b, u), np.float32)
    z = np.empty((b, 4 * u), np.float32)
    out = np.empty((b, t, u), np.float32) if return_sequences else None
    for step in range(t):
        np.matmul(h, recurrent, out=z)
        _gates(z, xw, step, c, h)
        if out is not None:
            out[:, step] = h
    return out if return_sequences else h


def _chunk_forward(x, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2):
    h = _layer(x, k1, r1, b1, True)
    h = _layer(h, k2, r2, b2, False)
    return np.maximum(h @ d1 + e1, np.float32(0.0)) @ d2 + e2


def lstm_forward(x, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2):
    """(B, T, F) float32 windows -> (B, n_out) float32 outputs of the two-layer LSTM network.

    A few windows (a live forecast) run fused on the calling thread (:func:`_forward_serial`):
    waking other cores costs more than it saves. A batch is cut into chunks of ``CHUNK`` windows
    that threads take in turn, one per core: each chunk's products are single-threaded BLAS and
    its gates the compiled :func:`_gates`; both release the GIL. (About 1.5x the fused tiles'
    throughput here: BLAS does the products near the core's peak.) Where threadpoolctl is
    missing, the fused tiles run in parallel instead."""
    weights = (k1, r1, b1, k2, r2, b2, d1, e1, d2, e2)
    if len(x) <= PARALLEL_MIN_BATCH:
        return _forward_serial(x, *weights)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return _forward_parallel(x, *weights)
    from concurrent.futures import ThreadPoolExecutor

    starts = range(0, len(x), CHUNK)
    threads = max(1, min(os.cpu_count() or 1, len(starts)))
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda s: _chunk_forward(x[s : s + CHUNK], *weights), starts)
        return np.concatenate(list(parts))
