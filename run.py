#!/usr/bin/env python3
"""Set up the project's virtual environment when needed, then run a task. Needs only Python >= 3.11.

    python3 run.py dashboard      serve the live dashboard (http://127.0.0.1:8866/)
    python3 run.py serve [ARGS]   serve the live feed to every viewer (http://127.0.0.1:8000/)
    python3 run.py test [ARGS]    run the whole test suite (ARGS go to pytest)
    python3 run.py notebooks [--quick]   re-run notebooks 01-05 and 07 headlessly
    python3 run.py bench          run every benchmark
    python3 run.py lab            open JupyterLab on notebooks/
    python3 run.py lint           ruff check and ruff format --check (as CI runs them)

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
    fresh = not PY.exists()
    if fresh:
        say(f"step 1/3: creating {VENV.name}/ with {sys.executable}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    else:
        say("step 1/3: pyproject.toml or Python changed since the last install; updating .venv/")
    say("step 2/3: upgrading pip")
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    say(
        "step 3/3: installing the project and its dependencies with pip "
        + (
            "(first run: a few minutes, TensorFlow is about 600 MB); pip's progress follows"
            if fresh
            else "(only what changed)"
        )
    )
    # a first install shows pip's progress (package by package); an update only what changed
    quiet = [] if fresh else ["--quiet"]
    bar = ["--progress-bar", "on" if sys.stdout.isatty() else "off"]
    cmd = [str(PY), "-m", "pip", "install", *quiet, *bar, "-e", ".[dev,fast]"]
    subprocess.run(cmd, cwd=ROOT, check=True)
    STAMP.write_text(digest)
    say("environment ready")


def lab_command(args: list[str], euid: int | None = None) -> list[str]:
    """JupyterLab on notebooks/; as root (a container) Jupyter refuses to start without
    --allow-root, so it is added there."""
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else -1
    root = ["--allow-root"] if euid == 0 and "--allow-root" not in args else []
    return [str(BIN / "jupyter"), "lab", "notebooks/", *root, *args]


def main(argv: list[str]) -> int:
    tasks = {
        "dashboard": lambda a: [str(BIN / "cryptousd"), "dashboard", *a],
        "serve": lambda a: [str(BIN / "cryptousd"), "serve", *a],
        "test": lambda a: [str(PY), "-m", "pytest", *a],
        "notebooks": lambda a: [str(BIN / "cryptousd"), "notebooks", *a],
        "lab": lab_command,
        "bench": None,
        "lint": None,
    }
    if not argv or argv[0] not in tasks:
        if argv[:1] in ([], ["-h"], ["--help"]):
            print(__doc__)
            return 0
        known = ", ".join(tasks)
        print(f"run.py: unknown task {argv[0]!r}; choose one of: {known}", file=sys.stderr)
        return 2
    ensure_env()
    task, rest = argv[0], argv[1:]
    if task == "lint":  # what CI checks besides the tests
        ruff = str(BIN / "ruff")
        for cmd in ([ruff, "check", "."], [ruff, "format", "--check", "."]):
            say(" ".join(["ruff", *cmd[1:]]))
            if subprocess.run(cmd, cwd=ROOT, check=False).returncode:
                return 1
        return 0
    if task == "bench":  # each benchmark, then which could not run (none stops the others)
        failed = [
            which
            for which in ("data", "forecast", "evaluate", "live")
            if subprocess.run(
                [str(BIN / "cryptousd"), "bench", which], cwd=ROOT, check=False
            ).returncode
        ]
        if failed:
            say(f"these benchmarks did not run to the end: {', '.join(failed)} (said above why)")
        return 1 if failed else 0
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
