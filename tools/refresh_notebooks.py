"""Execute notebooks 01-05 in place, top to bottom, with their default (full) parameters, so the
committed copies read well on GitHub. Offline: the dashboard notebook replays local data.

    .venv/bin/python tools/refresh_notebooks.py [01 02 ...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["01-fetch-data", "02-build-candles", "03-train-lstm", "04-backtest", "06-live-dashboard"]


def strip_papermill(path: Path) -> None:
    """Keep the stored notebook small and free of machine-specific run metadata."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    if "live-dashboard" not in path.name:  # progress-bar widget state: the text fallback reads fine
        nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def main() -> None:
    only = sys.argv[1:]
    os.environ.update({"CRYPTOUSD_SOURCE": "replay", "TF_CPP_MIN_LOG_LEVEL": "2"})
    for name in NAMES:
        if only and name[:2] not in only:
            continue
        path = ROOT / "notebooks" / f"{name}.ipynb"
        t0 = time.perf_counter()
        pm.execute_notebook(path, path, cwd=str(ROOT), kernel_name="python3", progress_bar=False)
        strip_papermill(path)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
