"""Is one shipped LSTM variant better than the other on the validation month? A Diebold-Mariano
test of the two models' squared close errors on the same origins, written into both cards.

    .venv/bin/python tools/compare_variants.py [--write]
"""

from __future__ import annotations

import sys

import numpy as np

import cryptousd as cu
from cryptousd.config import MODELS_DIR, shared_archives
from cryptousd.evaluation.evaluate import diebold_mariano, walk_forward
from cryptousd.files import write_json
from cryptousd.forecast import read_card

A, B = "lstm-direct-btcusdt-1m", "lstm-recursive-btcusdt-1m"


def main(write: bool) -> dict:
    card = read_card(MODELS_DIR / A)
    val = card["validation_range"]
    months = {val["start"][:7], val["end"][:7]}
    files = [a for a in shared_archives() if a.stem[-7:] in months]
    if not files:
        sys.exit(f"needs the archives of {sorted(months)}; fetch them first")
    c = cu.load_candles(files)
    models = {
        A: cu.load_forecaster(A),
        B: cu.load_forecaster(B),
        "persistence": cu.load_baselines()["persistence"],
    }
    ev = walk_forward(c.loc[: val["end"]], models, start=val["start"], stride=1)
    close = c["close"].to_numpy()
    (o, ma), (_, mb) = ev.predictions[A], ev.predictions[B]
    ks = np.arange(1, card["horizon"] + 1)
    actual, c0 = close[o[:, None] + ks], close[o][:, None]
    ea, eb = c0 * np.exp(ma) - actual, c0 * np.exp(mb) - actual
    rows = {}
    for h in (1, 5, 10):
        p = diebold_mariano(ea[:, h - 1], eb[:, h - 1], h)
        rows[str(h)] = {
            "mae_" + A: float(np.abs(ea[:, h - 1]).mean()),
            "mae_" + B: float(np.abs(eb[:, h - 1]).mean()),
            "dm_pvalue": p,
        }
    significant = any(r["dm_pvalue"] < 0.05 for r in rows.values())
    selection = {
        "compared": [A, B],
        "on": f"validation {val['start'][:16]} .. {val['end'][:16]}, {ev.n_origins} origins",
        "by_horizon": rows,
        "verdict": "significant difference" if significant else "tied (no horizon has DM p < 0.05)",
        "why_default": f"{A} ships as the default: the variants are tied on validation, "
        "and the direct model "
        "runs one forward pass per forecast instead of ten",
        "command": "python tools/compare_variants.py --write",
    }
    print(selection)
    if write:
        for name in (A, B):
            card = read_card(MODELS_DIR / name)
            card["selection"] = selection
            write_json(MODELS_DIR / name / "card.json", card)
    return selection


if __name__ == "__main__":
    main("--write" in sys.argv)
