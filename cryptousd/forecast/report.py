"""Readable summaries of model cards (for the CLI, notebooks and the dashboard)."""

from __future__ import annotations

import math


def verdict_vs_persistence(metrics: dict, alpha: float = 0.05) -> str:
    """'beats persistence' / 'worse than persistence' only when the Diebold-Mariano test says so."""
    ratio, p = metrics.get("mae_ratio_vs_persistence"), metrics.get("dm_pvalue")
    if p is None or math.isnan(p):  # no test: identical errors, or too few origins
        return "not tested against persistence (no DM p-value)"
    if p >= alpha:
        return f"no significant difference from persistence, DM p={p:.2f}"
    return (
        f"beats persistence, DM p={p:.3f}" if ratio < 1 else f"worse than persistence, DM p={p:.3f}"
    )


def card_headline(card: dict) -> str:
    """One line: name, variant, training range and the test MAE ratio at the last horizon."""
    tm = (card.get("test_metrics") or {}).get("by_forecaster", {})
    h = str(card.get("horizon", 10))
    m = tm.get(card["name"], {}).get(h, {})
    tr = card.get("train_range", {})
    verdict = ""
    if m.get("mae_ratio_vs_persistence") is not None:
        verdict = (
            f"; test MAE at {h} min = {m['mae_ratio_vs_persistence']:.4f} x persistence "
            f"({verdict_vs_persistence(m)})"
        )
    return (
        f"{card['name']} ({card['variant']}, "
        f"trained {tr.get('start', '?')[:10]}..{tr.get('end', '?')[:10]}){verdict}"
    )


def card_summary(card: dict) -> str:
    """A few lines: the headline, then MAE (bps) and its ratio to persistence at 1, 5 and 10
    minutes.
    """
    lines = [card_headline(card)]
    tm = (card.get("test_metrics") or {}).get("by_forecaster", {})
    if tm:
        lines.append(
            f"test {card['test_range']['start'][:16]} .. {card['test_range']['end'][:16]}, "
            f"{card['test_metrics']['n_origins']:,d} origins"
        )
        lines.append(
            f"{'forecaster':<24s}"
            + "".join(f"  MAE bps @{h:<3s} ratio  " for h in ("1", "5", "10"))
            + " coverage@10"
        )
        for name, hs in tm.items():
            cells = "".join(
                f"  {hs[h]['mae_bps']:8.3f}  {hs[h]['mae_ratio_vs_persistence']:.4f}"
                for h in ("1", "5", "10")
            )
            cov = hs["10"].get("coverage")
            lines.append(
                f"{name:<24s}{cells}   {cov:.3f}" if cov is not None else f"{name:<24s}{cells}"
            )
    t = card.get("training", {})
    lines.append(
        f"trained {t.get('epochs_run')} epochs at stride {t.get('stride')}, "
        f"{t.get('seconds_per_epoch')} s/epoch, "
        f"peak RSS {t.get('peak_rss_mb')} MB; NumPy vs Keras max rel diff "
        f"{card.get('numpy_keras_max_rel_diff', float('nan')):.1e}"
    )
    return "\n".join(lines)
