"""Where are the candles? One answer for the CLI, the notebooks, the dashboard and the tests.

:func:`locate_candles` looks, in this order, and says which it used:

1. what the caller names: files or folders, or ``"store"`` for the local store;
2. ``CRYPTOUSD_DATA``: files, folders or a store folder, ``os.pathsep``-separated;
3. ``data/store`` (the local store, when it holds candles), then ``data/archive`` (zips that
   ``cryptousd fetch --source binance-vision`` downloaded);
4. ``../shared/data``, only where that folder happens to exist (our own machines);
5. the small real sample shipped inside the package (seven days of BTC/USDT, 2025-03-25..31).

A user's fresh clone has only the sample, so everything runs there, quickly; the fetch command
in :data:`FETCH_HINT` brings the full history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import DATA_DIR, PROJECT_ROOT, STORE_DIR, shared_archives
from ..errors import DataError
from ..times import to_utc
from .candle_files import expand_paths, load_candles
from .candle_store import CandleStore

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample"
SAMPLE_FILE = SAMPLE_DIR / "BTCUSDT-1m-2025-03-25_31.zip"
ARCHIVE_DIR = DATA_DIR / "archive" / "binance" / "spot" / "BTCUSDT-1m"
# a time split inside the sample (train, validation, test), for quick runs on a fresh clone
SAMPLE_SPLIT = (
    ("2025-03-25", "2025-03-29"),
    ("2025-03-29", "2025-03-30 12:00"),
    ("2025-03-30 12:00", "2025-04-01"),
)
FETCH_HINT = (
    "cryptousd fetch --source binance-vision --symbol BTCUSDT --interval 1m "
    "--start 2024-01 --end 2025-03"
)


def full_history_files(months: int = 15) -> list[Path]:
    """The 15 real months 2024-01..2025-03 of BTC/USDT minutes (what the benchmarks and the
    full-history tests read): ``../shared/data`` where it exists, else what the downloader put in
    ``data/archive``; an empty list where neither holds them all."""
    for files in (shared_archives(), sorted(ARCHIVE_DIR.glob("BTCUSDT-1m-20*.zip"))):
        if len(files) >= months:
            return list(files[-months:])
    return []


@dataclass(frozen=True)
class DataLocation:
    """Candles found by :func:`locate_candles`: what to load, which rule found it, and a line for
    people.
    """

    source: object  # what load_candles takes: a list of files, or a CandleStore
    kind: str  # "given", "CRYPTOUSD_DATA", "store", "archive", "shared", "sample"
    description: str

    @property
    def is_sample(self) -> bool:
        return self.kind == "sample"

    def files(self) -> list[Path]:
        """The files behind this location (empty for a store)."""
        return [] if isinstance(self.source, CandleStore) else list(self.source)

    def load(self, **kwargs) -> pd.DataFrame:
        """The candles, as :func:`cryptousd.load_candles` reads them (same keyword arguments)."""
        return load_candles(self.source, **kwargs)

    def __str__(self) -> str:
        return self.description


def _shown(path) -> str:
    """A path as a reader of this project's output wants it: relative to the project when inside
    it (stored notebook outputs then read the same on every machine), else as it is."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _store_or_files(paths: list[str], kind: str) -> DataLocation:
    if len(paths) == 1 and Path(paths[0]).is_dir() and any(Path(paths[0]).rglob("*.parquet")):
        store = CandleStore(paths[0])
        return DataLocation(store, kind, f"{kind}: the candle store in {_shown(store.root)}")
    files = expand_paths(paths)
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise DataError(f"{missing[0]}: no such file or folder ({kind}); check the path")
    what = (
        files[0].name
        if len(files) == 1
        else f"{len(files)} files, {files[0].name} .. {files[-1].name}"
    )
    return DataLocation(files, kind, f"{kind}: {what}")


def locate_candles(data=None, *, env=None, files_only: bool = False) -> DataLocation:
    """Find the candles to use (see the module's docstring for the order).

    Parameters
    ----------
    data : None, ``"store"``, a path, or a list of paths (``os.pathsep``-separated in a string).
    env : the environment to read ``CRYPTOUSD_DATA`` from (default ``os.environ``).
    files_only : skip the local store (for code that needs archive files, not candles).
    """
    env = os.environ if env is None else env
    if isinstance(data, (list, tuple)) and len(data) == 1:
        data = data[0]
    if isinstance(data, CandleStore):
        return DataLocation(data, "given", f"given: the candle store in {_shown(data.root)}")
    if isinstance(data, str) and data == "store":
        store = CandleStore(STORE_DIR)
        if not store.series():
            raise DataError(f"store {store.root}: holds no candles yet; run `{FETCH_HINT}` first")
        return DataLocation(store, "given", f"given: the candle store in {_shown(store.root)}")
    if data:
        paths = data.split(os.pathsep) if isinstance(data, str) else [str(p) for p in data]
        return _store_or_files([p for p in paths if p], "given")
    if env.get("CRYPTOUSD_DATA"):
        return _store_or_files(
            [p for p in env["CRYPTOUSD_DATA"].split(os.pathsep) if p], "CRYPTOUSD_DATA"
        )
    store = CandleStore(STORE_DIR)
    if not files_only and store.series():
        return DataLocation(store, "store", f"store: the candle store in {_shown(store.root)}")
    archived = sorted(ARCHIVE_DIR.glob("BTCUSDT-1m-*.zip"))
    if archived:
        return _store_or_files([str(p) for p in archived], "archive")
    shared = shared_archives()
    if shared:
        return _store_or_files([str(p) for p in shared], "shared")
    return DataLocation(
        [SAMPLE_FILE],
        "sample",
        f"sample: the 7 days shipped with the package ({SAMPLE_FILE.name}); "
        f"for the full history run `{FETCH_HINT}`",
    )


def _covered_by(where) -> str:
    if where is None:
        return "the data"
    if getattr(where, "is_sample", False):
        return f"the 7-day sample shipped with the package ({SAMPLE_FILE.name})"
    return f"the data ({where})"


def check_covers(candles: pd.DataFrame, start=None, end=None, *, what="the range", where=None):
    """Refuse, in one sentence, a range ``start .. end`` (``end`` exclusive; either may be None)
    that reaches outside ``candles``: what the data cover, and what to do (a range inside them,
    or fetch the history). ``where`` (a :class:`DataLocation`) names the data in the message.
    """
    if candles.empty:
        raise DataError(f"{_covered_by(where)}: no candles at all; run `{FETCH_HINT}`")
    first, last = candles.index[0], candles.index[-1]
    step = candles.index[1] - first if len(candles) > 1 else pd.Timedelta(minutes=1)
    a = to_utc(start) if start is not None else first
    b = to_utc(end) if end is not None else None
    shown = f"{a:%Y-%m-%d %H:%M}" + (f" .. {b:%Y-%m-%d %H:%M}" if b is not None else "")
    if b is not None and b <= a:
        raise DataError(f"{what} {shown}: it ends before it starts; swap them")
    if first <= a < last + step and (b is None or b <= last + step):
        return
    raise DataError(
        f"{what} = {shown} UTC reaches outside {_covered_by(where)}, which holds "
        f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC: give a range inside that, "
        f"or fetch the history with `{FETCH_HINT}`"
    )
