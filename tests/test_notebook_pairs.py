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
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells
    ]


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
