"""The training chain for the CLI and the notebooks: prepare, fit, export, baselines, calibrate,
evaluate, card, save. Each step lives in :mod:`cryptousd.forecast` and can be called on its own;
evaluation comes from :mod:`cryptousd.evaluation.evaluate`, called here by the caller, not by the
model code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from ..evaluation.evaluate import walk_forward
from ..forecast.card import make_card
from ..forecast.model_folder import save_model
from ..forecast.prepare import TrainConfig, calibrate, fit_baselines, prepare


def train(
    candles: pd.DataFrame,
    out: str | os.PathLike,
    *,
    config: TrainConfig | None = None,
    split: dict | None = None,
    name: str | None = None,
    data_description: list[str] | None = None,
    command: str | None = None,
    verbose: bool = True,
) -> dict:
    """Train one variant on ``candles``, evaluate it and write a model folder; returns the card.

    The split is by time (:data:`cryptousd.forecast.prepare.DEFAULT_SPLIT` by default): the
    scaler and the model learn on training rows, intervals are calibrated on validation, and the
    test range is evaluated once, every metric beside persistence.
    """
    from ..forecast import train as keras_steps  # imports TensorFlow

    cfg = (config or TrainConfig()).validated()
    name = name or Path(out).name
    prep = prepare(candles, cfg, split)
    fitted = keras_steps.fit(prep, cfg, verbose=verbose)
    model, agreement = keras_steps.export(fitted, prep, cfg, name)
    baselines = fit_baselines(prep, cfg)
    calibrate({name: model, **baselines}, prep, cfg)
    everyone = {name: model, **baselines}
    sp = prep.split
    validation = walk_forward(
        candles.iloc[: sp.val[1]], everyone, start=candles.index[sp.val[0]], stride=cfg.calib_stride
    )
    test = None
    if sp.test is not None:
        test = walk_forward(
            candles.iloc[: sp.test[1]],
            everyone,
            start=candles.index[sp.test[0]],
            stride=cfg.eval_stride,
        )
    card = make_card(
        name=name,
        config=cfg,
        prep=prep,
        training=fitted.record,
        calibration_origins=model.calibration.n,
        agreement=agreement,
        libraries=keras_steps.library_versions(),
        validation=validation,
        test=test,
        data=data_description,
        command=command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    )
    save_model(
        Path(out), keras_model=fitted.model, forecaster=model, baselines=baselines, card=card
    )
    return card
