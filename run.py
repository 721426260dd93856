#!/usr/bin/env python3
"""Set up the project's virtual environment when needed, then run a task. Needs only Python >= 3.11.

    python3 run.py dashboard      serve the live dashboard (http://127.0.0.1:8866/)
    python3 run.py test [ARGS]    run the whole test suite (ARGS go to pytest)
    python3 run.py notebooks [--quick]   re-run notebooks 01-04 headlessly
    python3 run.py bench          run every benchmark
    python3 run.py lab            open JupyterLab on notebooks/

The environment lives in .venv/ and is (re)installed only when pyproject.toml or the Python version
changes, so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"


def say(msg: str) -> None:
    print(f"[run.py] {msg}", flush=True)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - says so on an older Python
        sys.exit(
            f"run.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}; "
            "run it with python3.11"
        )
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + sys.version.encode()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        say(f"creating {VENV.name}/ with {sys.executable}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    say(
        "installing the project and its dependencies "
        "(first run: a few minutes, TensorFlow is large)"
    )
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=ROOT, check=True
    )
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    tasks = {
        "dashboard": lambda a: [str(BIN / "cryptousd"), "dashboard", *a],
        "test": lambda a: [str(PY), "-m", "pytest", *a],
        "notebooks": lambda a: [str(BIN / "cryptousd"), "notebooks", *a],
        "lab": lambda a: [str(BIN / "jupyter"), "lab", "notebooks/", *a],
        "bench": None,
    }
    if not argv or argv[0] not in tasks:
        print(__doc__)
        return 0 if argv[:1] in ([], ["-h"], ["--help"]) else 2
    ensure_env()
    task, rest = argv[0], argv[1:]
    if task == "bench":
        for which in ("data", "forecast", "evaluate", "live"):
            if subprocess.run(
                [str(BIN / "cryptousd"), "bench", which], cwd=ROOT, check=False
            ).returncode:
                return 1
        return 0
    cmd = tasks[task](rest)
    if os.name == "posix":  # become the task, so signals (Ctrl-C, SIGTERM) reach it directly
        os.chdir(ROOT)
        os.execv(cmd[0], cmd)
    try:
        return subprocess.run(cmd, cwd=ROOT, check=False).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
