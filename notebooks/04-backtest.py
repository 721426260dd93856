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
# # 04 · Rolling-origin evaluation and a trading backtest
#
# Does the model forecast better than the simplest honest baselines, and would trading on it make
# money after fees? We replay history minute by minute: at every origin each forecaster sees only
# the past and forecasts the next 10 minutes. The model is **frozen** (trained once, never refitted
# during the test): this is a rolling-origin evaluation of a fixed model, often loosely called
# walk-forward. Then we turn forecasts into positions and charge realistic costs.

# %% tags=["parameters"]
# archive files or folders, or "store" (None: what cu.locate_candles finds); a string may hold
# several, separated by os.pathsep
data = None
model_name = None  # model folder or name (None: the shipped default)
start = "2025-02-01"  # first origin (UTC); keep it after the model's validation range
end = "2025-04-01"
stride = 1  # minutes between origins
coverage = 0.8  # central coverage of the prediction intervals
hold = 10  # minutes each position is held (one decision per period)
allow_short = False  # also go short when the forecast clears the costs downwards
fee_bps = 10.0  # per side
slippage_bps = 1.0  # per side
fee_sweep = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0]  # per-side costs to sweep (bps)
custom_fit_days = 30  # history before `start` that the custom forecaster (section 8) learns from
results_dir = "runs/results"

# %% [markdown]
# ## Setup

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import cryptousd as cu
from cryptousd.colors import forecaster_color
from cryptousd.evaluation.backtest import backtest_all
from cryptousd.evaluation.evaluate import walk_forward
from cryptousd.plots import equity_curves, forecast_chart, metric_by_horizon, reliability

pd.set_option("display.width", 140)
plt.rcParams["figure.dpi"] = 80

where = cu.locate_candles(data)
print(where)
first_needed = pd.Timestamp(start, tz="UTC") - pd.Timedelta(days=custom_fit_days + 1)
candles = where.load(start=first_needed)  # windows before the first origin, and section 8's fit
cu.locate.check_covers(candles, start, end, what="start .. end", where=where)
data = [p.name for p in where.files()] or [str(where)]
model = cu.load_forecaster(model_name)
forecasters = {model.name: model, **cu.load_baselines(model_name)}
card = model.card
print(
    f"{card['name']} | {card['variant']} | trained {card['train_range']['start'][:10]} .. "
    f"{card['train_range']['end'][:10]} | {len(candles):,d} candles loaded from {candles.index[0]}"
)

# %% [markdown]
# ## 1. Rolling origins
#
# At each origin *t* every forecaster reads candles up to *t* only and forecasts *t+1 .. t+10*; all
# use the same origins, and origins whose window or horizon touches a gap are skipped and counted.

# %%
ev = walk_forward(
    candles,
    forecasters,
    start=start,
    end=end,
    stride=stride,
    coverage=coverage,
    model=model.name,
    data=data,
    progress=True,
)
results = ev.to_dict()["results"]
print(f"{ev.n_origins:,d} origins from {ev.start} to {ev.end}; {ev.skipped} skipped at gaps")
ev.summary()

# %% [markdown]
# ## 2. What look-ahead bugs look like
#
# Would this harness expose leakage? Three forecasters that read the future, the way real bugs do:
#
# - **perfect leak**: reads the very closes it forecasts. Nobody would believe it.
# - **centred rolling mean**: forecasts the last close's 5-minute rolling mean, but the mean is
#   *centred* (`rolling(5, center=True)`), so it averages in the next two closes. Nothing looks
#   wrong in the code, and the score is merely good.
# - **off-by-one shift**: a momentum rule on the last 5-minute return whose column was shifted one
#   row the wrong way (`shift(-1)`), so it includes the next minute.
#
# A real model scoring like the last two has a bug, not an edge: the tell is a 1-minute score far
# better than anything at 10 minutes, on data where returns hardly autocorrelate (notebook 03).

# %%
from cryptousd.evaluation.evaluate import LookAheadForecaster
from cryptousd.forecast.base import Forecaster


class LeakyForecaster(Forecaster):
    """Forecasts from a function of the whole series: only for showing leaks in evaluation."""

    def __init__(self, name, rule):
        self.name, self.rule = name, rule

    def predict_cum(self, feats, logc, next_time_ns):
        raise NotImplementedError("a leaky forecaster only runs inside walk_forward")

    def predict_origins(self, feats, logc, times_ns, origins, chunk=8192):
        return np.repeat(self.rule(logc, origins)[:, None], self.horizon, axis=1)


def centred_mean(logc, o):  # the bug: center=True
    smooth = pd.Series(logc).rolling(5, center=True).mean().to_numpy()
    return smooth[o] - logc[o]


def shifted_momentum(logc, o):  # the bug: the 5-minute return one row late
    return 0.2 * (logc[o + 1] - logc[o - 4])


leaky = walk_forward(
    candles,
    {
        "persistence": forecasters["persistence"],
        "look-ahead (leaky)": LookAheadForecaster(),
        "centred mean (leaky)": LeakyForecaster("centred mean (leaky)", centred_mean),
        "shifted momentum (leaky)": LeakyForecaster("shifted momentum (leaky)", shifted_momentum),
    },
    start=start,
    end=end,
    stride=max(stride, 10),
)
leaky.summary(horizons=(1, 5, 10))[["mae_ratio_vs_persistence", "direction_accuracy"]]

# %% [markdown]
# ## 3. Error by horizon, beside persistence

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
metric_by_horizon(
    ev.table, "mae_bps", a, title="MAE of the close", ylabel="basis points of the last close"
)
metric_by_horizon(
    ev.table,
    "mae_ratio_vs_persistence",
    b,
    title="MAE relative to persistence (below 1 = better)",
    ylabel="ratio",
)
fig.tight_layout()

# %% [markdown]
# ## 4. Direction, against the majority baseline
#
# Direction accuracy counts only minutes where the price moved. The honest reference is not 50 %:
# always calling the direction that was more common in training (**majority baseline**) scores
# the share of that direction, and in a falling market a model that mostly says "down" looks
# skilled for free. The test range's own majority direction (a constant chosen in hindsight) is
# the ceiling for any constant call: a model at or below it has shown no skill in direction. The
# interval is overlap-aware: neighbouring 10-minute outcomes share 9 of their minutes, so they
# are not independent trials; a moving-block bootstrap (blocks at least one horizon long) keeps
# that dependence where a textbook binomial interval would be too narrow.

# %%
rows = []
for name, by_h in results.items():
    for h in (1, 5, 10):
        m = by_h[str(h)]
        if m["direction_accuracy"] is None:
            continue
        rows.append(
            {
                "forecaster": name,
                "horizon": h,
                "accuracy": m["direction_accuracy"],
                "CI low": m["direction_ci_low"],
                "CI high": m["direction_ci_high"],
                "majority baseline": m["direction_majority_baseline"],
                "base rate (hindsight)": m["direction_base_rate"],
                "beats it?": "yes"
                if m["direction_ci_low"] > m["direction_majority_baseline"]
                else "no",
                "CI method": m["direction_ci_method"].split(":")[0],
            }
        )
direction = pd.DataFrame(rows).set_index(["forecaster", "horizon"])
fig, ax = plt.subplots(figsize=(9, 3.5))
for i, (name, g) in enumerate(direction.groupby(level=0, sort=False)):
    x = g.index.get_level_values(1) + (i - 1) * 0.25
    err = [g["accuracy"] - g["CI low"], g["CI high"] - g["accuracy"]]
    ax.errorbar(
        x, g["accuracy"], yerr=err, fmt="o", capsize=3, color=forecaster_color(name), label=name
    )
base = direction.groupby(level=1)["majority baseline"].first()
ax.plot(base.index, base.to_numpy(), "k--", label="majority baseline (training)")
hindsight = direction.groupby(level=1)["base rate (hindsight)"].first()
ax.plot(
    hindsight.index,
    hindsight.to_numpy(),
    color="grey",
    ls="-.",
    label="the test range's own majority (hindsight)",
)
ax.axhline(0.5, color="grey", lw=0.8, ls=":")
ax.set_xlabel("horizon (minutes)")
ax.set_ylabel("direction accuracy")
ax.set_title("direction accuracy with 95 % overlap-aware intervals")
ax.legend(fontsize=8)
ax.grid(alpha=0.2)
direction.round(4)

# %% [markdown]
# ## 5. Forecasts against what happened, on a zoomed stretch

# %%
i = candles.index.get_loc(ev.start) + 3000
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
for ax, shift in zip(axes, [0, 240]):
    fc = model.predict(candles.iloc[i + shift - 60 : i + shift])
    forecast_chart(
        candles.iloc[i + shift - 40 : i + shift + 10],
        fc,
        ax,
        title=f"forecast from {fc.origin:%Y-%m-%d %H:%M} UTC",
    )
fig.tight_layout()

# %% [markdown]
# ## 6. Are the intervals and P(up) calibrated?
#
# Coverage by horizon first. Then P(up in 10 minutes): the reliability diagram puts the forecast
# probability against how often the price went up, with a histogram of the forecasts underneath.
# The Brier score splits into *reliability* (calibration error, lower is better), *resolution* (how
# far the forecasts separate outcomes, higher is better) and the *uncertainty* of the outcome
# itself: Brier = reliability − resolution + uncertainty.

# %%
from cryptousd.forecast.features import candle_features, windows
from cryptousd.forecast.intervals import window_sigma

fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.5))
metric_by_horizon(
    ev.table,
    "coverage",
    a,
    title=f"coverage of the {ev.coverage:.0%} interval",
    ylabel="share inside",
    nominal=ev.coverage,
)
origins, mean = ev.predictions[model.name]
sigma = window_sigma(windows(candle_features(candles)[:, :1], origins)[..., 0])
p_up = model.calibration.p_up(mean[:, -1], sigma)
close = candles["close"].to_numpy()
went_up = (close[origins + 10] > close[origins]).astype(float)
m10 = results[model.name]["10"]
reliability(
    p_up,
    went_up,
    b,
    title=f"P(up in 10 min): Brier {m10['brier']:.4f} vs base rate {m10['brier_base']:.4f}",
)
fig.tight_layout()

# Murphy's decomposition over ten equal-count bins
groups = np.array_split(np.argsort(p_up), 10)
o_bar = went_up.mean()
rel = sum(len(g) * (p_up[g].mean() - went_up[g].mean()) ** 2 for g in groups) / len(p_up)
res = sum(len(g) * (went_up[g].mean() - o_bar) ** 2 for g in groups) / len(p_up)
unc = o_bar * (1 - o_bar)
lo_p, hi_p = np.percentile(p_up, [1, 99])
print(
    f"P(up) from {p_up.min():.3f} to {p_up.max():.3f} (1st-99th percentile {lo_p:.3f}-{hi_p:.3f})"
)
print(f"reliability {rel:.5f}, resolution {res:.5f}, uncertainty {unc:.5f}")
if hi_p - lo_p < 0.05:
    print(
        "verdict: calibrated or nearly so, but with almost no resolution: the forecast P(up) "
        "hardly leaves the base rate, so it cannot tell up-minutes from down-minutes"
    )
else:
    print(
        f"verdict: the forecasts spread over {hi_p - lo_p:.2f}; resolution {res / unc:.1%} of "
        "the uncertainty"
    )

# %% [markdown]
# ## 7. Interval width, and coverage by volatility and by hour
#
# The band is scaled by each window's own volatility, so it should be about equally right in calm
# and in turbulent markets, and at every hour of the day. Coverage by volatility quintile (of the
# window's volatility) and by UTC hour, for the model's 10-minute interval:

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
widths = pd.Series({name: by_h["10"]["interval_width_bps"] for name, by_h in results.items()})
widths.dropna().plot.bar(ax=axes[0], color=[forecaster_color(n) for n in widths.dropna().index])
axes[0].set_title("mean width of the 10-minute interval (bps)")
axes[0].tick_params(axis="x", rotation=30)
for ax, key, label in [
    (axes[1], "coverage_by_vol_quintile", "volatility quintile (1 = calmest)"),
    (axes[2], "coverage_by_hour", "UTC hour"),
]:
    cov = np.array(m10[key], dtype=float)
    ax.bar(
        np.arange(1 if "vol" in key else 0, len(cov) + (1 if "vol" in key else 0)),
        cov,
        color=forecaster_color(model.name),
    )
    ax.axhline(ev.coverage, color="black", ls="--", label=f"nominal {ev.coverage:.0%}")
    ax.set_ylim(0.5, 1.0)
    ax.set_xlabel(label)
    ax.set_title(f"{model.name}: 10-minute coverage")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.2)
fig.tight_layout()
print("coverage by volatility quintile:", np.round(m10["coverage_by_vol_quintile"], 3).tolist())

# %% [markdown]
# ## 8. Your own forecaster, in a few lines
#
# Any object with a `predict_cum(feats, logc, next_time_ns)` method that returns the mean
# cumulative log return for each future minute can be evaluated by the same harness. Here: a ridge
# regression of the next 10 cumulative returns on five hand-made features (the last 1, 5, 15 and 59
# minutes' returns and the last 15 minutes' volatility), fitted on the `custom_fit_days` before the
# test range and calibrated on its last fifth, then evaluated on exactly the same origins.

# %%
from cryptousd.forecast.features import series_arrays


class RidgeFeatures(Forecaster):
    name = "ridge (custom)"

    def x(self, logc):  # (B, 60) log closes -> (B, 5) features in basis points
        r = np.diff(logc, axis=1)
        moves = [logc[:, -1] - logc[:, -1 - k] for k in (1, 5, 15, 59)]
        return np.column_stack([*moves, r[:, -15:].std(axis=1)]) * 1e4

    def fit_windows(self, logc_windows, targets, alpha=1e3):
        x = self.x(logc_windows)
        self.mu = x.mean(axis=0)
        xc, y = x - self.mu, targets * 1e4
        self.coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - y.mean(0)))
        self.intercept = y.mean(axis=0)
        return self

    def predict_cum(self, feats, logc, next_time_ns):
        return ((self.x(logc) - self.mu) @ self.coef + self.intercept) / 1e4


arr = series_arrays(candles)
first_origin = int(candles.index.searchsorted(ev.start))
history = np.arange(60, first_origin - 10)  # every target ends before the first test origin
cut = history[int(len(history) * 0.8)]
fit_o, cal_o = history[history < cut - 10], history[history >= cut]  # a horizon's gap between
hs = np.arange(1, 11)
custom = RidgeFeatures().fit_windows(
    windows(arr.logc[:, None], fit_o)[..., 0], arr.logc[fit_o[:, None] + hs] - arr.logc[fit_o, None]
)
custom.calibrate(arr.feats, arr.logc, arr.times, cal_o)
print(
    f"fitted on {len(fit_o):,d} origins, calibrated on {len(cal_o):,d}; coefficients (bps) at "
    f"10 min: {np.round(custom.coef[:, -1], 4).tolist()}"
)
with_custom = walk_forward(
    candles,
    {"persistence": forecasters["persistence"], model.name: model, custom.name: custom},
    start=start,
    end=end,
    stride=stride,
    coverage=coverage,
)
with_custom.summary(horizons=(1, 5, 10))[
    ["mae_ratio_vs_persistence", "dm_pvalue", "direction_accuracy", "direction_majority_baseline"]
]

# %% [markdown]
# ## 9. Trading on the forecast, with and without costs
#
# Rule: every `hold` minutes, go long when the forecast return over the holding period clears the
# round-trip cost (and short when it clears it downwards, if `allow_short`), else stay flat. The
# same rule is driven by each baseline, beside buy-and-hold. Costs are charged per side.

# %%
forecasters[custom.name] = custom
ev.predictions[custom.name] = with_custom.predictions[custom.name]
trade = {
    "start": start,
    "end": end,
    "hold": hold,
    "allow_short": allow_short,
    "forecasts": ev.predictions,
}
bt = backtest_all(candles, forecasters, fee_bps=fee_bps, slippage_bps=slippage_bps, **trade)
bt_free = backtest_all(candles, forecasters, fee_bps=0, slippage_bps=0, **trade)
bt.table().round(4)

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4))
equity_curves(bt_free.equity(), a, title="no costs (threshold 0)")
equity_curves(bt.equity(), b, title=f"{fee_bps:g} bps fee + {slippage_bps:g} bps slippage per side")
fig.tight_layout()

# %% [markdown]
# ### The fee sweep: what cost would the forecast survive?
#
# Take the rule at zero cost (long whenever the forecast is up, threshold 0) and charge each cost
# in the sweep on exactly those trades. Costs multiply at every side, so a strategy that grows 1
# into `E0` before costs with `S` sides ends at `E0 × (1 - c)^S`, and its break-even cost per side
# is `1 - E0^(-1/S)`: what a forecast edge is worth per trade. Buy-and-hold pays the cost once in
# and once out.


# %%
def sides(positions) -> int:
    return int(np.abs(np.diff(np.r_[0.0, positions, 0.0])).sum())


free = {name: r for name, r in bt_free.results.items() if sides(r.positions) > 0}
sweep = pd.DataFrame(
    {
        name: [r.equity.iloc[-1] * (1 - c / 1e4) ** sides(r.positions) - 1 for c in fee_sweep]
        for name, r in free.items()
    },
    index=pd.Index(fee_sweep, name="cost per side (bps)"),
)
fig, ax = plt.subplots(figsize=(8, 3.5))
for name in sweep.columns:
    ax.plot(sweep.index, sweep[name], marker="o", color=forecaster_color(name), label=name)
ax.axhline(0, color="grey", lw=0.8)
ax.set_xlabel("cost per side (bps)")
ax.set_ylabel("total return")
ax.set_title("the zero-cost trades, charged each cost")
ax.legend(fontsize=8)
ax.grid(alpha=0.2)
for name, r in free.items():
    e0, n_sides = r.equity.iloc[-1], sides(r.positions)
    verdict = (
        f"break-even cost {(1 - e0 ** (-1 / n_sides)) * 1e4:.2f} bps per side"
        if e0 > 1
        else "no break-even cost: it loses money before any cost"
    )
    print(f"{name}: {e0 - 1:+.2%} with zero costs over {n_sides:,d} sides; {verdict}")
sweep.round(4)

# %% [markdown]
# ## 10. Conclusion, written from the numbers above

# %%
from IPython.display import Markdown

from cryptousd.forecast.report import verdict_vs_persistence

m1 = results[model.name]["1"]
t, t0 = bt.table(), bt_free.table()
beats = m10["direction_accuracy"] is not None and (
    m10["direction_ci_low"] > m10["direction_majority_baseline"]
)
lines = [
    (
        f"- Over **{ev.n_origins:,d}** origins ({ev.start:%Y-%m-%d} to {ev.end:%Y-%m-%d}), "
        f"**{model.name}** has a 10-minute MAE of **{m10['mae_bps']:.2f} bps**, "
        f"**{m10['mae_ratio_vs_persistence']:.4f}×** persistence's "
        f"({verdict_vs_persistence(m10)}); "
        f"at 1 minute the ratio is {m1['mae_ratio_vs_persistence']:.4f} "
        f"({verdict_vs_persistence(m1)})."
    ),
    (
        f"- Its direction calls at 10 minutes are right **{m10['direction_accuracy']:.1%}** of "
        f"the time (95 % CI {m10['direction_ci_low']:.1%} – {m10['direction_ci_high']:.1%}); "
        f"always calling the training period's majority direction scores "
        f"{m10['direction_majority_baseline']:.1%}, so it "
        f"{'beats' if beats else 'does **not** beat'} that baseline; the test range's own "
        f"majority direction, chosen in hindsight, scores {m10['direction_base_rate']:.1%}."
    )
    if m10["direction_accuracy"] is not None
    else "- It makes no direction calls.",
    (
        f"- The {ev.coverage:.0%} interval covered **{m10['coverage']:.1%}** of 10-minute "
        "outcomes; "
        f"P(up)'s Brier score is {m10['brier']:.4f} against {m10['brier_base']:.4f} for the base "
        f"rate, and its forecasts range only {lo_p:.3f}-{hi_p:.3f} (1st-99th percentile)."
    ),
    (
        f"- Trading on it every {hold} minutes returned "
        f"**{t0.loc[model.name, 'total_return']:+.2%}** "
        f"with zero costs and **{t.loc[model.name, 'total_return']:+.2%}** with "
        f"{fee_bps:g}+{slippage_bps:g} bps per side ({int(t.loc[model.name, 'trades'])} trades); "
        f"buy-and-hold returned {t.loc['buy_and_hold', 'total_return']:+.2%}."
    ),
]
Markdown("\n".join(lines))

# %% [markdown]
# ## 11. What this notebook wrote

# %%
from cryptousd.files import write_json

Path(results_dir).mkdir(parents=True, exist_ok=True)
ev.to_json(Path(results_dir) / "evaluation.json")
write_json(Path(results_dir) / "backtest.json", bt.to_dict())
write_json(Path(results_dir) / "fee_sweep.json", {str(k): v for k, v in sweep.T.to_dict().items()})
print(sorted(str(p) for p in Path(results_dir).glob("*.json")))
