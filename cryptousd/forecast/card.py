"""The model card: what a model folder's ``card.json`` says, built from the training steps'
results.
"""

from __future__ import annotations

import pandas as pd

from .features import FEATURES
from .prepare import Prepared, TrainConfig

CARD_METRICS = [
    "mae",
    "mae_bps",
    "mae_ratio_vs_persistence",
    "direction_accuracy",
    "direction_ci_low",
    "direction_ci_high",
    "coverage",
    "interval_width",
    "dm_pvalue",
    "brier",
    "brier_base",
]


def card_metrics(evaluation) -> dict | None:
    """The card's compact form of an evaluation (``None`` stays ``None``)."""
    if evaluation is None:
        return None
    d = evaluation.to_dict()
    by = {
        f: {h: {k: v.get(k) for k in CARD_METRICS} for h, v in hs.items()}
        for f, hs in d["results"].items()
    }
    return {"n_origins": d["n_origins"], "start": d["start"], "end": d["end"], "by_forecaster": by}


def architecture(config: TrainConfig) -> str:
    n_out = config.horizon if config.variant == "direct" else 1
    return (
        f"LSTM(64, return_sequences) -> Dropout({config.dropout}) -> LSTM(32) -> "
        f"Dense(16, relu) -> Dense({n_out})"
    )


def make_card(
    *,
    name: str,
    config: TrainConfig,
    prep: Prepared,
    training: dict,
    calibration_origins: int,
    agreement: float,
    libraries: dict,
    validation=None,
    test=None,
    data: list[str] | None = None,
    command: str = "",
) -> dict:
    """Assemble ``card.json``: ranges, training record, metrics beside persistence, the command.

    ``training`` is :attr:`cryptousd.forecast.train.Fitted.record`; ``validation`` and ``test`` are
    :class:`cryptousd.evaluation.evaluate.Evaluation` results (or None).
    """
    return {
        "name": name,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "variant": config.variant,
        "architecture": architecture(config),
        "window": config.window,
        "horizon": config.horizon,
        "features": FEATURES,
        "target": "one-minute close-to-close log returns / y_scale",
        "y_scale": prep.y_scale,
        "interval": {
            "method": "normalised split conformal on validation residuals",
            "default_coverage": 0.8,
            "calibration_origins": calibration_origins,
        },
        "data": data or [],
        "train_range": prep.range_of("train"),
        "validation_range": prep.range_of("val"),
        "test_range": prep.range_of("test"),
        "training": training,
        "numpy_keras_max_rel_diff": agreement,
        "validation_metrics": card_metrics(validation),
        "test_metrics": card_metrics(test),
        "libraries": libraries,
        "command": command,
    }
