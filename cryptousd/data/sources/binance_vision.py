"""Download Binance's public bulk archive of klines (https://data.binance.vision).

Layout
------
Monthly files, one per calendar month once the month is over::

    {base}/data/spot/monthly/klines/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{YYYY-MM}.zip
    {base}/data/spot/monthly/klines/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{YYYY-MM}.zip.CHECKSUM

Daily files, one per day (the only files of the current month, whose monthly file does not
exist yet)::

    {base}/data/spot/daily/klines/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{YYYY-MM-DD}.zip

USD-M futures (``market="um"``) live under ``data/futures/um/`` instead of ``data/spot/``. Each
zip holds one header-less CSV of the same name (12 columns, see
:data:`cryptousd.data.candle_files.BINANCE_COLUMNS`).

Checksum rule
-------------
Every zip has a ``.CHECKSUM`` file beside it: one line ``"<sha256 hex>  <file name>"``. A zip is
kept only when its SHA-256 equals that line and it opens as a zip; the checksum is saved beside
the zip as ``<name>.CHECKSUM``.

Resume rule
-----------
A zip already in the destination folder whose SHA-256 matches the ``.CHECKSUM`` kept beside it is
skipped without touching the network. Anything else is downloaded again: streamed to
``<name>.part`` in the destination folder, verified, then moved into place with one
``os.replace``; a failed download deletes its ``.part``, so the folder never holds a half-written
zip. A 404 (a month or day not published yet) is reported as missing, not as a failure; other
files go on after any failure.

Licence
-------
The archive is Binance's public market data, published by Binance for anyone to download; check
Binance's terms of use before redistributing it. This module only fetches it.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import requests

from ...config import DATA_DIR, INTERVAL
from ...errors import (
    BadReply,
    DataError,
    RegionBlocked,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
)
from ...files import atomic_write, file_mode, fsync_dir
from ..candle_files import read_candle_file
from ..candle_store import CandleStore

DEFAULT_BASE_URL = "https://data.binance.vision"
INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
MARKETS = {"spot": "spot", "um": "futures/um"}
STORE_SOURCES = {"spot": "binance", "um": "binance-um"}
QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "BTC", "ETH", "EUR", "TRY")
CHUNK_BYTES = 1 << 20
USER_AGENT = "cryptousd (binance_vision bulk download)"

_SYMBOL = re.compile(r"^[A-Za-z0-9]+$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


# ---- names and URLs ------------------------------------------------------------------------------


def _one_line(text: object, limit: int = 160) -> str:
    """Text squeezed onto one line (requests' messages can be long and span lines)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def normalize_symbol(symbol: str) -> str:
    """``"btcusdt"`` -> ``"BTCUSDT"``; refuses anything but letters and digits.

    Raises
    ------
    DataError : one line saying to write the pair without a separator (``BTCUSDT``).
    """
    text = str(symbol).strip()
    if not _SYMBOL.match(text):
        joined = re.sub(r"[^A-Za-z0-9]", "", text).upper() or "BTCUSDT"
        raise DataError(
            f"symbol {symbol!r}: Binance archive symbols are letters and digits only; "
            f"write {joined}, without '/', '-' or spaces"
        )
    return text.upper()


def store_symbol(symbol: str) -> str:
    """The store's name of a Binance pair: ``BTCUSDT`` -> ``"BTC/USDT"``.

    The quote asset is the longest of :data:`QUOTE_ASSETS` the pair ends with (``BTCFDUSD`` ->
    ``"BTC/FDUSD"``, not ``BTCFD/USD``).

    Raises
    ------
    DataError : one line when the symbol is malformed or its quote asset is not known.
    """
    pair = normalize_symbol(symbol)
    for quote in sorted(QUOTE_ASSETS, key=len, reverse=True):
        if pair.endswith(quote) and len(pair) > len(quote):
            return f"{pair[: -len(quote)]}/{quote}"
    raise DataError(
        f"symbol {pair}: unknown quote asset (known: {', '.join(QUOTE_ASSETS)}); "
        "pass the store symbol yourself, e.g. symbol_for_store='ABC/XYZ'"
    )


def _check_interval(interval: str, market: str) -> str:
    if interval not in INTERVALS:
        raise DataError(
            f"interval {interval!r}: not a Binance kline interval; use one of {' '.join(INTERVALS)}"
        )
    if market == "um" and interval == "1s":
        raise DataError("interval '1s': USD-M futures archives have no 1s klines; use 1m or more")
    return interval


def _check_market(market: str) -> str:
    if market not in MARKETS:
        raise DataError(
            f"market {market!r}: unknown; use 'spot' (spot klines) or 'um' (USD-M futures)"
        )
    return market


def _parse_month(text: str, what: str) -> tuple[int, int]:
    match = _MONTH.match(str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise DataError(f"{what} {text!r}: not a month; write it as YYYY-MM, e.g. 2025-03")
    return int(match.group(1)), int(match.group(2))


def _today_utc() -> date:
    return datetime.now(UTC).date()


def _months(start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]]:
    out = []
    year, month = start
    while (year, month) <= end:
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def archive_urls(
    symbol: str,
    interval: str,
    start: str,
    end: str,
    market: str = "spot",
    base_url: str = DEFAULT_BASE_URL,
    today: date | None = None,
) -> list[tuple[str, str]]:
    """The archive files covering the months ``start`` .. ``end`` (inclusive).

    Parameters
    ----------
    symbol : a Binance pair, letters and digits (``"BTCUSDT"``; case does not matter).
    interval : a Binance kline interval (:data:`INTERVALS`).
    start, end : months as ``"YYYY-MM"``; ``start <= end``, neither after the current month.
    market : ``"spot"`` or ``"um"`` (USD-M futures).
    base_url : the archive's root (:data:`DEFAULT_BASE_URL`).
    today : the current date (UTC now by default); the current month has no monthly file yet, so
        it is covered by the daily files of the days before ``today``.

    Returns
    -------
    (url of the zip, file name) pairs, oldest first.

    Raises
    ------
    DataError : one line naming the bad value and the form expected.
    """
    pair = normalize_symbol(symbol)
    market = _check_market(market)
    interval = _check_interval(interval, market)
    first = _parse_month(start, "start")
    last = _parse_month(end, "end")
    today = today or _today_utc()
    now = (today.year, today.month)
    for value, parsed, what in ((start, first, "start"), (end, last, "end")):
        if parsed > now:
            raise DataError(
                f"{what} {value!r}: in the future (today is {today:%Y-%m-%d}); "
                f"use a month up to {today:%Y-%m}"
            )
    if first > last:
        raise DataError(f"start {start!r} is after end {end!r}; give start <= end as YYYY-MM")
    root = f"{base_url.rstrip('/')}/data/{MARKETS[market]}"
    out: list[tuple[str, str]] = []
    for year, month in _months(first, last):
        if (year, month) == now:
            day = date(year, month, 1)
            while day < today:
                name = f"{pair}-{interval}-{day:%Y-%m-%d}.zip"
                out.append((f"{root}/daily/klines/{pair}/{interval}/{name}", name))
                day += timedelta(days=1)
        else:
            name = f"{pair}-{interval}-{year:04d}-{month:02d}.zip"
            out.append((f"{root}/monthly/klines/{pair}/{interval}/{name}", name))
    return out


def default_dest(symbol: str, interval: str = "1m", market: str = "spot") -> Path:
    """``data/archive/binance/<market>/<SYMBOL>-<interval>``: where downloads go by default."""
    return DATA_DIR / "archive" / "binance" / market / f"{normalize_symbol(symbol)}-{interval}"


# ---- the report ----------------------------------------------------------------------------------


@dataclass
class DownloadReport:
    """What :func:`download_archive` did.

    Attributes
    ----------
    downloaded : zips fetched and verified in this run.
    skipped : zips already there whose SHA-256 matched their saved checksum.
    missing : file names the archive does not have (HTTP 404: not published (yet)).
    failed : file name -> one-line error (checksum mismatch, HTML page, timeout, network).
    unreachable : "HOST (why)" when the archive could not be reached at all (name not resolved,
        connection refused, no route): the run stopped there and every file not already on disk
        is in ``failed``.
    """

    downloaded: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unreachable: str = ""

    @property
    def ok(self) -> bool:
        """True when no file failed (missing files are not failures)."""
        return not self.failed

    @property
    def files(self) -> list[Path]:
        """Every verified zip of the range (downloaded or skipped), oldest first."""
        return sorted([*self.downloaded, *self.skipped], key=lambda p: p.name)

    def summary(self) -> str:
        """One line: counts, the missing names and the first failure."""
        if self.unreachable:
            return (
                f"cannot reach {self.unreachable}: {len(self.failed)} file(s) not fetched, "
                f"{len(self.skipped)} already there"
            )
        text = (
            f"{len(self.downloaded)} downloaded, {len(self.skipped)} already there, "
            f"{len(self.missing)} not published (yet), {len(self.failed)} failed"
        )
        if self.missing:
            text += f"; missing: {', '.join(self.missing)}"
        if self.failed:
            text += f"; first failure: {next(iter(self.failed.values()))}"
        return text


# ---- downloading ---------------------------------------------------------------------------------


class _NotPublished(Exception):
    """HTTP 404: the archive has no such file (yet)."""


class _ConnectionLost(SourceUnavailable):
    """A connection error (worth one retry). ``unreachable`` is "HOST (why)" when no connection
    could be made at all (the host does not resolve, refuses, or has no route)."""

    def __init__(self, message: str, unreachable: str = ""):
        super().__init__(message)
        self.unreachable = unreachable


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file as lower-case hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and what it wraps (causes, contexts, and urllib3's ``MaxRetryError.reason``)."""
    seen, visited = exc, set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        yield seen
        seen = (
            seen.__cause__
            or seen.__context__
            or getattr(seen, "reason", None)
            or (seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None)
        )
        seen = seen if isinstance(seen, BaseException) else None


def _is_timeout(exc: BaseException) -> bool:
    """requests turns a read timeout while streaming into a ConnectionError; find it."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return any(
        "timed out" in str(e).lower() or "timeout" in type(e).__name__.lower() for e in _causes(exc)
    )


def _unreachable_why(exc: BaseException) -> str:
    """Why no connection could be made at all, in a few words ("" when it was not that)."""
    for e in _causes(exc):
        if isinstance(e, socket.gaierror):
            return "its name does not resolve"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, OSError) and e.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
            return "no route to it"
    return ""


def _network_error(
    exc: requests.exceptions.RequestException, name: str, url: str, timeout_s: float
) -> SourceError:
    if _is_timeout(exc):
        return SourceTimeout(
            f"{name}: timed out after {timeout_s:g} s waiting for {url}; "
            "try again later or raise timeout_s"
        )
    host = requests.utils.urlparse(url).netloc
    why = _unreachable_why(exc)
    if why:
        return _ConnectionLost(f"{name}: cannot reach {host} ({why})", f"{host} ({why})")
    return _ConnectionLost(
        f"{name}: connection to {host} failed ({_one_line(exc, 100)}); "
        "check the network and try again"
    )


def _check_reply(resp: requests.Response, name: str) -> None:
    """Raise for anything but a 200 that is not an HTML page."""
    if resp.status_code == 404:
        raise _NotPublished(name)
    if resp.status_code in (403, 451):
        raise RegionBlocked(
            f"{name}: HTTP {resp.status_code} from {resp.url}; the archive refuses this network"
        )
    if resp.status_code >= 500:
        raise SourceUnavailable(
            f"{name}: HTTP {resp.status_code} from the archive (down or in maintenance); "
            "try again later"
        )
    if resp.status_code != 200:
        raise BadReply(f"{name}: HTTP {resp.status_code} from {resp.url}; check the URL")
    if "text/html" in resp.headers.get("Content-Type", "").lower():
        raise BadReply(_html_message(name))


def _html_message(name: str) -> str:
    return (
        f"{name}: the server sent an HTML page, not the file (an error or maintenance page); "
        "try again later or check base_url"
    )


def _fetch_checksum(session: requests.Session, url: str, name: str, timeout_s: float) -> str:
    """The SHA-256 hex a ``.CHECKSUM`` file gives for ``name``."""
    try:
        with session.get(url, timeout=timeout_s) as resp:
            _check_reply(resp, name)
            text = resp.text
    except requests.exceptions.RequestException as exc:
        raise _network_error(exc, name, url, timeout_s) from None
    if text.lstrip().startswith("<"):
        raise BadReply(_html_message(f"{name}.CHECKSUM"))
    parts = text.split()
    if not parts or not _SHA256.match(parts[0]):
        raise BadReply(
            f"{name}.CHECKSUM: not a '<sha256>  <name>' line ({_one_line(text, 60)!r}); "
            "try again later"
        )
    if len(parts) > 1 and parts[1].lstrip("*") != name:
        raise BadReply(f"{name}.CHECKSUM: names {parts[1]!r}, not {name}; check the URL")
    return parts[0].lower()


def _stream_zip(
    session: requests.Session, url: str, name: str, part: Path, timeout_s: float, progress: bool
) -> None:
    """Stream the zip at ``url`` into ``part`` (flushed to disk), refusing an HTML page."""
    from tqdm.auto import tqdm

    try:
        with session.get(url, timeout=timeout_s, stream=True) as resp:
            _check_reply(resp, name)
            size = int(resp.headers.get("Content-Length") or 0) or None
            with (
                open(part, "wb") as fh,
                tqdm(
                    total=size,
                    desc=name,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                first = True
                for chunk in resp.iter_content(chunk_size=CHUNK_BYTES):
                    if first and chunk:
                        if chunk.lstrip()[:1] == b"<":
                            raise BadReply(_html_message(name))
                        first = False
                    fh.write(chunk)
                    bar.update(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
    except requests.exceptions.RequestException as exc:
        raise _network_error(exc, name, url, timeout_s) from None


def _download_one(
    session: requests.Session, url: str, name: str, dest: Path, timeout_s: float, progress: bool
) -> bool:
    """Fetch one zip into ``dest``; True when downloaded, False when the file there matched.

    Raises
    ------
    _NotPublished : HTTP 404.
    SourceError, DataError : one-line messages; nothing is left half-written.
    """
    target = dest / name
    want = _fetch_checksum(session, f"{url}.CHECKSUM", name, timeout_s)
    checksum_text = f"{want}  {name}\n"
    if target.exists() and sha256_of(target) == want:  # a zip whose checksum file was lost
        atomic_write(dest / f"{name}.CHECKSUM", lambda tmp: Path(tmp).write_text(checksum_text))
        return False
    part = dest / f"{name}.part"
    try:
        _stream_zip(session, url, name, part, timeout_s, progress)
        got = sha256_of(part)
        if got != want:
            raise DataError(
                f"{name}: checksum mismatch (SHA-256 {got[:16]}..., CHECKSUM says {want[:16]}...); "
                "the download is damaged, run it again"
            )
        if not zipfile.is_zipfile(part):
            raise DataError(f"{name}: matches its checksum but is not a zip; report it to Binance")
        os.chmod(part, file_mode())
        os.replace(part, target)
        fsync_dir(dest)
    finally:
        if part.exists():
            part.unlink()
    atomic_write(dest / f"{name}.CHECKSUM", lambda tmp: Path(tmp).write_text(checksum_text))
    return True


def _already_there(dest: Path, name: str) -> bool:
    """True when ``dest/name`` exists and matches the checksum saved beside it."""
    target, saved = dest / name, dest / f"{name}.CHECKSUM"
    if not (target.is_file() and saved.is_file()):
        return False
    parts = saved.read_text(errors="replace").split()
    return (
        bool(parts)
        and _SHA256.match(parts[0]) is not None
        and (sha256_of(target) == parts[0].lower())
    )


def download_archive(
    symbol: str,
    interval: str = "1m",
    *,
    start: str,
    end: str,
    market: str = "spot",
    base_url: str = DEFAULT_BASE_URL,
    dest: str | os.PathLike | None = None,
    session: requests.Session | None = None,
    timeout_s: float = 30,
    progress: bool = True,
    today: date | None = None,
) -> DownloadReport:
    """Download the archive's zips for months ``start`` .. ``end``, verified, resumable.

    Parameters
    ----------
    symbol : a Binance pair (``"BTCUSDT"``).
    interval : a Binance kline interval (``"1m"``).
    start, end : months as ``"YYYY-MM"`` (inclusive); the current month comes as daily files.
    market : ``"spot"`` or ``"um"`` (USD-M futures).
    base_url : the archive's root (:data:`DEFAULT_BASE_URL`).
    dest : the folder for the zips (default :func:`default_dest`).
    session : a ``requests.Session`` to use (one is made and closed when omitted).
    timeout_s : seconds to wait for a connection or for the next bytes of a reply.
    progress : show a tqdm bar (bytes) per file.
    today : the current date (UTC now by default); decides which month is the current one.

    Returns
    -------
    A :class:`DownloadReport`; failures are in ``report.failed`` (one line each), not raised.

    Raises
    ------
    DataError : bad arguments (one line naming the value and the form expected).
    """
    pair = normalize_symbol(symbol)
    files = archive_urls(pair, interval, start, end, market, base_url, today)
    folder = Path(dest) if dest is not None else default_dest(pair, interval, market)
    folder.mkdir(parents=True, exist_ok=True)
    own = session is None
    session = session or requests.Session()
    if own:
        session.headers["User-Agent"] = USER_AGENT
    report = DownloadReport()
    try:
        for url, name in files:
            if _already_there(folder, name):
                report.skipped.append(folder / name)
            elif report.unreachable:  # the archive cannot be reached: do not try the rest
                report.failed[name] = f"{name}: not fetched, cannot reach {report.unreachable}"
            else:
                _fetch_into(report, session, url, name, folder, timeout_s, progress)
    finally:
        if own:
            session.close()
    return report


def _fetch_into(report, session, url, name, folder, timeout_s, progress) -> None:
    """Download one file (one retry on a connection error) and note the outcome in ``report``."""
    for attempt in (1, 2):
        try:
            fetched = _download_one(session, url, name, folder, timeout_s, progress)
        except _NotPublished:
            report.missing.append(name)
        except _ConnectionLost as exc:
            if attempt == 1:
                continue  # one retry on a connection error
            report.failed[name] = str(exc)
            report.unreachable = exc.unreachable
        except (SourceError, DataError) as exc:
            report.failed[name] = _one_line(exc, 300)
        except OSError as exc:  # the disk: full, read-only, ...
            report.failed[name] = f"{name}: cannot write in {folder} ({_one_line(exc)})"
        else:
            (report.downloaded if fetched else report.skipped).append(folder / name)
        return


# ---- importing into the store --------------------------------------------------------------------


def import_archives(
    files: Iterable[str | os.PathLike] | DownloadReport,
    store: CandleStore | None = None,
    symbol_for_store: str | None = None,
    *,
    market: str = "spot",
) -> int:
    """Read downloaded zips and merge them into the candle store, all or nothing.

    Parameters
    ----------
    files : zip paths, or a :class:`DownloadReport` (its downloaded and skipped files).
    store : the store (``CandleStore()``, i.e. ``data/store``, by default).
    symbol_for_store : the store's symbol (``"BTC/USDT"``) or the Binance pair (``"BTCUSDT"``,
        mapped by :func:`store_symbol`); by default read from each file name.
    market : ``"spot"`` (stored under source ``"binance"``) or ``"um"`` (``"binance-um"``).

    Returns
    -------
    How many rows are new in the store.

    Raises
    ------
    DataError : one line naming a bad file, a file that is not one-minute candles, or a symbol
        that cannot be mapped; nothing is written then.
    """
    source = STORE_SOURCES[_check_market(market)]
    paths = files.files if isinstance(files, DownloadReport) else [Path(f) for f in files]
    if not paths:
        raise DataError("no archive files to import; download some first (download_archive)")
    store = store if store is not None else CandleStore()
    groups: dict[str, list[pd.DataFrame]] = {}
    for path in sorted(paths, key=lambda p: p.name):
        if symbol_for_store is None:
            symbol = store_symbol(path.name.split("-", 1)[0])
        elif "/" in symbol_for_store:
            symbol = symbol_for_store.upper()
        else:
            symbol = store_symbol(symbol_for_store)
        frame = read_candle_file(path)
        have = frame.attrs.get("interval", INTERVAL)
        if pd.Timedelta(have) != pd.Timedelta(INTERVAL):
            raise DataError(
                f"{path.name}: {have} candles; the store keeps one-minute candles, "
                "download interval='1m' (nothing written)"
            )
        groups.setdefault(symbol, []).append(frame)
    prepared = []
    for symbol, frames in groups.items():
        frame = pd.concat(frames) if len(frames) > 1 else frames[0]
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        frame.attrs["interval"] = INTERVAL
        prepared.extend(store.prepare_append(frame, source=source, symbol=symbol))
    return store.write_prepared(prepared)
