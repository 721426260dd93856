"""Forecasters on engineered inputs: ridge and LightGBM on the origin's last row only.

A window's engineered inputs (:mod:`cryptousd.forecast.inputs`: multi-scale returns and volatility,
indicators, taker-buy share, ...) already summarise its past, so these models read one row, the
window's end, and map it to the mean cumulative log return of the next ``horizon`` minutes.

- :class:`RidgeForecaster`: inputs standardised on the training rows, one closed-form ridge solve
  for all horizons, the penalty chosen per horizon on the validation origins;
- :class:`LGBMForecaster`: one LightGBM booster per horizon (no interpolation), early-stopped on
  the validation origins; objective ``l2`` or ``huber``, whichever validates better on a
  subsample (``objective="auto"``);
- :class:`LGBMDirection`: a LightGBM classifier of P(up) at horizons 1 and 10 (not a forecaster).

Every model is fitted with the research protocol's :meth:`EngineeredForecaster.fit_origins`
(train and validation origins chosen, purged and embargoed by the caller; all model choice on the
validation origins) and kept in a model folder (``card.json``, ``weights.npz``, LightGBM's
boosters as text, ``calibration.npz`` once calibrated) read back by
:meth:`EngineeredForecaster.from_folder`. Targets are handled in basis points internally.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import HORIZON, WINDOW
from ..errors import ModelError
from ..files import write_json
from .base import Forecaster
from .inputs import FLOW_INPUTS, PRICE_INPUTS, check_names, missing_columns
from .intervals import Calibration

BPS = 1e4

#: inputs every Binance, ccxt or Yahoo frame can give (no taker side, no trade count)
BASIC_INPUTS = PRICE_INPUTS
#: inputs that read the Binance-only candle columns ``trades`` and ``taker_buy``
EXTRA_INPUTS: tuple[str, ...] = FLOW_INPUTS[len(PRICE_INPUTS) :]


def default_inputs(candles: pd.DataFrame) -> tuple[str, ...]:
    """:data:`BASIC_INPUTS` plus those of :data:`EXTRA_INPUTS` whose candle columns ``candles``
    hold in full (a frame without ``taker_buy`` gets no taker inputs)."""
    return BASIC_INPUTS + tuple(n for n in EXTRA_INPUTS if not missing_columns(candles, [n]))


def targets_bps(logc: np.ndarray, origins: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
    """(B, horizon) cumulative log returns ``logc[o + h] - logc[o]`` in basis points."""
    return (logc[origins[:, None] + np.arange(1, horizon + 1)] - logc[origins, None]) * BPS


def _origins(origins, n: int, horizon: int, what: str) -> np.ndarray:
    o = np.asarray(origins)
    if o.ndim != 1 or not np.issubdtype(o.dtype, np.integer):
        raise ModelError(f"{what} origins must be a 1-d integer array of row indices")
    if len(o) == 0:
        raise ModelError(f"no {what} origins; give the model some rows to {what} on")
    if o.min() < 0 or o.max() + horizon >= n:
        raise ModelError(
            f"{what} origins run from row {o.min()} to {o.max()}, but every origin needs "
            f"{horizon} rows after it among the {n} rows; drop the last {horizon} rows"
        )
    return o.astype(np.int64)


class EngineeredForecaster(Forecaster):
    """A model on the origin's last row of engineered inputs (base class; see the subclasses).

    ``inputs``: input names from :data:`cryptousd.forecast.inputs.ALL_INPUTS`, starting with
    ``ret`` (the
    interval scale reads it). Subclasses implement :meth:`_fit` and :meth:`_predict_bps` on
    (B, F) rows in basis points, and the folder format (:meth:`_arrays`, :meth:`_files`,
    :meth:`_restore`).
    """

    kind: str = "engineered"

    def __init__(
        self,
        inputs: Sequence[str] = BASIC_INPUTS,
        name: str | None = None,
        *,
        window: int = WINDOW,
        horizon: int = HORIZON,
    ):
        inputs = tuple(inputs)
        if not inputs or inputs[0] != "ret":
            raise ModelError(
                f"inputs must start with 'ret' (the interval scale reads it), got {inputs[:3]}"
            )
        check_names(inputs)
        if len(set(inputs)) != len(inputs):
            raise ModelError(f"inputs name a column twice: {', '.join(inputs)}")
        self.inputs = inputs
        self.name = name or self.kind
        self.window, self.horizon = int(window), int(horizon)
        self.fit_info: dict = {}
        self.calibration = None
        self.card = None

    # prediction ----------------------------------------------------------------------------
    @property
    @abstractmethod
    def fitted(self) -> bool:
        """Whether the model has been fitted (or loaded)."""

    @abstractmethod
    def _predict_bps(self, x: np.ndarray) -> np.ndarray:
        """(B, horizon) cumulative log returns in bps from finite (B, F) input rows."""

    def _rows(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.inputs):
            raise ModelError(
                f"{self.name} reads {len(self.inputs)} inputs per row, got an array of shape "
                f"{x.shape}; compute them with input_matrix(candles, model.inputs)"
            )
        if not self.fitted:
            raise ModelError(
                f"{self.name} is not fitted; call fit_origins() or load it with from_folder()"
            )
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ModelError(
                f"input {self.inputs[col]} is NaN or infinite at {int(bad.any(1).sum())} of "
                f"{len(x)} origin(s) (first: row {int(row)} of the batch); origins need "
                "lookback(model.inputs) earlier candles"
            )
        return x

    def predict_rows(self, x: np.ndarray) -> np.ndarray:
        """(B, horizon) mean cumulative log returns from (B, F) input rows."""
        return self._predict_bps(self._rows(x)) / BPS

    def predict_cum(self, feats, logc, next_time_ns):
        return self.predict_rows(np.asarray(feats)[:, -1, :])

    def predict_origins(self, feats, logc, times_ns, origins, chunk: int = 65536):
        origins = np.asarray(origins)
        out = np.empty((len(origins), self.horizon))
        for i in range(0, len(origins), chunk):
            out[i : i + chunk] = self.predict_rows(feats[origins[i : i + chunk]])
        return out

    # fitting -------------------------------------------------------------------------------
    def _xy(self, feats, logc, origins, what: str) -> tuple[np.ndarray, np.ndarray]:
        o = _origins(origins, len(logc), self.horizon, what)
        x = np.asarray(feats[o], dtype=np.float64)
        bad = ~np.isfinite(x)
        if bad.any():
            col = int(np.argwhere(bad)[0][1])
            raise ModelError(
                f"input {self.inputs[col]} is NaN at {int(bad.any(1).sum())} {what} origin(s) "
                f"(first: row {int(o[bad.any(1)][0])}); start {what} origins after "
                "lookback(model.inputs) rows"
            )
        y = targets_bps(np.asarray(logc, dtype=np.float64), o, self.horizon)
        if not np.isfinite(y).all():
            raise ModelError(f"log closes after some {what} origins are not finite; repair them")
        return x, y

    def fit_origins(
        self,
        feats: np.ndarray,
        logc: np.ndarray,
        times_ns: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        *,
        seed: int = 0,
        progress: bool | None = None,
    ) -> EngineeredForecaster:
        """Fit on ``train`` origins, choosing every hyperparameter on ``val`` origins only.

        ``feats``: ``input_matrix(candles, self.inputs)`` over the whole frame; ``logc``: its log
        closes; ``train``/``val``: row indices of window ends, already purged and embargoed.
        Records the choices, the counts, the validation MSE per horizon (and that of predicting
        zero) and the seconds taken in :attr:`fit_info`.
        """
        t0 = time.perf_counter()
        feats = np.asarray(feats)
        if feats.ndim != 2 or feats.shape[1] != len(self.inputs) or len(feats) != len(logc):
            raise ModelError(
                f"feats must be input_matrix(candles, model.inputs): ({len(logc)}, "
                f"{len(self.inputs)}) rows by inputs, got {feats.shape}"
            )
        x, y = self._xy(feats, logc, train, "train")
        xv, yv = self._xy(feats, logc, val, "val")
        info = self._fit(x, y, xv, yv, seed=seed, progress=progress)
        mse = np.mean((self._predict_bps(xv) - yv) ** 2, axis=0)
        zero = np.mean(yv**2, axis=0)
        self.fit_info = {
            **info,
            "n_train": len(x),
            "n_val": len(xv),
            "seed": int(seed),
            "val_mse_bps2": mse.tolist(),
            "val_mse_zero_bps2": zero.tolist(),
            "val_mse_ratio": (mse / zero).tolist(),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        return self

    @abstractmethod
    def _fit(self, x, y, xv, yv, *, seed: int, progress) -> dict:
        """Fit on training rows ``x`` and targets ``y`` (bps), choosing on ``xv``/``yv``;
        returns what was chosen, for ``fit_info``."""

    # folders -------------------------------------------------------------------------------
    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``weights.npz``."""

    def _files(self) -> dict[str, str]:
        """Text files of the folder besides card.json (e.g. LightGBM's boosters)."""
        return {}

    @abstractmethod
    def _restore(self, arrays: dict, folder: Path, card: dict) -> None:
        """Set the fitted state from a folder's arrays, files and card."""

    def card_dict(self) -> dict:
        return {
            "kind": self.kind,
            "name": self.name,
            "inputs": list(self.inputs),
            "window": self.window,
            "horizon": self.horizon,
            "fit_info": self.fit_info,
        }

    def to_folder(self, path) -> Path:
        """Write the model folder atomically: card.json, weights.npz, the model's text files and
        calibration.npz when calibrated."""
        from .model_folder import write_model_folder

        if not self.fitted:
            raise ModelError(f"{self.name} is not fitted; fit_origins() before to_folder()")
        arrays = self._arrays()
        files = {
            "weights.npz": lambda p: np.savez(p, **arrays),
            **{
                fname: (lambda p, t=text: Path(p).write_text(t))
                for fname, text in self._files().items()
            },
            "card.json": lambda p: write_json(p, self.card_dict()),
        }
        if self.calibration is not None:
            files["calibration.npz"] = self.calibration.save
        return write_model_folder(Path(path), files)

    @classmethod
    def from_folder(cls, path) -> EngineeredForecaster:
        """The forecaster in a folder written by :meth:`to_folder`, as its own subclass."""
        folder = Path(path)
        card_path = folder / "card.json"
        if not card_path.is_file():
            raise ModelError(f"{folder}: no card.json; not a model folder (see to_folder())")
        from .model_folder import _read_json, _read_npz

        card = _read_json(card_path)
        kinds = {k.kind: k for k in _KINDS}
        kind = card.get("kind") if isinstance(card, dict) else None
        if kind not in kinds or not issubclass(kinds[kind], cls):
            want = ", ".join(k.kind for k in _KINDS if issubclass(k, cls))
            raise ModelError(
                f"{folder} holds a {kind or card.get('task') or 'different'} model, not one of "
                f"{want}; load it with its own loader"
            )
        if not (folder / "weights.npz").is_file():
            raise ModelError(f"{folder}: missing weights.npz; refit and save the model again")
        try:
            model = kinds[kind](
                card["inputs"],
                card["name"],
                window=int(card["window"]),
                horizon=int(card["horizon"]),
            )
            model.fit_info = dict(card.get("fit_info") or {})
            model._restore(_read_npz(folder / "weights.npz"), folder, card)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(
                f"{folder}: inconsistent model files ({type(exc).__name__}: {exc}); "
                "refit and save the model again"
            ) from None
        if (folder / "calibration.npz").is_file():
            model.calibration = Calibration.from_npz(_read_npz(folder / "calibration.npz"))
        model.card = card
        return model


class RidgeForecaster(EngineeredForecaster):
    """Ridge regression of the cumulative returns (bps) on the standardised input row.

    The inputs are standardised with the training rows' mean and standard deviation; one
    eigendecomposition gives every penalty of the grid for all horizons at once, and each horizon
    keeps the penalty with the lowest validation MSE. Penalties are multiples of the number of
    training rows (``alpha * n_train``), so the grid means the same at any data size.
    """

    kind = "engineered_ridge"
    ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)

    def __init__(self, inputs=BASIC_INPUTS, name=None, *, alphas=ALPHAS, **kw):
        super().__init__(inputs, name, **kw)
        self.alphas = tuple(float(a) for a in alphas)
        self.mean = self.std = self.coef = self.intercept = None

    @property
    def fitted(self) -> bool:
        return self.coef is not None

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def _predict_bps(self, x):
        return self._z(x) @ self.coef + self.intercept

    def _fit(self, x, y, xv, yv, *, seed, progress) -> dict:
        self.mean = x.mean(0)
        std = x.std(0)
        self.std = np.where(std > 1e-12, std, 1.0)  # a constant input keeps weight 0
        z, zv = self._z(x), self._z(xv)
        ym = y.mean(0)
        evals, evecs = np.linalg.eigh(z.T @ z)
        proj = evecs.T @ (z.T @ (y - ym))  # (F, H)
        n = len(x)
        coefs = np.stack([evecs @ (proj / (evals + a * n)[:, None]) for a in self.alphas])
        val_mse = np.stack([np.mean((zv @ c + ym - yv) ** 2, axis=0) for c in coefs])  # (A, H)
        best = val_mse.argmin(0)
        self.coef = coefs[best, :, np.arange(y.shape[1])].T.copy()  # (F, H)
        self.intercept = ym
        return {
            "model": "ridge",
            "alpha_grid": list(self.alphas),
            "alpha": [self.alphas[i] for i in best],
            "alpha_val_mse_bps2": val_mse.tolist(),
        }

    def coefficients(self) -> pd.DataFrame:
        """Coefficients (bps per standard deviation of each input) by input and horizon."""
        return pd.DataFrame(
            self.coef, index=list(self.inputs), columns=range(1, self.horizon + 1)
        ).rename_axis(index="input", columns="horizon")

    def _arrays(self):
        return {
            "mean": self.mean,
            "std": self.std,
            "coef": self.coef,
            "intercept": self.intercept,
        }

    def _restore(self, arrays, folder, card):
        self.mean, self.std = arrays["mean"], arrays["std"]
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]
        f, h = len(self.inputs), self.horizon
        if self.coef.shape != (f, h) or self.mean.shape != (f,) or self.intercept.shape != (h,):
            raise ModelError(
                f"{folder}: weights of shape {self.coef.shape} do not fit {f} inputs and "
                f"{h} horizons; refit and save the model again"
            )


def _lgb():
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelError(
            "LightGBM is not installed; pip install 'lightgbm>=4' (a dependency of cryptousd)"
        ) from None
    return lightgbm


class _Boosted:
    """LightGBM training shared by the regressor and the classifier."""

    def _set_boosting(
        self, stride, num_leaves, min_data_in_leaf, learning_rate, max_rounds, patience, threads
    ) -> None:
        """The settings both LightGBM models take, checked; no boosters yet."""
        if int(stride) < 1:
            raise ModelError(f"stride {stride}: keep every stride-th origin, 1 or more")
        self.stride = int(stride)
        self.num_leaves, self.min_data_in_leaf = int(num_leaves), int(min_data_in_leaf)
        self.learning_rate, self.max_rounds = float(learning_rate), int(max_rounds)
        self.patience, self.num_threads = int(patience), threads
        self.boosters: list = []
        self.best_iterations: list[int] = []

    def _params(self, objective: str, seed: int, **extra) -> dict:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": seed,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **extra,
        }

    def _train(self, params, ds, dv):
        lgb = _lgb()
        booster = lgb.train(
            params,
            ds,
            num_boost_round=self.max_rounds,
            valid_sets=[dv],
            callbacks=[lgb.early_stopping(self.patience, verbose=False)],
        )
        # the saved text form (best iteration only) is the model: save/load is then exact
        return lgb.Booster(model_str=booster.model_to_string()), int(booster.best_iteration)

    def _datasets(self, x, label, xv, label_v):
        lgb = _lgb()
        params = {"verbosity": -1, "max_bin": 255, "num_threads": self.num_threads}
        names = list(self.inputs)
        ds = lgb.Dataset(x, label=label, feature_name=names, free_raw_data=False, params=params)
        dv = lgb.Dataset(
            xv, label=label_v, reference=ds, feature_name=names, free_raw_data=False, params=params
        )
        return ds.construct(), dv.construct()

    def _boosters_arrays(self) -> dict:
        return {"best_iteration": np.asarray(self.best_iterations, dtype=np.int64)}

    def _boosters_files(self) -> dict[str, str]:
        return {f"booster_{tag}.txt": b.model_to_string() for tag, b in self._tagged()}

    def _boosters_restore(self, arrays, folder: Path) -> list:
        lgb = _lgb()
        out = []
        for tag in self._tags():
            path = folder / f"booster_{tag}.txt"
            if not path.is_file():
                raise ModelError(f"{folder}: missing {path.name}; refit and save the model again")
            out.append(lgb.Booster(model_str=path.read_text()))
        self.best_iterations = [int(i) for i in arrays["best_iteration"]]
        return out


class LGBMForecaster(_Boosted, EngineeredForecaster):
    """LightGBM regression of the cumulative return (bps), one booster per horizon 1..H.

    Each booster is early-stopped on the validation origins (``patience`` rounds of no better l2).
    ``objective``: ``"l2"``, ``"huber"`` (delta: 1.35 times the target's median absolute value
    / 0.6745) or ``"auto"``: both are fitted at horizons 1 and H on at most ``trial_rows``
    training rows and the one with the lower validation MSE is kept for every horizon.
    ``stride`` keeps every stride-th training origin (validation stays whole).
    """

    kind = "engineered_lgbm"

    def __init__(
        self,
        inputs=BASIC_INPUTS,
        name=None,
        *,
        objective: str = "auto",
        stride: int = 1,
        num_leaves: int = 15,
        min_data_in_leaf: int = 500,
        learning_rate: float = 0.05,
        max_rounds: int = 2000,
        patience: int = 50,
        num_threads: int = 2,
        trial_rows: int = 200_000,
        **kw,
    ):
        super().__init__(inputs, name, **kw)
        if objective not in ("auto", "l2", "huber"):
            raise ModelError(f"objective {objective!r}: choose 'auto', 'l2' or 'huber'")
        self.objective, self.trial_rows = objective, trial_rows
        self._set_boosting(
            stride, num_leaves, min_data_in_leaf, learning_rate, max_rounds, patience, num_threads
        )

    @property
    def fitted(self) -> bool:
        return len(self.boosters) == self.horizon

    def _predict_bps(self, x):
        return np.column_stack([b.predict(x, num_threads=self.num_threads) for b in self.boosters])

    def _objective_params(self, objective: str, y: np.ndarray) -> dict:
        if objective == "l2":
            return {}
        mad = float(np.median(np.abs(y - np.median(y)))) / 0.6745
        return {"alpha": 1.35 * max(mad, 1e-6), "metric": "l2"}

    def _fit(self, x, y, xv, yv, *, seed, progress) -> dict:
        x, y = x[:: self.stride], y[:: self.stride]
        trial = {}
        objective = self.objective
        if objective == "auto":
            rng = np.random.default_rng(seed)
            sub = np.sort(rng.choice(len(x), min(len(x), self.trial_rows), replace=False))
            ds, dv = self._datasets(x[sub], y[sub, 0], xv, yv[:, 0])
            for obj in ("l2", "huber"):
                mse = []
                for j in sorted({0, self.horizon - 1}):
                    ds.set_label(y[sub, j])
                    dv.set_label(yv[:, j])
                    params = self._params(obj, seed, **self._objective_params(obj, y[sub, j]))
                    b, _ = self._train(params, ds, dv)
                    mse.append(float(np.mean((b.predict(xv) - yv[:, j]) ** 2)))
                trial[obj] = mse
            objective = min(trial, key=lambda k: sum(trial[k]))
        ds, dv = self._datasets(x, y[:, 0], xv, yv[:, 0])
        bar = range(self.horizon)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc=f"{self.name} boosters", unit="booster")
        self.boosters, self.best_iterations = [], []
        for j in bar:
            ds.set_label(y[:, j])
            dv.set_label(yv[:, j])
            params = self._params(objective, seed, **self._objective_params(objective, y[:, j]))
            b, best = self._train(params, ds, dv)
            self.boosters.append(b)
            self.best_iterations.append(best)
        return {
            "model": "lightgbm",
            "objective": objective,
            "objective_trial_val_mse_bps2": trial,
            "best_iteration": self.best_iterations,
            "stride": self.stride,
            "n_train_used": len(x),
            "params": self._params(objective, seed),
            "max_rounds": self.max_rounds,
            "patience": self.patience,
        }

    def feature_importance(self, kind: str = "gain") -> pd.DataFrame:
        """Each input's importance (LightGBM ``gain`` or ``split``) by horizon."""
        return pd.DataFrame(
            np.column_stack([b.feature_importance(kind) for b in self.boosters]),
            index=list(self.inputs),
            columns=range(1, self.horizon + 1),
        ).rename_axis(index="input", columns="horizon")

    def _tags(self):
        return [f"h{h:02d}" for h in range(1, self.horizon + 1)]

    def _tagged(self):
        return zip(self._tags(), self.boosters, strict=True)

    def _arrays(self):
        return self._boosters_arrays()

    def _files(self):
        return self._boosters_files()

    def _restore(self, arrays, folder, card):
        self.boosters = self._boosters_restore(arrays, folder)


class LGBMDirection(_Boosted, EngineeredForecaster):
    """LightGBM classifier of the close moving up at ``horizons`` (default 1 and 10 minutes).

    Not a price forecaster (:meth:`predict_cum` is refused): :meth:`predict_proba_origins` gives
    P(up) per horizon. Flat moves count as not up. Same inputs, fitting and folder format as
    :class:`LGBMForecaster` (binary log-loss, early-stopped on the validation origins).
    """

    kind = "engineered_lgbm_direction"

    def __init__(
        self,
        inputs=BASIC_INPUTS,
        name=None,
        *,
        horizons: Sequence[int] = (1, 10),
        stride: int = 1,
        num_leaves: int = 15,
        min_data_in_leaf: int = 500,
        learning_rate: float = 0.05,
        max_rounds: int = 2000,
        patience: int = 50,
        num_threads: int = 2,
        **kw,
    ):
        super().__init__(inputs, name, **kw)
        self.horizons = tuple(int(h) for h in horizons)
        if not self.horizons or min(self.horizons) < 1 or max(self.horizons) > self.horizon:
            raise ModelError(f"horizons {self.horizons}: choose minutes from 1 to {self.horizon}")
        self._set_boosting(
            stride, num_leaves, min_data_in_leaf, learning_rate, max_rounds, patience, num_threads
        )

    @property
    def fitted(self) -> bool:
        return len(self.boosters) == len(self.horizons)

    def _predict_bps(self, x):
        raise ModelError(
            f"{self.name} is a direction classifier; use predict_proba_origins() for P(up)"
        )

    def predict_proba_rows(self, x: np.ndarray) -> np.ndarray:
        """(B, len(horizons)) P(up) from (B, F) input rows."""
        x = self._rows(x)
        return np.column_stack([b.predict(x, num_threads=self.num_threads) for b in self.boosters])

    def predict_proba_origins(self, feats: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(B, len(horizons)) P(up) at ``origins`` of ``input_matrix(candles, self.inputs)``."""
        return self.predict_proba_rows(feats[np.asarray(origins)])

    def _fit(self, x, y, xv, yv, *, seed: int, progress) -> dict:
        """One binary booster per horizon on up/down labels of ``y``, early-stopped on ``yv``."""
        cols = [h - 1 for h in self.horizons]
        up, upv = (y[:, cols] > 0) * 1.0, (yv[:, cols] > 0) * 1.0
        ds, dv = self._datasets(x, up[:, 0], xv, upv[:, 0])
        self.boosters, self.best_iterations = [], []
        for j in range(len(cols)):
            ds.set_label(up[:, j])
            dv.set_label(upv[:, j])
            b, best = self._train(self._params("binary", seed, metric="binary_logloss"), ds, dv)
            self.boosters.append(b)
            self.best_iterations.append(best)
        return {"best_iteration": self.best_iterations}

    def fit_origins(self, feats, logc, times_ns, train, val, *, seed=0, progress=None):
        t0 = time.perf_counter()
        x, y = self._xy(np.asarray(feats), logc, train, "train")
        xv, yv = self._xy(np.asarray(feats), logc, val, "val")
        cols = [h - 1 for h in self.horizons]
        up, upv = (y[:: self.stride, cols] > 0) * 1.0, (yv[:, cols] > 0) * 1.0
        x = x[:: self.stride]
        self._fit(x, y[:: self.stride], xv, yv, seed=seed, progress=progress)
        p = self.predict_proba_rows(xv)
        base = up.mean(0)
        self.fit_info = {
            "model": "lightgbm_direction",
            "horizons": list(self.horizons),
            "best_iteration": self.best_iterations,
            "stride": self.stride,
            "n_train": len(y),
            "n_train_used": len(x),
            "n_val": len(xv),
            "seed": int(seed),
            "train_up_rate": base.tolist(),
            "val_brier": np.mean((p - upv) ** 2, axis=0).tolist(),
            "val_brier_base": np.mean((base - upv) ** 2, axis=0).tolist(),
            "val_accuracy": np.mean((p > 0.5) == (upv > 0.5), axis=0).tolist(),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        return self

    def card_dict(self):
        return {**super().card_dict(), "horizons": list(self.horizons)}

    def _tags(self):
        return [f"up{h:02d}" for h in self.horizons]

    def _tagged(self):
        return zip(self._tags(), self.boosters, strict=True)

    def _arrays(self):
        return {**self._boosters_arrays(), "horizons": np.asarray(self.horizons)}

    def _files(self):
        return self._boosters_files()

    def _restore(self, arrays, folder, card):
        self.horizons = tuple(int(h) for h in arrays["horizons"])
        self.boosters = self._boosters_restore(arrays, folder)


_KINDS = (RidgeForecaster, LGBMForecaster, LGBMDirection)

__all__ = [
    "BASIC_INPUTS",
    "EXTRA_INPUTS",
    "EngineeredForecaster",
    "LGBMDirection",
    "LGBMForecaster",
    "RidgeForecaster",
    "default_inputs",
    "targets_bps",
]
