"""The notebooks re-run headlessly (papermill, quick parameters) and validate with nbval,
offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from cryptousd.config import NOTEBOOKS_DIR, PROJECT_ROOT
from cryptousd.notebooks import NOTEBOOKS, run_notebooks

pytestmark = pytest.mark.slow
OFFLINE = {"CRYPTOUSD_SOURCE": "replay", "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    old = {k: os.environ.get(k) for k in OFFLINE}
    os.environ.update(OFFLINE)
    try:
        report = run_notebooks(quick=True, runs_dir=runs)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return runs, report


def test_every_notebook_follows_the_house_style():
    for name in [*NOTEBOOKS, "06-live-dashboard"]:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, name
        headings = [
            c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")
        ]
        assert any(h.startswith("## 1.") for h in headings), name
        if name != "06-live-dashboard":
            assert (
                "wrote" in nb.cells[-2].source.lower() or "wrote" in nb.cells[-1].source.lower()
            ), name


def test_notebooks_run_top_to_bottom_with_quick_parameters(executed):
    runs, report = executed
    assert list(report["seconds"]) == NOTEBOOKS
    for name in NOTEBOOKS:
        nb = nbformat.read(runs / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, (name, errors[:1])
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), name
    models = {p.name for p in (runs / "models").iterdir()}
    assert models == {"lstm-direct", "lstm-recursive", "direction-nb"}
    ev = json.loads((runs / "results" / "evaluation.json").read_text())
    assert ev["results"]["persistence"]["10"]["mae_ratio_vs_persistence"] == 1.0


def test_conclusion_of_04_is_written_from_its_numbers(executed):
    runs, _ = executed
    nb = nbformat.read(runs / "notebooks" / "04-backtest.ipynb", as_version=4)
    md = [
        o.data["text/markdown"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]
    ev = json.loads((runs / "results" / "evaluation.json").read_text())
    assert md and f"**{ev['n_origins']:,d}** origins" in md[0]


def test_nbval_lax_on_the_executed_notebooks_and_the_dashboard(executed):
    runs, _ = executed
    paths = [str(runs / "notebooks" / f"{n}.ipynb") for n in NOTEBOOKS] + [
        str(NOTEBOOKS_DIR / "06-live-dashboard.ipynb")
    ]
    env = dict(os.environ, **OFFLINE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(runs),
            *paths,
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        check=False,  # the assertion below shows its output
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1]
