"""Every notebook's parameters cell is one papermill reads in full: no line it cannot parse.

papermill warns "Unable to parse line N" (and drops that parameter from what it can inject) when a
line does not fit its pattern, e.g. an ``=`` inside the comment after a value.
"""

from __future__ import annotations

import ast
import logging

import papermill as pm
import pytest

from cryptousd.config import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def assigned_names(source: str) -> list[str]:
    """The names a parameters cell assigns at the top level, in order."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def parameters_source(path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged parameters, expected 1"
    return cells[0].source


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_parses_every_parameter(path, caplog):
    with caplog.at_level(logging.WARNING):
        found = pm.inspect_notebook(str(path))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, f"{path.name}: {warnings}"
    assert list(found) == assigned_names(parameters_source(path))
