"""Every notebook is a jupytext pair: the percent-format .py (reviewed, linted) and the .ipynb
(outputs) hold the same cells, so an edit made on either side has been synced.
"""

from __future__ import annotations

import jupytext
import nbformat
import pytest

from cryptousd.config import NOTEBOOKS_DIR, PROJECT_ROOT

IPYNBS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
SYNC = ".venv/bin/jupytext --sync notebooks/*.py"


def cells(nb) -> list[tuple[str, str, tuple]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_the_repository_pairs_every_notebook_with_a_percent_script():
    config = (PROJECT_ROOT / "jupytext.toml").read_text()
    assert 'formats = "ipynb,py:percent"' in config
    assert len(IPYNBS) >= 5
    scripts = {p.stem for p in NOTEBOOKS_DIR.glob("*.py")}
    assert scripts == {p.stem for p in IPYNBS}, f"unpaired notebooks: run {SYNC}"


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_pair_is_in_sync(ipynb):
    py = ipynb.with_suffix(".py")
    text = jupytext.read(py, fmt="py:percent")
    stored = nbformat.read(ipynb, as_version=4)
    a, b = cells(text), cells(stored)
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert len(a) == len(b) and not differ, (
        f"{ipynb.name} and {py.name} differ (cell {differ[:1] or 'count'}): run {SYNC}"
    )
    assert any("parameters" in tags for _, _, tags in a) or ipynb.stem.startswith("06")


def test_sync_check_notices_a_change(tmp_path):
    """The check above can fail: an edited .py no longer matches its notebook."""
    ipynb = IPYNBS[0]
    py = tmp_path / "x.py"
    py.write_text(ipynb.with_suffix(".py").read_text().replace("# %%", "# %%\nx = 1\n# %%", 1))
    assert cells(jupytext.read(py, fmt="py:percent")) != cells(nbformat.read(ipynb, 4))


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_stored_notebook_reads_well_on_github(ipynb):
    """Executed top to bottom, no errors, no progress bar frozen at its first state."""
    nb = nbformat.read(ipynb, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{ipynb.name} was not run top to bottom: .venv/bin/python tools/refresh_notebooks.py "
        f"{ipynb.stem[:2]}"
    )
    for o in outputs(nb):
        assert o.output_type != "error", (ipynb.name, o.get("ename"), o.get("evalue"))
        text = o.get("text", "") + o.get("data", {}).get("text/plain", "")
        assert "0%|" not in text, f"{ipynb.name} stores a progress bar frozen at 0 %"


def test_dashboard_notebook_shows_a_still_picture_where_widgets_cannot_run():
    nb = nbformat.read(NOTEBOOKS_DIR / "06-live-dashboard.ipynb", as_version=4)
    bundles = [
        o.data
        for o in outputs(nb)
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert bundles and all(b.get("image/png", "").startswith("iVBOR") for b in bundles)
