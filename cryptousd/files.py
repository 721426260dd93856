"""Writing files safely: every file the project writes goes through :func:`atomic_write`.

A file is assembled under a temporary name in its own folder, flushed to disk, given normal
permissions (``0o644`` less the umask, not ``mkstemp``'s ``0o600``), moved over the target in one
step, and the folder itself is flushed, so a crash leaves either the old file or the new one whole.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Normal permissions for a new file: 0o666 less the umask (0o644 under umask 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """Normal permissions for a new folder: 0o777 less the umask (0o755 under umask 022)."""
    return 0o777 & ~_umask()


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` to fill a temporary file, then move it over ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


def _strict(obj):
    """NaN and infinities become null: strict JSON has no such numbers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # NumPy scalars
        return _strict(obj.item())
    return obj


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented, strict JSON (NaN written as null), atomically."""
    text = json.dumps(_strict(obj), indent=2, default=str, allow_nan=False)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
