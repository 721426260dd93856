# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Research: can anything here beat persistence?
#
# The shipped LSTM ties persistence (notebook 04): its 10-minute MAE is persistence's to four
# digits and its direction calls match the falling market's base rate. Its inputs are per-candle
# return, range, volume and time of day. This notebook asks whether more information or other
# models change that, with one protocol for all of them:
#
# - **inputs**: multi-scale returns and realised volatility (5, 15, 60 min), RSI, MACD, %b, volume
#   against its trailing hour, and from the Binance archives the order flow: the taker-buy share
#   of the volume (1, 5, 15, 60 min) and the trade count against its trailing hour;
# - **models**: ridge and LightGBM on the origin's inputs, the seed LSTM and a GRU on 60-minute
#   windows of them, beside persistence, drift, the AR baseline and the shipped LSTM;
# - **protocol** (`cryptousd.research.protocol`): training 2024, validation 2025-01, test
#   2025-02..03, and a later range 2025-04..05 where the data have it; purged and embargoed
#   splits; every choice on validation; fixed seeds; every run and every touch of the test range
#   recorded under `runs/research/`.
#
# A model that does not beat persistence is a result. The only failure is to claim it does.

# %% [markdown]
# ## 1. Setup

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

import cryptousd as cu
from cryptousd.colors import forecaster_color
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.forecast.features import series_arrays
from cryptousd.forecast.inputs import INPUTS, input_matrix
from cryptousd.research import protocol as rp

pd.set_option("display.width", 160)
PALETTE = plt.get_cmap("tab20").colors


ORDER: list[str] = []  # every model of the run, in order: one colour each in every plot


def colour_of(name: str):
    """The baselines keep the project's colours; the research models get one each."""
    if name in ("persistence", "drift", "ar", "lstm (shipped)"):
        return forecaster_color(name.split(" ")[0])
    return PALETTE[ORDER.index(name) % len(PALETTE)]


pd.set_option("display.max_columns", 20)
plt.rcParams["figure.dpi"] = 90

# %% tags=["parameters"]
data = None  # files or folders; None: the located archives (+ the extra months where present)
quick = False  # True: the 7-day sample, one epoch (under a minute)
models = list(rp.Config.models)  # candidates to fit (see rp.CANDIDATES)
epochs = 8  # most epochs of the recurrent nets (early stopping on validation)
out = "runs/research"  # where the run is recorded

# %% [markdown]
# ## 2. The data and the splits
#
# Binance's kline archives carry, beside OHLCV, the number of trades and the volume bought by
# takers (market orders that lifted the ask). Their share of the volume is the order-flow input.

# %%
files, what = ([SAMPLE_FILE], "the 7-day sample (quick)") if quick else rp.research_files(data)
sample = files == [SAMPLE_FILE]
if sample and out == "runs/research":
    out = "runs/research-quick"  # the committed record holds the study's runs only
print(what)
candles = cu.load_candles(files)
cfg = rp.Config(
    ranges=rp.SAMPLE_RANGES if sample else rp.Ranges(),
    models=tuple(models),
    epochs=1 if quick else epochs,
    out=out,
)
if sample:
    cfg.stride_engineered, cfg.stride_neural, cfg.scale_stride = 1, 5, 2
ranges = rp.check_ranges(candles, cfg.ranges)
print(f"{len(candles):,d} minutes, {candles.index[0]} .. {candles.index[-1]}")
print("columns:", ", ".join(candles.columns))
candles[["close", "volume", "trades", "taker_buy"]].describe().T.round(3)

# %% [markdown]
# Purging and the embargo: a training origin's targets are the next 10 minutes, so the last
# 10 minutes of training have no origins (their targets would lie in validation); validation and
# test origins start an hour after their range begins. Nothing is shared across a boundary except
# the inputs' look-back, which is information a trader has at the origin.

# %%
spans = {"train": ranges.train, "val": ranges.val, "test": ranges.test}
if ranges.later:
    spans["later"] = ranges.later
rows_before = 60 + max(v.lookback for v in INPUTS.values())
cut = {
    k: rp.range_origins(
        candles,
        r,
        rows_before=rows_before,
        horizon=10,
        embargo=0 if k == "train" else cfg.embargo,
    )
    for k, r in spans.items()
}
idx = candles.index
pd.DataFrame(
    {
        k: {
            "range": f"{r[0]} .. {r[1]}",
            "first origin": idx[cut[k][0]],
            "last origin": idx[cut[k][-1]],
            "origins": len(cut[k]),
        }
        for k, r in spans.items()
    }
).T

# %% [markdown]
# ## 3. Is there any signal in the inputs? (training origins only)
#
# Before fitting anything: the rank correlation of each input at the origin with the next
# 1-minute and 10-minute return, on training origins. The band is ±1.96/√n for independent
# draws; 10-minute returns of consecutive minutes overlap, so those use every 10th origin.

# %%
names = [n for n in rp.FLOW_INPUTS if n in INPUTS or n in ("ret", "range", "logvol")]
X = input_matrix(candles, names)
logc = series_arrays(candles).logc
tr = cut["train"]
ic = {}
for h, step in ((1, 1), (10, 10)):
    o = tr[::step]
    y = pd.Series(logc[o + h] - logc[o])
    ic[f"{h} min"] = [y.corr(pd.Series(X[o, j]), method="spearman") for j in range(len(names))]
    ic[f"band {h} min"] = 1.96 / np.sqrt(len(o))
ic = pd.DataFrame(ic, index=names)
fig, ax = plt.subplots(figsize=(10, 4))
pos = np.arange(len(names))
ax.bar(pos - 0.2, ic["1 min"], 0.4, label="next 1 min", color="#4c72b0")
ax.bar(pos + 0.2, ic["10 min"], 0.4, label="next 10 min (every 10th origin)", color="#dd8452")
ax.axhspan(-ic["band 1 min"].iloc[0], ic["band 1 min"].iloc[0], color="#4c72b0", alpha=0.15)
ax.axhspan(-ic["band 10 min"].iloc[0], ic["band 10 min"].iloc[0], color="#dd8452", alpha=0.12)
ax.set_xticks(pos, names, rotation=60, ha="right")
ax.set_ylabel("Spearman correlation")
ax.set_title("Each input against the next return, training origins (bands: chance at 95 %)")
ax.legend()
fig.tight_layout()
ic.round(4).T

# %% [markdown]
# ## 4. The run
#
# Every candidate is fitted on training origins, chooses what it chooses on validation, gets an
# error-scale model (intervals that use the model) and a split-conformal calibration on
# validation, and is then evaluated with everything else on the same origins of every range.
# Two variations on the engineered models: `+2023` is fitted on two years (2023 and 2024) instead
# of one, and `@monthly` is refitted every month on everything before it (rolling origin).

# %%
if not quick:
    cfg.refit_monthly = ("ridge-flow", "lgbm-flow")
shipped = {"lstm (shipped)": cu.load_forecaster(), "ar": cu.load_baselines()["ar"]}
result = rp.run(candles, cfg, shipped=shipped, progress=True)
ORDER[:] = list(result.forecasters)
print(result.choice["why"])
pd.Series(result.fit_seconds, name="fit seconds").round(1)

# %% [markdown]
# What each candidate chose on validation:

# %%
pd.DataFrame(
    {
        name: {k: v for k, v in (f.fit_info or {}).items() if np.isscalar(v) or v is None}
        for name, f in result.forecasters.items()
        if getattr(f, "fit_info", None)
    }
).T

# %% [markdown]
# ## 5. Validation: where the choice is made

# %%
result.summary("val").round(4)

# %% [markdown]
# ## 6. Test (and the later range): every model against persistence
#
# MAE ratio below 1 means better than persistence; the Diebold-Mariano p-value (with the
# overlap of h-minute errors in its variance) says whether the difference could be luck. Direction
# accuracy stands beside the training majority's, with moving-block bootstrap intervals.

# %%
result.summary("test").round(4)


# %%
def ratio_plot(result, range_names):
    """MAE ratio by horizon; drift (1.01-1.10) is left off so the others can be read."""
    names = [n for n in result.forecasters if n not in ("persistence", "drift")]
    fig, axes = plt.subplots(1, len(range_names), figsize=(5 * len(range_names), 4), sharey=True)
    axes = np.atleast_1d(axes)
    t = result.table
    for ax, k in zip(axes, range_names, strict=True):
        for name in names:
            r = t[(t["range"] == k) & (t["model"] == name)]
            ax.plot(
                r["horizon"],
                r["mae_ratio"],
                marker="o",
                ms=3,
                label=name,
                lw=1.2,
                color=colour_of(name),
            )
        ax.axhline(1.0, color="k", lw=1, ls="--")
        ax.set_title(f"{k}: MAE / persistence's")
        ax.set_xlabel("horizon (minutes)")
    axes[0].set_ylabel("MAE ratio (below 1: better than persistence)")
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8
    )
    fig.tight_layout()


ratio_plot(result, [k for k in ("val", "test", "later") if k in result.evaluations])

# %%
if "later" in result.evaluations:
    display(result.summary("later").round(4))  # noqa: F821 - IPython's display

# %% [markdown]
# Direction at 10 minutes, with the overlap-aware intervals, beside the majority baseline:

# %%
t10 = result.table[(result.table["horizon"] == 10) & (result.table["range"] == "test")]
t10 = t10.set_index("model").dropna(subset=["direction_accuracy"])
fig, ax = plt.subplots(figsize=(9, 3.6))
pos = np.arange(len(t10))
err = np.vstack(
    [
        t10["direction_accuracy"] - t10["direction_ci_low"],
        t10["direction_ci_high"] - t10["direction_accuracy"],
    ]
)
ax.errorbar(pos, t10["direction_accuracy"], yerr=err, fmt="o", color="k", capsize=3)
ax.axhline(t10["majority"].iloc[0], color="#c44e52", ls="--", label="training majority")
ax.axhline(0.5, color="grey", lw=0.8)
ax.set_xticks(pos, t10.index, rotation=30, ha="right")
ax.set_ylabel("direction accuracy")
ax.set_title("Test, 10 minutes ahead: accuracy with 95 % block-bootstrap intervals")
ax.legend()
fig.tight_layout()

# %% [markdown]
# The regression models call a direction through the sign of their forecast. Classifiers
# trained for the direction itself (LightGBM on the price inputs, and on price and order flow)
# are scored on the same origins, with AUC and the Brier skill against the training majority:

# %%
d = result.direction
d[d["range"] != "val"].set_index(["range", "model", "horizon"]).round(4)

# %% [markdown]
# ## 7. Intervals that use the model
#
# Every forecaster's 80 % band is calibrated on validation; the ones fitted here draw it at the
# scale their own error model predicts (persistence+vol is persistence with such a model). At the
# same coverage, the narrower band is the better one.

# %%
iv = result.table[(result.table["range"] == "test") & (result.table["horizon"] == 10)]
iv = iv.set_index("model")[["coverage", "width_bps"]].sort_values("width_bps")
names = list(iv.index)
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.barh(names, iv["width_bps"], color=[colour_of(n) for n in names])
for i, (w, cov) in enumerate(zip(iv["width_bps"], iv["coverage"], strict=True)):
    ax.text(w + 0.2, i, f"coverage {cov:.3f}", va="center", fontsize=8)
ax.set_xlim(iv["width_bps"].min() * 0.9, iv["width_bps"].max() * 1.08)
ax.invert_yaxis()
ax.set_xlabel("mean width of the 80 % band at 10 minutes, test (bps)")
ax.set_title("Narrower at the same coverage is better")
fig.tight_layout()
iv.round(4)


# %% [markdown]
# ## 8. The backtest, with and without costs
#
# Each model trades its own 10-minute forecast, long or short, positions back to back, at 11 bps
# per side and at zero cost; buy-and-hold over the same periods for reference.

# %%
bt = result.backtests
bt.pivot_table(index="model", columns=["range", "cost_bps_per_side"], values="total_return").round(
    4
)

# %% [markdown]
# ## 9. What we found
#
# Written from this run's numbers (the same cell prints other words when the numbers differ).

# %%
t = result.table
c = result.choice
ranges_run = [k for k in ("test", "later") if k in result.evaluations]
fitted = [m for m in result.forecasters if m in result.fit_seconds]


def at(k, h):
    return t[(t["range"] == k) & (t["horizon"] == h)].set_index("model")


lines = []
for k in ranges_run:
    r10 = at(k, 10).loc[fitted]
    won = [m for m in r10.index if rp.beats(t, m, k)]
    lines.append(
        f"- **{k}, 10 minutes**: MAE ratios of the fitted models from "
        f"{r10['mae_ratio'].min():.4f} to {r10['mae_ratio'].max():.4f}, smallest Diebold-Mariano "
        f"p {r10['dm_pvalue'].min():.2f}; significantly better than persistence: "
        f"{', '.join(won) or '**none**'}."
    )
d = result.direction
for k in ranges_run:
    for h in (1, 10):
        dk = d[(d["range"] == k) & (d["horizon"] == h) & (d["model"] != "majority")]
        if dk.empty:
            continue
        each = "; ".join(
            f"{r['model']} {r['accuracy']:.2%} [{r['ci_low']:.2%}, {r['ci_high']:.2%}]"
            f"{' (above)' if r['ci_low'] > r['majority'] else ' (not clearly above)'}, "
            f"AUC {r['auc']:.3f}, Brier skill {r['brier_skill']:+.4f}"
            for _, r in dk.iterrows()
        )
        lines.append(
            f"- **{k}, direction at {h} min** against the training majority's "
            f"{dk['majority'].iloc[0]:.2%}: {each}."
        )
w = at("test", 10)
narrow = 1 - w.loc["persistence+vol", "width_bps"] / w.loc["persistence", "width_bps"]
best_w = w.loc[fitted, "width_bps"].min()
lines.append(
    "- **Intervals** (test, 10 min, 80 %): persistence's band "
    f"{w.loc['persistence', 'width_bps']:.1f} bps at coverage "
    f"{w.loc['persistence', 'coverage']:.3f}; with an error-scale model "
    f"{w.loc['persistence+vol', 'width_bps']:.1f} bps ({narrow:.1%} narrower) at "
    f"{w.loc['persistence+vol', 'coverage']:.3f}; the narrowest fitted model {best_w:.1f} bps. "
    + (
        "The gain comes from modelling volatility, which persistence gets too, not from the "
        "forecasts."
        if abs(best_w / w.loc["persistence+vol", "width_bps"] - 1) < 0.02
        else "The fitted models' own bands differ from persistence+vol's by more than 2 %."
    )
)
bt_cost = result.backtests[
    (result.backtests["range"] == "test")
    & (result.backtests["cost_bps_per_side"] > 0)
    & result.backtests["model"].isin(fitted)
]
lines.append(
    f"- **Backtest on test at {cfg.fee_bps + cfg.slippage_bps:g} bps a side**: "
    f"{int((bt_cost['trades'] > 0).sum())} of {len(bt_cost)} fitted models trade at all (their "
    f"10-minute forecasts rarely exceed the round-trip cost); total returns from "
    f"{bt_cost['total_return'].min():+.2%} to {bt_cost['total_return'].max():+.2%}."
)
verdict = (
    f"**{c['best']} earns the default.**"
    if c["ship"]
    else f"**Nothing here beats persistence significantly.** {c['why']}."
)
Markdown(f"Best on validation: **{c['best']}**. " + verdict + "\n\n" + "\n".join(lines))

# %% [markdown]
# ## 10. Every run so far
#
# `runs/research/results.csv` keeps every run's rows; `test_touches` counts how many runs have
# evaluated the same configuration on the test range (1 means it was seen once).

# %%
allruns = pd.read_csv(f"{out}/results.csv")
last = allruns[(allruns["range"] == "test") & (allruns["horizon"] == 10)]
print(f"wrote this run to {result.folder} and its rows to {out}/results.csv")
last[["run", "model", "mae_ratio", "dm_pvalue", "direction_accuracy", "test_touches"]].tail(12)
