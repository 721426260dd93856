"""The compiled LSTM forward pass (numba), used by :class:`.numpy_lstm.NumpyLSTM` when numba is
installed (the optional ``fast`` extra). Imported only then; the NumPy path is the one that
always works, and :func:`.numpy_lstm.reference_forward` (float64) is the reference.

Two layouts. A few windows (a live forecast) go through fused tiles of ``TILE`` windows: for each
step the input and recurrent products of both layers, the gates and the state updates in one
compiled pass, nothing larger than a tile's state leaving the core's caches. A batch (evaluation)
is cut into chunks of ``CHUNK`` windows that threads take in turn, one per core
(:func:`lstm_forward_rows`); each chunk is one compiled call (:func:`_rows_chunk`) that holds no
GIL and runs its 60 steps itself: OpenBLAS sgemm (single-threaded, through ``np.dot`` into
preallocated arrays) for the products, compiled loops for the gates between them. Per step two
products: ``h1 @ [U1 | W2]`` (layer 1's recurrent term for the next step and layer 2's input term
for this one) and ``h2 @ U2``; layer 1's input projection ``x @ W1 + b1`` is computed once per
row of the series, not once per window that contains the row, and windows are never copied.
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
from scipy.linalg import cython_blas  # noqa: F401  (np.dot in numba: loaded before threadpoolctl)

TILE = 8  # windows per tile
PARALLEL_MIN_BATCH = 4 * TILE  # smaller batches run on one core
CHUNK = 256  # windows per compiled call in a batch
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
def _rows_chunk(rows, starts, t_len, k1, b1, uw, w2, r2, b2, d1, e1, d2, e2, out):
    """Windows ``rows[starts[r] : starts[r] + t_len]`` for every ``r`` of the chunk, through both
    layers and the head into ``out`` (one row per window), in one compiled call that holds no GIL.

    Per step, two products in BLAS (``np.dot`` into preallocated arrays: scipy's OpenBLAS, at the
    core's peak for these shapes) and the gates between them, compiled:

    1. layer 1's gates from ``h1 @ U1`` (left in ``z`` by the previous step) plus the step's input
       projection ``x @ W1 + b1``, computed once per row the chunk's windows span (consecutive
       origins share all but one of their rows, so it is nearly free);
    2. ``z = h1 @ [U1 | W2]``: one product gives layer 1's recurrent term for the next step and
       layer 2's input term for this one (the last step only needs ``h1 @ W2``);
    3. ``z2 = h2 @ U2`` and layer 2's gates.

    At the first step ``h`` is zero, so its products are skipped (exactly zero anyway).
    """
    n = len(starts)
    n_f = rows.shape[1]
    u1, u2 = uw.shape[0], r2.shape[0]
    g1, g2 = 4 * u1, 4 * u2
    half = np.float32(0.5)
    z = np.zeros((n, g1 + g2), np.float32)
    z2 = np.zeros((n, g2), np.float32)
    zl = np.empty((n, g2), np.float32)
    h1 = np.zeros((n, u1), np.float32)
    c1 = np.zeros((n, u1), np.float32)
    h2 = np.zeros((n, u2), np.float32)
    c2 = np.zeros((n, u2), np.float32)
    lo = starts.min()
    span = starts.max() + t_len - lo
    proj = np.empty((span, g1), np.float32)  # the rows' input projections (+ bias), once each
    for q in range(span):
        for j in range(g1):
            proj[q, j] = b1[j]
        for k in range(n_f):
            v = rows[lo + q, k]
            for j in range(g1):
                proj[q, j] += v * k1[k, j]
    for t in range(t_len):
        for r in range(n):
            q = starts[r] + t - lo
            for j in range(g1):
                z[r, j] = _tanh(z[r, j] + proj[q, j])
            for j in range(u1):
                i = half + half * z[r, j]
                f = half + half * z[r, u1 + j]
                o = half + half * z[r, 3 * u1 + j]
                cj = f * c1[r, j] + i * z[r, 2 * u1 + j]
                c1[r, j] = cj
                h1[r, j] = o * _tanh(cj)
        if t + 1 < t_len:
            np.dot(h1, uw, z)
            x2 = z[:, g1:]
        else:
            np.dot(h1, w2, zl)
            x2 = zl
        if t > 0:
            np.dot(h2, r2, z2)
        for r in range(n):
            for j in range(g2):
                z2[r, j] = _tanh(z2[r, j] + x2[r, j] + b2[j])
            for j in range(u2):
                i = half + half * z2[r, j]
                f = half + half * z2[r, u2 + j]
                o = half + half * z2[r, 3 * u2 + j]
                cj = f * c2[r, j] + i * z2[r, 2 * u2 + j]
                c2[r, j] = cj
                h2[r, j] = o * _tanh(cj)
    n_d, n_out = d1.shape[1], d2.shape[1]
    d = np.empty(n_d, np.float32)
    for r in range(n):
        for j in range(n_d):
            d[j] = e1[j]
        for k in range(u2):
            for j in range(n_d):
                d[j] += h2[r, k] * d1[k, j]
        for j in range(n_out):
            acc = e2[j]
            for k in range(n_d):
                acc += max(d[k], np.float32(0.0)) * d2[k, j]
            out[r, j] = acc


def fuse_weights(k1, r1, b1, k2, r2, b2):
    """The (pre-scaled) layer weights as :func:`lstm_forward_rows` takes them: ``[U1 | W2]`` side
    by side so that one product serves both."""
    uw = np.ascontiguousarray(np.concatenate([r1, k2], axis=1), dtype=np.float32)
    return k1, b1, uw, np.ascontiguousarray(k2), r2, b2


_POOLS: dict = {}  # threads -> a ThreadPoolExecutor kept between batches
_BLAS: list = []  # a threadpoolctl ThreadpoolController, made once (finding BLAS takes ms)


def _pool(threads: int):
    from concurrent.futures import ThreadPoolExecutor

    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="lstm")
    return _POOLS[threads]


def _one_blas_thread():
    """A context that holds every loaded BLAS to one thread (threadpoolctl)."""
    from threadpoolctl import ThreadpoolController

    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


def lstm_forward_rows(rows, starts, t_len, fused, head, threads=None):
    """(B,) windows of ``t_len`` consecutive rows of ``rows`` (N, F) float32, window ``b`` starting
    at row ``starts[b]`` -> (B, n_out) float32. ``fused`` is :func:`fuse_weights`' tuple, ``head``
    the dense layers ``(d1, e1, d2, e2)``.

    Windows that overlap (consecutive evaluation origins) share their rows: nothing is copied per
    window. Chunks of ``CHUNK`` windows go to ``threads`` threads (one per core by default; kept
    between calls), each chunk one compiled call (:func:`_rows_chunk`) with BLAS held to one
    thread per thread."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    out = np.empty((len(starts), head[2].shape[1]), np.float32)
    chunks = range(0, len(starts), CHUNK)
    threads = threads or max(1, min(os.cpu_count() or 1, len(chunks)))

    def run(s):
        _rows_chunk(rows, starts[s : s + CHUNK], t_len, *fused, *head, out[s : s + CHUNK])

    with _one_blas_thread():
        if threads == 1:
            for s in chunks:
                run(s)
        else:
            list(_pool(threads).map(run, chunks))
    return out


def lstm_forward(x, k1, r1, b1, k2, r2, b2, d1, e1, d2, e2):
    """(B, T, F) float32 windows -> (B, n_out) float32 outputs of the two-layer LSTM network.

    A few windows (a live forecast) run fused on the calling thread (:func:`_forward_serial`):
    waking other cores costs more than it saves. A batch goes to :func:`lstm_forward_rows`
    (compiled chunks on threads, one per core, whose products are single-threaded BLAS). Where
    threadpoolctl is missing, the fused tiles run in parallel instead."""
    weights = (k1, r1, b1, k2, r2, b2, d1, e1, d2, e2)
    if len(x) <= PARALLEL_MIN_BATCH:
        return _forward_serial(x, *weights)
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return _forward_parallel(x, *weights)
    b, t, f = x.shape
    return lstm_forward_rows(
        x.reshape(b * t, f),
        np.arange(b) * t,
        t,
        fuse_weights(k1, r1, b1, k2, r2, b2),
        (d1, e1, d2, e2),
    )
