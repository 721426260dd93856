"""Walk-forward scores of direction classifiers against the majority direction and a logistic
regression, on the same origins of data the models never saw.

Per classifier and horizon, on origins whose h-minute move is not flat:

- accuracy of calling up when P(up) >= 0.5, with the overlap-aware 95 % interval of
  :mod:`cryptousd.evaluation.evaluate` (Wilson where outcomes do not overlap, a moving-block
  bootstrap where
  they do) and, beside it, ``direction_majority_baseline`` (always the training period's majority
  direction) and ``direction_base_rate`` (the evaluated range's own majority);
- log loss; Brier score and the Brier skill score against the constant forecast of the training
  period's up rate (``1 - brier / brier_base``: above 0 beats it); ROC AUC (0.5 is no skill);
- a reliability table: deciles of P(up), their mean P(up), the share that went up, and the count.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .evaluate import _direction, valid_origins


def roc_auc(p: np.ndarray, up: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged); NaN with one class only."""
    up = np.asarray(up, dtype=bool)
    n1, n0 = int(up.sum()), int((~up).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = stats.rankdata(p)
    return float((ranks[up].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def reliability(p: np.ndarray, up: np.ndarray, bins: int = 10) -> list[dict]:
    """Deciles of P(up): mean P(up), observed share up, count (one bin for a constant P)."""
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins if np.ptp(p) > 0 else 1):
        if len(part):
            out.append(
                {
                    "p_mean": float(p[part].mean()),
                    "observed_up": float(up[part].mean()),
                    "n": len(part),
                }
            )
    return out


def direction_scores(
    p: np.ndarray, ret: np.ndarray, h: int, stride: int, train_up: float, starts_cache: dict
) -> dict:
    """Every score of one classifier's P(up) at one horizon (see the module's docstring)."""
    p = np.clip(np.asarray(p, dtype="float64"), 1e-7, 1 - 1e-7)
    out = _direction(np.where(p >= 0.5, 1.0, -1.0), ret, h, stride, train_up, starts_cache)
    moving = ret != 0
    pm, up = p[moving], ret[moving] > 0
    brier = float(np.mean((pm - up) ** 2))
    brier_base = float(np.mean((train_up - up) ** 2))
    out.update(
        n=int(moving.sum()),
        log_loss=float(-np.mean(np.where(up, np.log(pm), np.log(1 - pm)))),
        log_loss_base=float(-np.mean(np.where(up, math.log(train_up), math.log(1 - train_up)))),
        brier=brier,
        brier_base=brier_base,
        brier_skill=1 - brier / brier_base,
        roc_auc=roc_auc(pm, up),
        reliability=reliability(pm, up),
    )
    return out


def evaluate_classifiers(
    candles: pd.DataFrame,
    z: np.ndarray,
    classifiers: dict,
    *,
    train_up: dict[int, float],
    horizons=(1, 10),
    window: int = 30,
    start=None,
    end=None,
    stride: int = 1,
) -> dict:
    """Score classifiers at the same origins in ``[start, end)``.

    ``z`` are the scaled features of every row of ``candles`` (rows before ``start`` serve as
    windows); ``classifiers`` maps names to callables ``(z, origins) -> (B, len(horizons))``
    P(up); ``train_up`` the training period's share of up moves per horizon. A ``majority``
    entry (the constant ``train_up``) is added.
    """
    origins, skipped = valid_origins(candles, window + 40, max(horizons), stride, start, end)
    if len(origins) == 0:
        raise DataError(f"no usable origins between {start} and {end}; pick another range")
    logc = np.log(candles["close"].to_numpy("float64"))
    probs = {name: np.asarray(f(z, origins)) for name, f in classifiers.items()}
    probs["majority"] = np.tile([train_up[h] for h in horizons], (len(origins), 1))
    results: dict = {}
    for name, p in probs.items():
        cache: dict = {}
        results[name] = {}
        for j, h in enumerate(horizons):
            ret = logc[origins + h] - logc[origins]
            results[name][str(h)] = direction_scores(p[:, j], ret, h, stride, train_up[h], cache)
    return {
        "n_origins": len(origins),
        "skipped_at_gaps": skipped,
        "start": str(candles.index[origins[0]]),
        "end": str(candles.index[origins[-1]]),
        "stride": stride,
        "results": results,
    }


def verdict(result: dict, model: str, h: int, claim: tuple[float, float] = (0.55, 0.65)) -> str:
    """One plain sentence: does ``model`` beat the majority baseline at ``h`` minutes, and how
    does its accuracy compare with the claimed range?"""
    r = result["results"][model][str(h)]
    acc, lo, hi = r["direction_accuracy"], r["direction_ci_low"], r["direction_ci_high"]
    base = r["direction_majority_baseline"]
    beats = lo > base and r["brier_skill"] > 0
    head = (
        f"{model} at {h} min: accuracy {acc:.2%} (95 % interval {lo:.2%}..{hi:.2%}) against "
        f"{base:.2%} for always calling the training majority; log loss {r['log_loss']:.4f} vs "
        f"{r['log_loss_base']:.4f}, Brier skill {r['brier_skill']:+.4f}, AUC {r['roc_auc']:.3f}. "
    )
    if beats:
        tail = "It beats the baseline"
    elif lo > base or r["brier_skill"] > 0:
        tail = "Mixed: it beats the baseline on one measure, not the other"
    else:
        tail = "It does not beat the baseline"
    within = claim[0] <= acc <= claim[1]
    where = "inside" if within else "below" if acc < claim[0] else "above"
    text = head + tail + f", and its accuracy is {where} the claimed {claim[0]:.0%}-{claim[1]:.0%}."
    lr = result["results"].get("logistic", {}).get(str(h))
    if lr is not None and model != "logistic":
        better = r["log_loss"] < lr["log_loss"]
        text += (
            f" The logistic regression on the same features: accuracy "
            f"{lr['direction_accuracy']:.2%}, log loss {lr['log_loss']:.4f} "
            f"({'higher than' if better else 'as low as or lower than'} the {model}'s)."
        )
    return text
