"""Execute the notebooks in place, top to bottom, with their default (full) parameters, so the
committed copies read well on GitHub. Offline: the dashboard notebook replays local data.

    .venv/bin/python tools/refresh_notebooks.py [01 02 ...]
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


def is_progress_bar(output) -> bool:
    """A tqdm bar: a widget (whose stored text is its first state, "0%|") or stderr text."""
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return "%|" in data.get("text/plain", "") or "it/s" in data.get("text/plain", "")
    return output.get("name") == "stderr" and "%|" in output.get("text", "")


def add_still(path: Path, png: Path = ROOT / "docs" / "dashboard.png") -> None:
    """Give the dashboard's widget output a still picture (docs/dashboard.png, made by
    tools/screenshot.py) in the same output bundle: GitHub, which cannot run widgets, shows the
    picture; Voila and JupyterLab run the notebook and show the live widget instead."""
    nb = nbformat.read(path, as_version=4)
    picture = base64.b64encode(png.read_bytes()).decode()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                out["data"]["image/png"] = picture
                out["data"]["text/plain"] = "the CryptoUSD live dashboard (a still picture)"
    nbformat.write(nb, path)


def strip_papermill(path: Path) -> None:
    """Keep the stored notebook small and free of machine-specific run metadata and of progress
    bars (frozen at their first state, they read "0%" on GitHub)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    if "live-dashboard" not in path.name:
        nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress_bar(o)]
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
        if "live-dashboard" in name:
            add_still(path)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
