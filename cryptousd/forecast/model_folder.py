"""Model folders: ``models/<name>/`` with card.json, weights.npz, scaler.json, calibration.npz,
baselines.npz and the Keras model (``model.keras``, for retraining and inspection only).

Reading a folder never imports TensorFlow. Writing is atomic: the folder is assembled under a
temporary name and moved into place, so a crash leaves the previous model whole.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..config import DEFAULT_MODEL, MODELS_DIR
from ..errors import ModelError
from ..files import dir_mode, file_mode, fsync_dir, write_json
from .base import Forecaster
from .baselines import BASELINES, RidgeAR
from .features import Scaler
from .intervals import Calibration
from .lstm import LSTMForecaster
from .numpy_lstm import NumpyLSTM

REQUIRED = ("card.json", "weights.npz", "scaler.json", "calibration.npz", "baselines.npz")


def available_models(root: Path | None = None) -> list[str]:
    root = Path(root or MODELS_DIR)
    return (
        sorted(p.name for p in root.iterdir() if (p / "card.json").exists())
        if root.exists()
        else []
    )


def resolve_model_dir(path_or_name=None) -> Path:
    """A model folder from a path or a bare name under ``models/`` (default: the shipped model)."""
    name = path_or_name or os.environ.get("CRYPTOUSD_MODEL") or DEFAULT_MODEL
    path = Path(name)
    if path.is_dir():
        return path
    if (MODELS_DIR / str(name)).is_dir():
        return MODELS_DIR / str(name)
    have = ", ".join(available_models()) or "none"
    raise ModelError(
        f"no model folder {name!r} (models here: {have}; baselines: {', '.join(BASELINES)})"
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{path}: unreadable ({type(exc).__name__}); retrain or restore this model folder"
        ) from None


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(
            f"{path}: corrupt ({type(exc).__name__}); retrain or restore this model folder"
        ) from None


def read_card(folder: Path) -> dict:
    return _read_json(Path(folder) / "card.json")


def load_forecaster(
    path_or_name=None,
    *,
    window: int | None = None,
    horizon: int | None = None,
    jit: bool | None = None,
) -> Forecaster:
    """Load an LSTM model folder, or a baseline (``persistence``, ``drift``, ``ar``) calibrated in
    the default model folder (or ``"ar@models/NAME"`` for another folder's). ``jit``: see
    :class:`.numpy_lstm.NumpyLSTM` (None: numba where installed; False: NumPy only)."""
    name = str(path_or_name) if path_or_name is not None else None
    if name is not None and name.split("@")[0] in BASELINES:
        base, _, where = name.partition("@")
        return load_baselines(where or None)[base]
    folder = resolve_model_dir(path_or_name)
    if (folder / "card.json").exists() and read_card(folder).get("task") == "direction":
        raise ModelError(
            f"{folder.name} is a direction classifier, not a forecaster: choose it as the "
            "dashboard's P(up) source (CRYPTOUSD_CLASSIFIER) or evaluate it with "
            "`cryptousd evaluate --model " + folder.name + "`"
        )
    for f in REQUIRED:
        if not (folder / f).exists():
            raise ModelError(
                f"{folder}: missing {f}; the folder is incomplete, retrain with `cryptousd train`"
            )
    card = read_card(folder)
    try:
        net = NumpyLSTM(_read_npz(folder / "weights.npz"), jit=jit)
        scaler = Scaler.from_dict(_read_json(folder / "scaler.json"))
        model = LSTMForecaster(
            net,
            scaler,
            card["y_scale"],
            card["variant"],
            card["name"],
            int(card["window"]),
            int(card["horizon"]),
        )
        model.calibration = Calibration.from_npz(_read_npz(folder / "calibration.npz"))
    except (KeyError, ValueError) as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(
            f"{folder}: inconsistent model files ({exc}); retrain with `cryptousd train`"
        ) from None
    model.card = card
    _check_shape(model, window, horizon)
    return model


def _check_shape(model: Forecaster, window: int | None, horizon: int | None) -> None:
    if (window is not None and window != model.window) or (
        horizon is not None and horizon != model.horizon
    ):
        raise ModelError(
            f"{model.name} reads {model.window} minutes and forecasts {model.horizon}; "
            f"the request asks for window {window or model.window}, "
            f"horizon {horizon or model.horizon}"
        )


def load_baselines(path_or_name=None) -> dict[str, Forecaster]:
    """The baselines fitted and calibrated alongside a model (same data, same split)."""
    folder = resolve_model_dir(path_or_name)
    path = folder / "baselines.npz"
    if not path.exists():
        raise ModelError(f"{folder}: missing baselines.npz; retrain with `cryptousd train`")
    data = _read_npz(path)
    out: dict[str, Forecaster] = {}
    for key, cls in BASELINES.items():
        model = (
            RidgeAR(data["ar/coef"], data["ar/intercept"], float(data["ar/alpha"]))
            if key == "ar"
            else cls()
        )
        model.calibration = Calibration.from_npz(data, prefix=f"{key}/")
        out[key] = model
    return out


def save_baselines(path: Path, baselines: dict[str, Forecaster]) -> None:
    arrays = {}
    for key, model in baselines.items():
        arrays.update(model.calibration.to_arrays(prefix=f"{key}/"))
    ar = baselines["ar"]
    arrays.update({"ar/coef": ar.coef, "ar/intercept": ar.intercept, "ar/alpha": ar.alpha})
    np.savez(path, **arrays)


def save_model(
    out: Path,
    *,
    keras_model,
    forecaster: LSTMForecaster,
    baselines: dict[str, Forecaster],
    card: dict,
) -> Path:
    """Write a complete model folder atomically (see :func:`write_model_folder`)."""
    weights = forecaster.net.weights
    return write_model_folder(
        Path(out),
        {
            "model.keras": lambda p: keras_model.save(p),
            "weights.npz": lambda p: np.savez(p, **weights),
            "scaler.json": lambda p: write_json(p, forecaster.scaler.to_dict()),
            "calibration.npz": lambda p: forecaster.calibration.save(p),
            "baselines.npz": lambda p: save_baselines(p, baselines),
            "card.json": lambda p: write_json(p, card),
        },
    )


def write_model_folder(out: Path, files: dict[str, Callable[[Path], object]]) -> Path:
    """Assemble a model folder under a temporary name, then move it into place.

    Where the system can swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``),
    replacing a model never leaves a moment with no folder; elsewhere the old folder is moved
    aside for the instant of the second rename.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, dir_mode())
    try:
        for fname, write in files.items():
            write(tmp / fname)
        for f in tmp.iterdir():
            if f.is_file():
                os.chmod(f, file_mode())
        if out.exists() and _exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old model
        else:
            old = None
            if out.exists():
                old = out.with_name(f".{out.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(out, old)
            os.replace(tmp, out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    return out


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


__all__ = [
    "available_models",
    "load_baselines",
    "load_forecaster",
    "read_card",
    "resolve_model_dir",
    "save_baselines",
    "save_model",
    "write_model_folder",
]
