"""run.py's commands, as it builds them (without installing or starting anything)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from cryptousd.config import PROJECT_ROOT


def load_run_py():
    spec = importlib.util.spec_from_file_location("run_py", PROJECT_ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab_adds_allow_root_only_for_root():
    run = load_run_py()
    as_root = run.lab_command(["--port", "9999"], euid=0)
    as_user = run.lab_command(["--port", "9999"], euid=1000)
    assert as_root[1:] == ["lab", "notebooks/", "--allow-root", "--port", "9999"]
    assert as_user[1:] == ["lab", "notebooks/", "--port", "9999"]
    # given twice it would still start, but the user's own flag is kept as it is
    assert run.lab_command(["--allow-root"], euid=0).count("--allow-root") == 1


def test_jupyter_lab_knows_allow_root():
    """The flag run.py adds is one this JupyterLab accepts."""
    jupyter = Path(sys.executable).parent / "jupyter"  # the environment running the tests
    out = subprocess.run(
        [str(jupyter), "lab", "--help-all"], capture_output=True, text=True, check=True
    )
    assert "--allow-root" in out.stdout
