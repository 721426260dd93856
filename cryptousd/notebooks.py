"""Run notebooks 01-04 headlessly with papermill (``cryptousd notebooks [--quick]``).

Executed copies go to ``runs/notebooks/`` (git-ignored); the run stops at the first failing
notebook and says which cell failed. ``--quick`` uses small parameters (a few minutes on a
laptop); the full set reproduces the committed notebooks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .config import NOTEBOOKS_DIR, PROJECT_ROOT, RUNS_DIR, shared_archives
from .errors import CryptoUSDError

NOTEBOOKS = ["01-fetch-data", "02-build-candles", "03-train-lstm", "04-backtest"]


def parameters(quick: bool, runs_dir: Path = RUNS_DIR) -> dict[str, dict]:
    """Parameters per notebook. Paths are absolute so the executed copies can live anywhere."""
    archives = [str(p) for p in shared_archives()]
    if not archives:
        raise CryptoUSDError(
            "the notebooks read the Binance archives in ../shared/data, which is missing here; "
            "run them in JupyterLab with your own `archives`/`data` parameters"
        )
    models = str(runs_dir / "models")
    full = {
        "01-fetch-data": {"archives": archives, "store_dir": str(runs_dir / "store")},
        "02-build-candles": {},
        "03-train-lstm": {"out_dir": models},
        "04-backtest": {"results_dir": str(runs_dir / "results")},
    }
    if not quick:
        return full
    return {
        "01-fetch-data": {"archives": archives[-2:], "store_dir": str(runs_dir / "store")},
        "02-build-candles": {"n_trades": 50_000},
        "03-train-lstm": {
            "data": archives[11:14],
            "train_range": ["2024-12-01", "2024-12-25"],
            "val_range": ["2024-12-25", "2025-01-10"],
            "test_range": ["2025-01-10", "2025-02-01"],
            "epochs": 2,
            "stride": 30,
            "calib_stride": 10,
            "eval_stride": 10,
            "out_dir": models,
        },
        "04-backtest": {
            "data": archives[-1:],
            "start": "2025-03-20",
            "end": "2025-04-01",
            "stride": 5,
            "results_dir": str(runs_dir / "results"),
        },
    }


def run_notebooks(
    quick: bool = False, only=None, runs_dir: Path = RUNS_DIR, kernel: str = "python3"
) -> dict:
    import papermill as pm

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
