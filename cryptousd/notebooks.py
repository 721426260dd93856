"""Run notebooks 01-05 and 07 headlessly with papermill (``cryptousd notebooks [--quick]``).

Executed copies go to ``runs/notebooks/`` (git-ignored); the run stops at the first failing
notebook and says which cell failed. ``--quick`` uses small parameters (a few minutes on a
laptop); the full set reproduces the committed notebooks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .config import NOTEBOOKS_DIR, PROJECT_ROOT, RUNS_DIR
from .data.locate import SAMPLE_SPLIT, locate_candles
from .errors import CryptoUSDError, DataError

NOTEBOOKS = [
    "01-fetch-data",
    "02-build-candles",
    "03-train-lstm",
    "04-backtest",
    "05-indicators-direction",
    "07-research",
]


def parameters(quick: bool, runs_dir: Path = RUNS_DIR) -> dict[str, dict]:
    """Parameters per notebook. Paths are absolute so the executed copies can live anywhere.

    The data come from :func:`cryptousd.data.locate.locate_candles`: with the 15 months of
    2024-01..2025-03 on disk the quick run uses a few of them; on a fresh clone it uses the
    bundled 7-day sample.
    """
    where = locate_candles(files_only=True)
    archives = [str(p) for p in where.files()]
    models = str(runs_dir / "models")
    full = {
        "01-fetch-data": {"archives": archives, "store_dir": str(runs_dir / "store")},
        "02-build-candles": {},
        "03-train-lstm": {"out_dir": models},
        "04-backtest": {"results_dir": str(runs_dir / "results")},
        "05-indicators-direction": {"out": str(runs_dir / "models" / "direction-nb")},
        "07-research": {"out": str(runs_dir / "research")},
    }
    if not quick:
        return full
    if len(archives) < 15:  # the sample (or a short history): split its seven days
        train, val, test = SAMPLE_SPLIT
        data, from_03, start_04 = archives, archives, "2025-03-29"
    else:
        train = ["2024-12-01", "2024-12-25"]
        val, test = ["2024-12-25", "2025-01-10"], ["2025-01-10", "2025-02-01"]
        data, from_03, start_04 = archives[-2:], archives[11:14], "2025-03-20"
    return {
        "01-fetch-data": {"archives": data, "store_dir": str(runs_dir / "store")},
        "02-build-candles": {"n_trades": 50_000, "archive": archives[-1]},
        "03-train-lstm": {
            "data": from_03,
            "train_range": list(train),
            "val_range": list(val),
            "test_range": list(test),
            "epochs": 2,
            "stride": 31,
            "calib_stride": 10,
            "eval_stride": 10,
            "out_dir": models,
        },
        "04-backtest": {
            "data": archives[-1:],
            "start": start_04,
            "end": "2025-04-01",
            "stride": 5,
            "results_dir": str(runs_dir / "results"),
        },
        "05-indicators-direction": {
            "data": archives[-1:],
            "epochs": 1,
            "lstm_stride": 20,
            "out": str(runs_dir / "models" / "direction-nb"),
        },
        "07-research": {"quick": True, "out": str(runs_dir / "research-quick")},
    }


def run_notebooks(
    quick: bool = False, only=None, runs_dir: Path = RUNS_DIR, kernel: str = "python3"
) -> dict:
    import papermill as pm

    unknown = [n for n in only or () if not any(n in (name, name[:2]) for name in NOTEBOOKS)]
    if unknown:
        raise DataError(
            f"--only {' '.join(unknown)}: no such notebook here; choose from "
            f"{', '.join(n[:2] for n in NOTEBOOKS)} (06, the dashboard, is served by Voila)"
        )
    out_dir = runs_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = parameters(quick, runs_dir)
    chosen = [n for n in NOTEBOOKS if not only or n[:2] in only or n in only]
    report = {}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in chosen:
        t0 = time.perf_counter()
        print(f"running {name} ({'quick' if quick else 'full'} parameters) ...", flush=True)
        try:
            pm.execute_notebook(
                NOTEBOOKS_DIR / f"{name}.ipynb",
                out_dir / f"{name}.ipynb",
                parameters=params[name],
                cwd=str(PROJECT_ROOT),
                kernel_name=kernel,
                progress_bar=False,
            )
        except pm.PapermillExecutionError as exc:
            raise CryptoUSDError(
                f"{name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                f"(executed copy: {out_dir / (name + '.ipynb')})"
            ) from None
        report[name] = round(time.perf_counter() - t0, 1)
        print(f"  ok in {report[name]} s -> {out_dir / (name + '.ipynb')}", flush=True)
    return {"quick": quick, "seconds": report, "output": str(out_dir)}
