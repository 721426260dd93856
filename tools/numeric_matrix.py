#!/usr/bin/env python3
"""Run the numeric tests as other CPUs would: under other OpenBLAS kernels and thread counts.

OpenBLAS picks its kernel by processor (SkylakeX, Haswell, Zen, Sandybridge, ...), and each kernel
sums in its own order, so two computation paths that agree to the last bit on one machine differ
in the last bits on another. The tests compare such paths with a stated tolerance; this run keeps
them honest by forcing kernels the machine would not pick by itself (``OPENBLAS_CORETYPE``) with
one and with two threads, and checks that the forced kernel really ran (threadpoolctl reports it).

    .venv/bin/python tools/numeric_matrix.py            # every combination below, then a summary
    .venv/bin/python tools/numeric_matrix.py -- -x      # extra arguments go to pytest

Exit status 0 only when every combination passes. CI runs it (``.ci/run``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the tests of inference, evaluation, indicators, inputs and research: every place two float
# computation paths are compared (the training and notebook tests are not numeric comparisons)
NUMERIC_TESTS = [
    "tests/test_forecast.py",
    "tests/test_evaluate.py",
    "tests/test_indicators.py",
    "tests/test_inputs.py",
    "tests/test_features.py",
    "tests/test_prepare.py",
    "tests/test_direction.py",
    "tests/test_backtest.py",
    "tests/test_backtest_properties.py",
    "tests/test_research_engineered.py",
    "tests/test_research_neural.py",
    "tests/test_live.py",
]

# kernels every x86-64 CPU with the named instructions can run; the first two need AVX2 / AVX
KERNELS = [("Haswell", "avx2"), ("Sandybridge", "avx"), ("Nehalem", "sse4_2")]
THREADS = ("1", "2")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def kernel_in_use(env: dict) -> str:
    """The OpenBLAS kernel numpy loads under ``env`` (threadpoolctl's 'architecture')."""
    code = (
        "import numpy, threadpoolctl\n"
        "print(next(i.get('architecture', '?') for i in threadpoolctl.threadpool_info()"
        " if i.get('internal_api') == 'openblas'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or f"unknown ({out.stderr.strip().splitlines()[-1:]})"


def combinations(own: str) -> list[tuple[str, str]]:
    """Two kernels this CPU runs other than its own, each with one and with two threads."""
    flags = cpu_flags()
    usable = [k for k, need in KERNELS if need in flags and k.lower() != own.lower()]
    return [(k, t) for k in (usable or ["Prescott"])[:2] for t in THREADS]


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = kernel_in_use(dict(os.environ))
    print(f"[numeric] this CPU's own OpenBLAS kernel: {own} (the default test run used it)")
    results = []
    for kernel, threads in combinations(own):
        env = dict(
            os.environ,
            OPENBLAS_CORETYPE=kernel,
            OPENBLAS_NUM_THREADS=threads,
            PYTHONHASHSEED="0",
        )
        env.pop("OPENBLAS_L2_SIZE", None)
        seen = kernel_in_use(env)
        print(f"[numeric] OPENBLAS_CORETYPE={kernel} threads={threads}: kernel {seen}", flush=True)
        if seen.lower() != kernel.lower():
            print(f"[numeric] the {kernel} kernel did not load (got {seen})", file=sys.stderr)
            results.append((kernel, threads, 1, 0.0))
            continue
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NUMERIC_TESTS]
        rc = subprocess.run([*cmd, *extra], cwd=ROOT, env=env, check=False).returncode
        results.append((kernel, threads, rc, time.monotonic() - t0))
    print("[numeric] summary:")
    for kernel, threads, rc, secs in results:
        verdict = "passed" if rc == 0 else "FAILED"
        print(f"  {kernel:<12} {threads} thread(s): {verdict} {secs:.0f} s")
    return 0 if all(rc == 0 for *_, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
