"""``cryptousd <command>``: the notebooks' steps for headless use.

Each command has ``--help``; each that produces a result can write it as JSON with ``--json PATH``.
Errors a user can meet print one line (no traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import (
    DEFAULT_EXCHANGE,
    DEFAULT_MODEL,
    DEFAULT_SYMBOL,
    DEFAULT_YAHOO_TICKER,
    HORIZON,
    MODELS_DIR,
    REPLAY_SPEED,
    STORE_DIR,
)
from .errors import CryptoUSDError, DataError


def _write_result(obj, path: str | None) -> None:
    """Write a command's result as JSON to ``path`` (when ``--json PATH`` was given)."""
    if path:
        from .files import write_json

        write_json(path, obj)
        print(f"wrote {path}")


# fetch / data ---------------------------------------------------------------------------------
def cmd_fetch(args) -> dict:
    import pandas as pd
    from tqdm.auto import tqdm

    from .data.candle_store import CandleStore

    store = CandleStore(args.store)
    if args.source == "binance-vision":
        return _fetch_binance_vision(args, store)
    if args.archive:
        from .data.candle_files import import_candle_files

        # the market of each file comes from its Binance name or --symbol; all files or none
        done = import_candle_files(
            store,
            args.archive,
            symbol=args.symbol,
            source=args.source_name,
            progress=lambda fs: tqdm(fs, desc="importing archives", unit="file"),
        )
        result = {"source": "archive", **done}
        for s in done["series"]:
            n = len(s["files"])
            print(f"{s['source']} {s['symbol']}: {s['rows']:,d} candles from {n} file(s)")
    else:
        from .times import to_utc

        if args.source == "yahoo":
            from .data.sources import YahooSource

            src, name = YahooSource(args.symbol or DEFAULT_YAHOO_TICKER), "yahoo"
        else:
            from .data.sources import ExchangeSource

            src, name = ExchangeSource(args.exchange, args.symbol or DEFAULT_SYMBOL), args.exchange
        end = to_utc(args.end) if args.end else pd.Timestamp.now(tz="UTC")
        start = to_utc(args.start) if args.start else end - pd.Timedelta(days=args.days)
        last = store.last_time(source=name, symbol=src.symbol) if not args.start else None
        if (
            last is not None and last + pd.Timedelta("1min") > start
        ):  # carry on where the store ends
            start = last + pd.Timedelta("1min")
        total = max(int((end - start) / pd.Timedelta("1min")), 0)
        with tqdm(total=total, desc=f"{name} {src.symbol}", unit="candle") as bar:
            if name == "yahoo":
                frame = src.history(start, end)
                bar.update(len(frame))
            else:
                frame = src.history(start, end, progress=lambda n: bar.update(n))
        added = store.append(frame, source=name, symbol=src.symbol) if len(frame) else 0
        result = {
            "source": name,
            "symbol": src.symbol,
            "start": str(start),
            "end": str(end),
            "rows": len(frame),
            "new_rows": added,
        }
    print(f"{result['new_rows']} new candles in {store.root}")
    return result


def _fetch_binance_vision(args, store) -> dict:
    """Download Binance's public monthly archives (checksummed, resumable) and import them."""
    from .data.sources.binance_vision import DEFAULT_BASE_URL, download_archive, import_archives

    if not (args.start and args.end):
        raise CryptoUSDError(
            "--source binance-vision needs --start YYYY-MM and --end YYYY-MM, "
            "e.g. --start 2024-01 --end 2025-03"
        )
    report = download_archive(
        args.symbol or "BTCUSDT",
        args.interval,
        start=args.start,
        end=args.end,
        market=args.market,
        base_url=args.base_url or DEFAULT_BASE_URL,
        dest=args.dest,
    )
    if not report.unreachable:  # unreachable: the one line at the end says it all
        print(report.summary())
        for name, why in report.failed.items():  # each reason already names its file
            print(f"failed  {why}" if why.startswith(name) else f"failed  {name}: {why}")
    added = import_archives(report, store, market=args.market) if report.files else 0
    if not report.unreachable:
        print(f"{added:,d} new candles in {store.root}")
    result = {
        "source": "binance-vision",
        "downloaded": [str(f) for f in report.downloaded],
        "skipped": [str(f) for f in report.skipped],
        "missing": report.missing,
        "failed": report.failed,
        "unreachable": report.unreachable,
        "new_rows": added,
    }
    if not report.ok:
        _write_result(result, getattr(args, "json", None))
        raise CryptoUSDError(_fetch_failure(report, added, store))
    return result


def _fetch_failure(report, added: int, store) -> str:
    """The one line that ends a binance-vision fetch that did not get everything."""
    if not report.unreachable:
        return (
            f"{len(report.failed)} file(s) failed (listed above); the good ones are kept "
            "and imported: run the same command again to retry the rest"
        )
    kept = (
        f"the {len(report.skipped)} file(s) already here are kept ({added:,d} new candles in "
        f"{store.root})"
        if report.skipped
        else "none was here before"
    )
    return (
        f"cannot reach {report.unreachable}, so {len(report.failed)} file(s) were not fetched; "
        f"{kept}: check the network or --base-url, then run the same command again"
    )


def cmd_data(args) -> dict:
    """``cryptousd data ACTION``: one function per action (only ``info`` for now)."""
    return {"info": cmd_data_info}[args.what](args)


def cmd_data_info(args) -> dict:
    from .data.candle_store import CandleStore

    if args.store != str(STORE_DIR) and not Path(args.store).is_dir():  # named, not the default
        raise CryptoUSDError(f"--store {args.store}: no such folder; give a candle store folder")
    store = CandleStore(args.store)
    rows, broken = store.scan()
    if not rows and not broken:
        print(
            f"{store.root}: empty; run `cryptousd fetch` to fill it (until then commands read "
            "data/archive, else the 7-day sample shipped with the package; see docs/data.md)"
        )
    for r in rows:
        print(
            f"{r.source:10s} {r.symbol:10s} {r.first:%Y-%m-%d %H:%M} .. {r.last:%Y-%m-%d %H:%M}  "
            f"{r.rows:>9,d} candles  {r.missing:>6,d} missing minutes  {r.months} month file(s)"
        )
    for b in broken:  # each error names the file and says to delete it and fetch that month again
        print(f"broken     {b.error}")
    return {
        "store": str(store.root),
        "series": [{**r.__dict__, "first": str(r.first), "last": str(r.last)} for r in rows],
        "broken": [{"path": str(b.path), "error": b.error} for b in broken],
    }


# model ----------------------------------------------------------------------------------------
def _load_data(paths):
    """The candles named by ``--data`` (files, folders or ``store``), else the ones the resolver
    finds (CRYPTOUSD_DATA, data/store, data/archive, ../shared/data, the bundled sample)."""
    from .data.locate import locate_candles

    where = locate_candles(paths)
    print(f"data: {where}")
    names = [p.name for p in where.files()] or [f"store {where.source.root}"]
    return where.load(), names


def cmd_train(args) -> dict:
    from .forecast.prepare import DEFAULT_SPLIT, TrainConfig
    from .research.pipeline import train

    for flag in ("epochs", "batch_size", "stride"):  # checked before minutes of loading
        if getattr(args, flag, 1) is not None and getattr(args, flag, 1) < 1:
            name = flag.replace("_", "-")
            raise CryptoUSDError(f"--{name} {getattr(args, flag)}: must be a whole number >= 1")
    candles, paths = _load_data(args.data)
    split = {
        "train": (
            args.train_start or DEFAULT_SPLIT["train"][0],
            args.train_end or DEFAULT_SPLIT["train"][1],
        ),
        "val": (args.val_start or DEFAULT_SPLIT["val"][0], args.val_end or DEFAULT_SPLIT["val"][1]),
        "test": (
            args.test_start or DEFAULT_SPLIT["test"][0],
            args.test_end or DEFAULT_SPLIT["test"][1],
        ),
    }
    if args.task == "direction":
        return _train_direction(args, candles, paths, split)
    cfg = TrainConfig(
        variant=args.variant,
        epochs=args.epochs,
        stride=args.stride,
        batch_size=args.batch_size,
        seed=args.seed,
        calib_stride=args.calib_stride,
        eval_stride=args.eval_stride,
        patience=args.patience,
    ).validated()
    out = Path(args.out) if args.out else MODELS_DIR / f"lstm-{args.variant}"
    command = (
        "cryptousd " + " ".join(sys.argv[1:]) if sys.argv and "cryptousd" in sys.argv[0] else None
    )
    card = train(candles, out, config=cfg, split=split, data_description=paths, command=command)
    from .forecast.report import card_summary

    print(card_summary(card))
    print(f"model written to {out}")
    return card


def _command_line() -> str:
    return "cryptousd " + " ".join(sys.argv[1:]) if sys.argv else ""


def _train_direction(args, candles, paths, split) -> dict:
    """``train --task direction``: the MLP and LSTM direction classifiers and their baselines."""
    from .research.direction_train import train_direction

    out = Path(args.out) if args.out else MODELS_DIR / "direction"
    card = train_direction(
        candles,
        out,
        split=split,
        epochs=args.epochs,
        lstm_stride=args.stride,
        batch_size=max(args.batch_size, 512),
        patience=args.patience,
        seed=args.seed,
        eval_stride=args.eval_stride,
        data_description=paths,
        command=_command_line(),
    )
    for line in card["verdict"].values():
        print(line)
    print(f"model written to {out}")
    return card


def _evaluate_direction(args, candles, paths) -> dict:
    """``evaluate`` of a direction model folder: its MLP and LSTM, the logistic regression and the
    majority direction at the same origins (by default from the card's test range on)."""
    from .evaluation.direction import evaluate_classifiers, verdict
    from .forecast.direction import (
        HORIZONS,
        WINDOW,
        direction_features,
        load_classifier,
        load_logistic,
        mlp_inputs,
    )

    mlp, lstm = load_classifier(args.model, "mlp"), load_classifier(args.model, "lstm")
    logistic = load_logistic(args.model)
    card = mlp.card
    z = mlp.scaler.transform(direction_features(candles))
    start = args.start or (card.get("test_range") or {}).get("start")

    result = evaluate_classifiers(
        candles,
        z,
        {
            "mlp": mlp.predict_origins,
            "lstm": lstm.predict_origins,
            "logistic": lambda zz, o: logistic(mlp_inputs(zz, o)),
        },
        train_up={int(h): v for h, v in card["train_up_rate"].items()},
        horizons=HORIZONS,
        window=WINDOW,
        start=start,
        end=args.end,
        stride=args.stride,
    )
    result.update(model=mlp.name, task="direction", data=paths)
    print(f"{result['n_origins']:,d} origins from {result['start']} to {result['end']}")
    result["verdict"] = {
        f"{k}@{h}": verdict(result, k, h) for k in ("mlp", "lstm", "logistic") for h in HORIZONS
    }
    for line in result["verdict"].values():
        print(line)
    if getattr(args, "figure", None):
        from .plots import direction_reliability

        fig = direction_reliability(
            result, title=f"{mlp.name}: {result['start'][:10]} .. {result['end'][:10]}"
        )
        fig.savefig(args.figure, dpi=110)
        print(f"wrote {args.figure}")
    return result


def _is_direction_model(name) -> bool:
    from .forecast.direction import resolve_classifier_dir
    from .forecast.model_folder import read_card

    if name is None:
        return False
    try:
        return read_card(resolve_classifier_dir(name)).get("task") == "direction"
    except CryptoUSDError:
        return False


def cmd_evaluate(args) -> dict:
    from .evaluation.evaluate import walk_forward
    from .forecast import load_baselines, load_forecaster

    candles, paths = _load_data(args.data)
    if args.task == "direction" or (args.task is None and _is_direction_model(args.model)):
        if args.task == "direction" and not args.model:
            from .forecast.direction import DEFAULT_CLASSIFIER

            args.model = DEFAULT_CLASSIFIER
        return _evaluate_direction(args, candles, paths)
    model = load_forecaster(args.model)
    forecasters = {model.name: model, **load_baselines(args.model)}
    ev = walk_forward(
        candles,
        forecasters,
        start=args.start,
        end=args.end,
        stride=args.stride,
        model=model.name,
        data=paths,
        progress=True,
    )
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(
            f"{ev.n_origins:,d} origins from {ev.start} to {ev.end} ({ev.skipped} skipped at gaps)"
        )
        print(ev.summary())
    return ev.to_dict()


def cmd_backtest(args) -> dict:
    from .errors import DataError
    from .evaluation.backtest import backtest_all
    from .forecast import load_baselines, load_forecaster

    if args.stride is not None:
        raise DataError(
            "backtest takes no --stride: positions never overlap and each period is "
            "--hold minutes; add --every-minute to trade every minute's forecast"
        )
    if args.hold < 1:
        raise DataError(
            f"--hold {args.hold}: a position is held a positive number of minutes; "
            "give --hold between 1 and the model's horizon (default 10)"
        )
    candles, paths = _load_data(args.data)
    model = load_forecaster(args.model)
    forecasters = {model.name: model, **load_baselines(args.model)}
    report = backtest_all(
        candles,
        forecasters,
        start=args.start,
        end=args.end,
        fee_bps=args.fee_bps,
        slippage_bps=args.slippage_bps,
        hold=args.hold,
        allow_short=args.short,
        staggered=args.every_minute,
    )
    print(
        f"{report.extra['method']}; {report.extra['periods']:,d} periods "
        f"from {report.start} to {report.end}"
    )
    print(report.table().to_string())
    for note in report.notes().values():
        print(note)
    out = report.to_dict()
    out.update(model=model.name, data=paths)
    return out


def _shown_path(path) -> str:
    from .data.locate import _shown

    return _shown(path)


def cmd_research(args) -> dict:
    from . import load_candles
    from .data.locate import SAMPLE_FILE
    from .forecast import load_baselines, load_forecaster
    from .research import protocol as rp

    if args.epochs < 1:
        raise CryptoUSDError(f"--epochs {args.epochs}: give at least 1")
    if args.quick and args.data:
        raise CryptoUSDError(
            "--quick runs on the 7-day sample shipped with the package; drop --data, or drop "
            "--quick to research the data you give"
        )
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise CryptoUSDError(
            f"--out {args.out}: that is a file; give a folder for the run's record"
        )
    if args.quick:
        files, what = [SAMPLE_FILE], "sample: the 7 days shipped with the package (--quick)"
    else:
        files, what = rp.research_files(args.data)
    sample = files == [SAMPLE_FILE]
    given = {k: getattr(args, k) for k in ("train", "val", "test", "later")}
    base = rp.SAMPLE_RANGES if sample else rp.Ranges()
    later = None if args.no_later else (given["later"] or base.later)
    ranges = rp.Ranges(
        tuple(given["train"] or base.train),
        tuple(given["val"] or base.val),
        tuple(given["test"] or base.test),
        tuple(later) if later is not None else None,
    )
    default_out = rp.Config.out.parent / "research-quick" if sample else rp.Config.out
    cfg = rp.Config(
        ranges=ranges,
        models=tuple(args.models) if args.models else rp.Config.models,
        epochs=1 if args.quick else args.epochs,
        seed=args.seed,
        out=Path(args.out) if args.out else default_out,
    )
    if sample:
        cfg.stride_engineered, cfg.stride_neural, cfg.scale_stride = 1, 5, 2
        print(
            f"data: {what}; "
            + ("" if any(given.values()) else "ranges inside it (train 4 days, val, test 1.5); ")
            + f"recorded apart, in {_shown_path(cfg.out)}. The full study needs "
            "`cryptousd fetch --source binance-vision --symbol BTCUSDT --start 2023-01 "
            "--end 2025-05` first"
        )
    else:
        print(f"data: {what}")
    candles = load_candles(files)
    shipped = {"lstm (shipped)": load_forecaster(), "ar": load_baselines()["ar"]}
    result = rp.run(candles, cfg, shipped=shipped, progress=True)
    import pandas as pd

    with pd.option_context("display.width", 180, "display.max_columns", 20):
        for k in result.evaluations:
            print(f"\n{k}: MAE ratio and DM p against persistence, direction accuracy")
            print(result.summary(k).round(4).to_string())
        if not result.direction.empty:
            print("\ndirection classifiers against the training majority:")
            print(result.direction.round(4).to_string(index=False))
        print("\nbacktests (hold 10 min, long and short; Sharpe annualised, meaningless on days):")
        print(result.backtests.round(4).to_string(index=False))
    print(f"\n{result.choice['why']}")
    if result.folder is not None:
        print(f"recorded in {result.folder} and {Path(cfg.out) / 'results.csv'}")
    return {
        "run": result.run_id,
        "data": what,
        "ranges": {k: list(v) if v else None for k, v in vars(ranges).items()},
        "choice": result.choice,
        "results": result.table.to_dict("records"),
        "backtests": result.backtests.to_dict("records"),
        "direction": result.direction.to_dict("records"),
    }


# apps -----------------------------------------------------------------------------------------
def cmd_dashboard(args) -> dict:
    from .live.dashboard import Settings
    from .live.serve import serve_dashboard

    # the kernels read CRYPTOUSD_* when they run the notebook: a wrong value is refused here, in
    # one line, rather than as a traceback on the page
    settings = Settings.from_env()
    missing = [f for f in settings.replay if not Path(f).exists()]
    if missing:
        raise DataError(f"CRYPTOUSD_REPLAY: no such file or folder: {', '.join(missing)}")
    return serve_dashboard(
        port=args.port, open_browser=args.open, pool_size=args.pool_size, loop=not args.no_loop
    )


def cmd_serve(args) -> dict:
    from .live.feed.server import FeedSettings, parse_symbols, serve_feed

    settings = FeedSettings(
        symbols=parse_symbols(args.symbols),
        source=args.source,
        replay=tuple(args.replay or ()),
        speed=args.speed,
        loop=not args.no_loop,
        refresh_s=args.refresh,
        host=args.host,
        port=args.port,
        token=args.token or os.environ.get("CRYPTOUSD_TOKEN") or None,
        model=args.model,
        queue_events=args.queue,
        websocket=not args.no_websocket,
    )
    return serve_feed(settings)


def cmd_bench(args) -> dict:
    import runpy

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / f"bench_{args.which}.py"
    if not bench.exists():
        raise CryptoUSDError(
            f"no benchmark {args.which!r}; choose from data, forecast, evaluate, live"
        )
    sys.argv = [str(bench)]
    # a benchmark leaves what --json writes in its module-level RESULT
    return runpy.run_path(str(bench), run_name="__main__").get("RESULT") or {}


def cmd_notebooks(args) -> dict:
    from .notebooks import run_notebooks

    return run_notebooks(quick=args.quick, only=args.only)


# parser ---------------------------------------------------------------------------------------
DATA_HELP = (
    "archive files or folders, or 'store' (default: CRYPTOUSD_DATA, data/store, data/archive, "
    "else the 7-day sample shipped with the package; docs/data.md)"
)


class OneLineParser(argparse.ArgumentParser):
    """An argument error is one line (what was wrong, and where the help is) and exit status 2,
    not argparse's usage block first; ``--help`` still prints the whole usage."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def _common(sub, name: str, func, help_: str) -> argparse.ArgumentParser:
    sp = sub.add_parser(name, help=help_, description=help_)
    sp.set_defaults(func=func)
    sp.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    return sp


def _fetch_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--source",
        choices=["exchange", "yahoo", "binance-vision"],
        default="exchange",
        help="exchange (ccxt, recent candles), yahoo, or binance-vision (Binance's public "
        "monthly archives: the full history, checksummed)",
    )
    sp.add_argument("--interval", default="1m", help="binance-vision: kline interval (default 1m)")
    sp.add_argument(
        "--market",
        choices=["spot", "um"],
        default="spot",
        help="binance-vision: spot (default) or um (USD-M futures)",
    )
    sp.add_argument(
        "--base-url", help="binance-vision: the archive's address (default the public one)"
    )
    sp.add_argument(
        "--dest",
        help="binance-vision: where the zips go "
        "(default data/archive/binance/<market>/<SYMBOL>-<interval>)",
    )
    sp.add_argument(
        "--exchange",
        default=DEFAULT_EXCHANGE,
        help=f"ccxt exchange id (default {DEFAULT_EXCHANGE})",
    )
    sp.add_argument(
        "--symbol",
        help=f"market symbol (default {DEFAULT_SYMBOL}; Yahoo: "
        f"{DEFAULT_YAHOO_TICKER}; --archive: read from Binance file names such as "
        "ETHUSDT-1m-2025-01.zip, needed for other names)",
    )
    sp.add_argument(
        "--days",
        type=float,
        default=1.0,
        help=(
            "how far back to fetch when --start is not given "
            "(a series already in the store continues from its end)"
        ),
    )
    sp.add_argument("--start", help="UTC start, e.g. 2025-01-01 (binance-vision: a month, 2024-01)")
    sp.add_argument("--end", help="UTC end (default now; binance-vision: the last month, 2025-03)")
    sp.add_argument(
        "--archive",
        nargs="+",
        metavar="PATH",
        help="import one-minute candle files (.zip/.csv/.csv.gz) or folders instead",
    )
    sp.add_argument(
        "--source-name",
        help="store name for imported files (default: binance for Binance file names, else import)",
    )
    sp.add_argument("--store", default=str(STORE_DIR), help="store folder (default data/store)")


def _data_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("what", choices=["info"], help="info: what the store holds")
    sp.add_argument("--store", default=str(STORE_DIR))


def _train_args(sp: argparse.ArgumentParser) -> None:
    from .forecast.prepare import VARIANTS, TrainConfig

    defaults = TrainConfig()
    sp.add_argument("--data", nargs="+", help=DATA_HELP)
    sp.add_argument(
        "--task",
        choices=["forecaster", "direction"],
        default="forecaster",
        help="forecaster (default): the LSTM price forecaster; direction: the next-minute and "
        "10-minute direction classifiers (MLP and LSTM; --stride spaces the LSTM's windows)",
    )
    sp.add_argument("--variant", choices=VARIANTS, default=defaults.variant)
    sp.add_argument("--epochs", type=int, default=defaults.epochs)
    sp.add_argument(
        "--stride",
        type=int,
        default=defaults.stride,
        help=f"minutes between training windows (default {defaults.stride})",
    )
    sp.add_argument("--batch-size", type=int, default=defaults.batch_size)
    sp.add_argument(
        "--patience", type=int, default=defaults.patience, help="early-stopping patience in epochs"
    )
    sp.add_argument("--seed", type=int, default=defaults.seed)
    sp.add_argument(
        "--calib-stride",
        type=int,
        default=defaults.calib_stride,
        help="minutes between validation origins used for interval calibration",
    )
    sp.add_argument(
        "--eval-stride", type=int, default=defaults.eval_stride, help="minutes between test origins"
    )
    for part in ("train", "val", "test"):
        sp.add_argument(f"--{part}-start")
        sp.add_argument(f"--{part}-end")
    sp.add_argument("--out", help="model folder (default models/lstm-VARIANT)")


def _research_args(sp: argparse.ArgumentParser) -> None:
    from .research.protocol import CANDIDATES, Config

    sp.add_argument("--data", nargs="+", help=DATA_HELP)
    sp.add_argument(
        "--models",
        nargs="+",
        choices=list(CANDIDATES),
        metavar="MODEL",
        help=f"candidates to fit (default {' '.join(Config.models)}; known: "
        f"{', '.join(CANDIDATES)})",
    )
    sp.add_argument(
        "--quick", action="store_true", help="the 7-day sample, one epoch: under a minute"
    )
    for name, what in (
        ("train", "training range"),
        ("val", "validation range (every choice is made here)"),
        ("test", "test range"),
        ("later", "a later range nothing is chosen on"),
    ):
        sp.add_argument(
            f"--{name}",
            nargs=2,
            metavar=("START", "END"),
            help=f"{what}, UTC, END exclusive (default: the study's; inside the sample with it)",
        )
    sp.add_argument("--no-later", action="store_true", help="skip the later range")
    sp.add_argument("--epochs", type=int, default=Config.epochs, help="most epochs of the nets")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", help="folder for the run's record (default runs/research)")


def _dashboard_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--port", type=port_number, default=8866)
    sp.add_argument("--open", action="store_true", help="open a browser tab")
    sp.add_argument(
        "--pool-size",
        type=int,
        default=2,
        help="kernels kept running the notebook ahead of viewers (0: a cold kernel per page); "
        "CRYPTOUSD_* settings are fixed when they start",
    )
    sp.add_argument(
        "--no-loop",
        action="store_true",
        help="a replay ends with FINISHED at the data's end (CRYPTOUSD_REPLAY_LOOP=0)",
    )


def _serve_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--symbols", default=DEFAULT_SYMBOL, help="comma-separated, e.g. BTC/USD,ETH/USD"
    )
    sp.add_argument("--source", choices=["auto", "exchange", "replay", "simulated"], default="auto")
    sp.add_argument(
        "--replay",
        nargs="+",
        metavar="FILE",
        help="archive files or a store to replay; SYMBOL=FILE for another symbol's own candles",
    )
    sp.add_argument(
        "--speed", type=float, default=REPLAY_SPEED, help="replay: market minutes per second"
    )
    sp.add_argument(
        "--no-loop",
        action="store_true",
        help="replay: end with FINISHED at the data's end (default: loop over it)",
    )
    sp.add_argument("--refresh", type=float, default=1.0, help="seconds between polls (default 1)")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (others need --token)")
    sp.add_argument("--port", type=port_number, default=8000)
    sp.add_argument("--token", help="required from clients (default CRYPTOUSD_TOKEN)")
    sp.add_argument("--model", help=f"model folder or name (default {DEFAULT_MODEL} or per symbol)")
    sp.add_argument("--queue", type=int, default=256, help="events a client may lag before a drop")
    sp.add_argument(
        "--no-websocket",
        action="store_true",
        help="exchange: poll REST only, no trades by websocket",
    )


def _bench_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("which", choices=["data", "forecast", "evaluate", "live"])


def _notebooks_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--quick", action="store_true", help="small parameters (minutes, not an hour)")
    sp.add_argument("--only", nargs="+", help="run only these notebooks (e.g. 01 03)")


def _model_range_args(sp: argparse.ArgumentParser) -> None:
    """What evaluate and backtest share: the data, the model, the range."""
    sp.add_argument("--data", nargs="+", help=DATA_HELP)
    sp.add_argument("--model", default=None, help=f"model folder or name (default {DEFAULT_MODEL})")
    sp.add_argument("--start", help="first origin (UTC)")
    sp.add_argument("--end", help="end of the range (UTC, exclusive)")


def _evaluate_args(sp: argparse.ArgumentParser) -> None:
    _model_range_args(sp)
    sp.add_argument(
        "--task",
        choices=["forecaster", "direction"],
        default=None,
        help="direction: score a direction model folder (default when --model names "
        "one) against the majority direction and a logistic regression",
    )
    sp.add_argument("--figure", metavar="PNG", help="direction: also save the reliability diagram")
    sp.add_argument(
        "--stride",
        type=int,
        default=1,
        help="minutes between evaluation origins (default 1: every minute)",
    )


BACKTEST_HELP = "trading backtest with fees of a model and the baselines"


def _backtest_args(sp: argparse.ArgumentParser) -> None:
    sp.description = (
        f"{BACKTEST_HELP}. Positions never overlap: each period is --hold minutes and the next "
        "starts where it ends. With --every-minute, every minute's forecast is traded "
        "by HOLD staggered sub-accounts, each with 1/HOLD of the capital."
    )
    _model_range_args(sp)
    sp.add_argument("--fee-bps", type=float, default=10.0, help="fee per side in basis points")
    sp.add_argument(
        "--slippage-bps", type=float, default=1.0, help="slippage per side in basis points"
    )
    sp.add_argument(
        "--hold",
        type=int,
        default=HORIZON,
        help="minutes each position is held, which is also the period "
        f"(1 to the model's horizon, default {HORIZON})",
    )
    sp.add_argument(
        "--every-minute",
        action="store_true",
        help="trade every minute's forecast through HOLD staggered "
        "sub-accounts, each with 1/HOLD of the capital",
    )
    sp.add_argument("--short", action="store_true", help="allow short positions")
    # not an option: caught in cmd_backtest to say why in one line
    sp.add_argument("--stride", nargs="?", const="", default=None, help=argparse.SUPPRESS)


#: (name, function, its arguments, one-line help) of every command, in --help's order
COMMANDS = (
    (
        "fetch",
        cmd_fetch,
        _fetch_args,
        "fetch candles from an exchange, Yahoo or archive files into the local store",
    ),
    ("data", cmd_data, _data_args, "describe the local store: series, ranges, gaps"),
    ("train", cmd_train, _train_args, "train the LSTM and write a model folder with its card"),
    (
        "evaluate",
        cmd_evaluate,
        _evaluate_args,
        "rolling-origin evaluation of a frozen model vs the baselines",
    ),
    ("backtest", cmd_backtest, _backtest_args, BACKTEST_HELP),
    (
        "research",
        cmd_research,
        _research_args,
        "fit every candidate model on training, choose on validation, test once, record the run",
    ),
    (
        "dashboard",
        cmd_dashboard,
        _dashboard_args,
        "serve the live dashboard with Voila on localhost",
    ),
    (
        "serve",
        cmd_serve,
        _serve_args,
        "serve the live feed (HTTP API, SSE stream, page) to every viewer",
    ),
    ("bench", cmd_bench, _bench_args, "run a benchmark and print its table"),
    (
        "notebooks",
        cmd_notebooks,
        _notebooks_args,
        "run notebooks 01-05 and 07 headlessly with papermill",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="cryptousd",
        description="CryptoUSD: market data, an LSTM forecaster, evaluation and a live dashboard.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, func, arguments, help_ in COMMANDS:
        arguments(_common(sub, name, func, help_))
    return p


def check_json_path(path: str | None) -> None:
    """Refuse a ``--json`` target that cannot be written before any work is done."""
    if not path:
        return
    if Path(path).is_dir():  # a missing parent folder is created when the result is written
        raise CryptoUSDError(f"--json {path}: that is a folder; give a file, e.g. {path}/out.json")


def port_number(text: str) -> int:
    """argparse type: a TCP port 1..65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; give 1..65535")
    return port


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another program holds, in one line, before announcing an address."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CryptoUSDError(
                f"{host}:{port} is not free ({exc.strerror}); stop what uses it or pick --port"
            ) from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the command whose options they are not (argparse names the top level)
        parser.exit(
            2,
            f"error: cryptousd {args.command}: unrecognized arguments: {' '.join(extra)} "
            f"(see `cryptousd {args.command} --help`)\n",
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        check_json_path(getattr(args, "json", None))
        if args.command in ("serve", "dashboard"):
            check_port_free(getattr(args, "host", "127.0.0.1"), args.port)
        result = args.func(args)
    except CryptoUSDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    _write_result(result, getattr(args, "json", None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
