"""Helpers to write the project's notebooks from plain Python lists (kept for maintainers).

Each notebook is described as a list of ("md" | "code" | "params", source) pairs; ``params`` becomes
the cell tagged ``parameters`` that papermill overrides.
"""

from __future__ import annotations

import nbformat

# the setup cell every notebook starts with
SETUP = """
%load_ext autoreload
%autoreload 2
%matplotlib inline
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import cryptousd as cu
from cryptousd import config
pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 80
"""


def make_notebook(cells, path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        src = src.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
        else:
            cell = nbformat.v4.new_code_cell(src)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            elif kind == "check":  # nbval compares this cell's output
                cell.metadata["tags"] = ["nbval-check-output"]
            nb.cells.append(cell)
    nbformat.write(nb, path)
