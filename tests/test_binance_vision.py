"""Downloading Binance's bulk archive against a real HTTP server on 127.0.0.1 (never the internet).

The server serves a tmp folder laid out like https://data.binance.vision, holding tiny zips made
from the first 100 rows of real months and real ``.CHECKSUM`` files; a few paths are told to
misbehave (an HTML page, a stall) and every request is counted.
"""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
import time
import zipfile
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cryptousd.data.candle_store import CandleStore
from cryptousd.data.locate import SAMPLE_FILE
from cryptousd.data.sources.binance_vision import (
    DEFAULT_BASE_URL,
    DownloadReport,
    archive_urls,
    download_archive,
    import_archives,
    store_symbol,
)
from cryptousd.errors import DataError

ROWS = 100
MONTHS = ["2025-01", "2025-02"]
SPOT = "data/spot/monthly/klines/BTCUSDT/1m"


def tiny_zip(source: Path, target: Path, rows: int = ROWS, skip: int = 0) -> bytes:
    """A zip of ``rows`` real lines (after the first ``skip``) of a real archive, under the inner
    name Binance uses."""
    with zipfile.ZipFile(source) as zf:
        (inner,) = zf.namelist()
        lines = zf.read(inner).splitlines(keepends=True)[skip : skip + rows]
    inner = target.with_suffix(".csv").name
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(inner, b"".join(lines))
    return target.read_bytes()


def write_checksum(zip_path: Path, data: bytes | None = None) -> str:
    """Write ``<zip>.CHECKSUM`` the way Binance does; ``data`` gives another content's hash."""
    digest = hashlib.sha256(zip_path.read_bytes() if data is None else data).hexdigest()
    Path(f"{zip_path}.CHECKSUM").write_text(f"{digest}  {zip_path.name}\n")
    return digest


class ArchiveHandler(SimpleHTTPRequestHandler):
    """Serves the archive folder; ``server.behaviour[path]`` makes one path misbehave."""

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        action = self.server.behaviour.get(self.path.lstrip("/"))
        try:
            if action is None:
                super().do_GET()
            elif action in ("html", "html-octet"):
                body = b"<!DOCTYPE html><html><body>Down for maintenance</body></html>"
                kind = "text/html; charset=utf-8" if action == "html" else "application/zip"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif action == "stall-headers":
                time.sleep(self.server.stall_s)
                super().do_GET()
            elif action == "stall-body":
                data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                time.sleep(self.server.stall_s)
                self.wfile.write(data[len(data) // 2 :])
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the test
            pass


@pytest.fixture
def archive(tmp_path):
    """A folder laid out like the archive with BTCUSDT 1m 2025-01 and 2025-02 (100 real rows each,
    different minutes of the bundled sample: the test is about files, not their dates)."""
    root = tmp_path / "archive"
    for i, month in enumerate(MONTHS):
        path = root / SPOT / f"BTCUSDT-1m-{month}.zip"
        tiny_zip(SAMPLE_FILE, path, skip=i * ROWS)
        write_checksum(path)
    return root


@pytest.fixture
def server(archive):
    """A ThreadingHTTPServer on 127.0.0.1 (port picked by the OS) serving ``archive``."""
    handler = functools.partial(ArchiveHandler, directory=str(archive))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    httpd.behaviour = {}
    httpd.stall_s = 1.0
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.root = archive
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def fetch(server, dest, start="2025-01", end="2025-02", **kw) -> DownloadReport:
    kw.setdefault("progress", False)
    return download_archive(
        "BTCUSDT",
        "1m",
        start=start,
        end=end,
        base_url=server.base_url,
        dest=dest,
        today=date(2025, 6, 15),
        **kw,
    )


def leftovers(dest: Path) -> list[str]:
    """Names in the destination that are neither a finished zip nor its checksum."""
    return sorted(
        p.name
        for p in dest.iterdir()
        if not (p.name.endswith(".zip") or p.name.endswith(".zip.CHECKSUM"))
    )


def name(month: str) -> str:
    return f"BTCUSDT-1m-{month}.zip"


# ---- downloads -----------------------------------------------------------------------------------


def test_two_months_download_verified_then_resume_skips_them(server, tmp_path):
    dest = tmp_path / "dest"
    report = fetch(server, dest, progress=True)
    assert report.ok and report.missing == [] and report.failed == {}
    assert report.downloaded == [dest / name(m) for m in MONTHS] and report.skipped == []
    for month in MONTHS:
        got = hashlib.sha256((dest / name(month)).read_bytes()).hexdigest()
        served = server.root / SPOT / name(month)
        assert got == hashlib.sha256(served.read_bytes()).hexdigest()
        assert (dest / f"{name(month)}.CHECKSUM").read_text() == f"{got}  {name(month)}\n"
    assert leftovers(dest) == []
    assert sorted(server.requests) == sorted(
        f"/{SPOT}/{name(m)}{suffix}" for m in MONTHS for suffix in ("", ".CHECKSUM")
    )
    assert report.summary().startswith("2 downloaded, 0 already there, 0 not published")

    server.requests.clear()
    again = fetch(server, dest)
    assert again.ok and again.downloaded == [] and again.skipped == [dest / name(m) for m in MONTHS]
    assert [r for r in server.requests if r.endswith(".zip")] == []
    assert server.requests == []  # the saved checksums decide: no request at all


def test_a_damaged_local_zip_is_downloaded_again(server, tmp_path):
    dest = tmp_path / "dest"
    fetch(server, dest)
    (dest / name("2025-01")).write_bytes(b"PK damaged")
    server.requests.clear()
    report = fetch(server, dest)
    assert report.downloaded == [dest / name("2025-01")]
    assert report.skipped == [dest / name("2025-02")]
    assert zipfile.is_zipfile(dest / name("2025-01"))
    assert f"/{SPOT}/{name('2025-01')}" in server.requests


def test_checksum_mismatch_fails_that_month_and_keeps_the_other(server, tmp_path):
    write_checksum(server.root / SPOT / name("2025-02"), data=b"some other bytes")
    dest = tmp_path / "dest"
    report = fetch(server, dest)
    assert not report.ok and list(report.failed) == [name("2025-02")]
    message = report.failed[name("2025-02")]
    assert "checksum" in message and "\n" not in message
    assert report.downloaded == [dest / name("2025-01")]
    kept = sorted(p.name for p in dest.iterdir())
    assert kept == [name("2025-01"), f"{name('2025-01')}.CHECKSUM"]
    assert "1 failed" in report.summary() and "checksum" in report.summary()


@pytest.mark.parametrize("action", ["html", "html-octet"])
def test_html_page_instead_of_a_zip_fails_and_writes_nothing(server, tmp_path, action):
    server.behaviour[f"{SPOT}/{name('2025-01')}"] = action
    dest = tmp_path / "dest"
    report = fetch(server, dest, start="2025-01", end="2025-01")
    assert list(report.failed) == [name("2025-01")] and report.downloaded == []
    assert "HTML" in report.failed[name("2025-01")] and "\n" not in report.failed[name("2025-01")]
    assert list(dest.iterdir()) == []


def test_unpublished_month_is_missing_not_failed(server, tmp_path):
    dest = tmp_path / "dest"
    report = fetch(server, dest, start="2024-12", end="2025-02")  # no 2024-12 on the server
    assert report.ok and report.missing == [name("2024-12")]
    assert report.downloaded == [dest / name(m) for m in MONTHS]
    assert "1 not published (yet)" in report.summary()
    assert leftovers(dest) == []


@pytest.mark.parametrize("where", ["stall-headers", "stall-body"])
def test_timeout_fails_that_file_and_leaves_nothing(server, tmp_path, where):
    server.behaviour[f"{SPOT}/{name('2025-01')}"] = where
    dest = tmp_path / "dest"
    started = time.monotonic()
    report = fetch(server, dest, timeout_s=0.5)
    assert time.monotonic() - started < 5
    message = report.failed[name("2025-01")]
    assert ("timed out" in message or "timeout" in message) and "\n" not in message
    assert report.downloaded == [dest / name("2025-02")]
    assert not (dest / name("2025-01")).exists() and leftovers(dest) == []


def closed_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_fetch(base_url: str, dest: Path) -> DownloadReport:
    return download_archive(
        "BTCUSDT",
        start="2025-01",
        end="2025-02",
        base_url=base_url,
        dest=dest,
        timeout_s=2,
        progress=False,
        today=date(2025, 6, 1),
    )


def test_connection_refused_stops_at_the_first_file_and_says_which_host(tmp_path):
    port = closed_port()
    report = unreachable_fetch(f"http://127.0.0.1:{port}", tmp_path / "dest")
    host = f"127.0.0.1:{port} (connection refused)"
    assert report.unreachable == host and not report.ok
    assert report.failed == {
        name("2025-01"): f"{name('2025-01')}: cannot reach {host}",
        name("2025-02"): f"{name('2025-02')}: not fetched, cannot reach {host}",  # not tried
    }
    assert report.summary() == f"cannot reach {host}: 2 file(s) not fetched, 0 already there"
    assert list((tmp_path / "dest").iterdir()) == []


def test_a_host_that_does_not_resolve_is_named(tmp_path):
    # .invalid never resolves (RFC 2606), so this needs no network and reaches none
    report = unreachable_fetch("http://archive.invalid", tmp_path / "dest")
    assert report.unreachable == "archive.invalid (its name does not resolve)"
    assert len(report.failed) == 2 and report.downloaded == []


# ---- URLs ----------------------------------------------------------------------------------------


def test_monthly_urls_and_the_current_month_as_daily_files():
    urls = archive_urls("btcusdt", "1m", "2025-01", "2025-03", today=date(2025, 3, 3))
    base = f"{DEFAULT_BASE_URL}/data/spot"
    assert urls == [
        (f"{base}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01.zip", "BTCUSDT-1m-2025-01.zip"),
        (f"{base}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-02.zip", "BTCUSDT-1m-2025-02.zip"),
        (f"{base}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-03-01.zip", "BTCUSDT-1m-2025-03-01.zip"),
        (f"{base}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-03-02.zip", "BTCUSDT-1m-2025-03-02.zip"),
    ]
    assert archive_urls("BTCUSDT", "1m", "2025-03", "2025-03", today=date(2025, 3, 1)) == []
    december = archive_urls("BTCUSDT", "1h", "2024-11", "2025-01", today=date(2025, 6, 1))
    assert [n for _, n in december] == [
        "BTCUSDT-1h-2024-11.zip",
        "BTCUSDT-1h-2024-12.zip",
        "BTCUSDT-1h-2025-01.zip",
    ]


def test_futures_urls_use_data_futures_um():
    urls = archive_urls(
        "ETHUSDT",
        "5m",
        "2025-01",
        "2025-01",
        market="um",
        base_url="http://mirror.example/",
        today=date(2025, 3, 3),
    )
    assert urls == [
        (
            "http://mirror.example/data/futures/um/monthly/klines/ETHUSDT/5m/ETHUSDT-5m-2025-01.zip",
            "ETHUSDT-5m-2025-01.zip",
        )
    ]


def test_current_month_downloads_its_daily_files(server, tmp_path):
    daily = server.root / "data/spot/daily/klines/BTCUSDT/1m"
    for i, day in enumerate(("2025-03-01", "2025-03-02")):
        tiny_zip(SAMPLE_FILE, daily / name(day), rows=10, skip=i * 10)
        write_checksum(daily / name(day))
    dest = tmp_path / "dest"
    report = download_archive(
        "BTCUSDT",
        "1m",
        start="2025-03",
        end="2025-03",
        base_url=server.base_url,
        dest=dest,
        progress=False,
        today=date(2025, 3, 3),
    )
    assert report.ok and [p.name for p in report.downloaded] == [
        name("2025-03-01"),
        name("2025-03-02"),
    ]
    assert f"/data/spot/daily/klines/BTCUSDT/1m/{name('2025-03-02')}" in server.requests


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"symbol": "BTC/USDT"}, ["'BTC/USDT'", "BTCUSDT"]),
        ({"interval": "7m"}, ["'7m'", "1m"]),
        ({"market": "coinm"}, ["'coinm'", "spot"]),
        ({"start": "2025-13"}, ["'2025-13'", "YYYY-MM"]),
        ({"start": "March 2025"}, ["'March 2025'", "YYYY-MM"]),
        ({"start": "2025-03", "end": "2025-01"}, ["'2025-03'", "'2025-01'", "start <= end"]),
        ({"end": "2025-04"}, ["'2025-04'", "future", "2025-03"]),
        ({"start": "2025-04", "end": "2025-05"}, ["'2025-04'", "future"]),
    ],
)
def test_bad_inputs_raise_one_line_data_errors(kwargs, words, tmp_path):
    args = {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "start": "2025-01",
        "end": "2025-02",
        "today": date(2025, 3, 3),
    }
    args.update(kwargs)
    with pytest.raises(DataError) as err:
        archive_urls(**args)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message
    with pytest.raises(DataError):  # download_archive refuses the same before any request
        download_archive(**args, base_url="http://127.0.0.1:9", dest=tmp_path / "d", progress=False)
    assert not (tmp_path / "d").exists()


# ---- the store -----------------------------------------------------------------------------------


def test_import_archives_puts_the_rows_in_the_store(server, tmp_path):
    report = fetch(server, tmp_path / "dest")
    store = CandleStore(tmp_path / "store")
    assert import_archives(report.files, store, "BTCUSDT") == 2 * ROWS
    assert store.series() == [("binance", "BTC-USDT")]
    frame = store.read(source="binance", symbol="BTC/USDT")
    assert len(frame) == 2 * ROWS
    assert frame["taker_buy"].notna().all() and frame["trades"].dtype == "int64"  # kept
    assert ((frame["taker_buy"] >= 0) & (frame["taker_buy"] <= frame["volume"])).all()
    assert (
        frame.index[0].strftime("%Y-%m-%d %H:%M") == "2025-03-25 00:00"
    )  # the sample's first minute
    assert (
        frame.index[ROWS].strftime("%Y-%m-%d %H:%M") == "2025-03-25 01:40"
    )  # the next 100 minutes
    assert import_archives(report, store) == 0  # again: nothing new, symbol from the file names
    futures = CandleStore(tmp_path / "um")
    assert import_archives(report.files[:1], futures, "BTC/USDT", market="um") == ROWS
    assert futures.series() == [("binance-um", "BTC-USDT")]


def test_import_archives_refuses_a_damaged_zip_and_writes_nothing(tmp_path):
    bad = tmp_path / name("2025-01")
    bad.write_bytes(b"PK not really a zip")
    store = CandleStore(tmp_path / "store")
    with pytest.raises(DataError, match="BTCUSDT-1m-2025-01.zip"):
        import_archives([bad], store)
    assert store.series() == []


def test_store_symbol_mapping():
    assert store_symbol("BTCUSDT") == "BTC/USDT"
    assert store_symbol("ethusdt") == "ETH/USDT"
    assert store_symbol("SOLUSDC") == "SOL/USDC"
    assert store_symbol("BTCFDUSD") == "BTC/FDUSD"  # the longest quote wins over USD
    assert store_symbol("BTCTUSD") == "BTC/TUSD"
    assert store_symbol("ETHBTC") == "ETH/BTC"
    assert store_symbol("BTCEUR") == "BTC/EUR" and store_symbol("BTCTRY") == "BTC/TRY"
    for bad in ("BTCXYZ", "USDT", "BTC/USDT"):
        with pytest.raises(DataError) as err:
            store_symbol(bad)
        assert "\n" not in str(err.value)


# ---- the command line --------------------------------------------------------------------------


def test_cli_fetch_binance_vision_downloads_and_imports(server, tmp_path, capsys):
    import json

    from cryptousd.cli import main

    argv = [
        "fetch",
        "--source",
        "binance-vision",
        "--symbol",
        "BTCUSDT",
        "--start",
        "2025-01",
        "--end",
        "2025-02",
        "--base-url",
        server.base_url,
        "--dest",
        str(tmp_path / "zips"),
        "--store",
        str(tmp_path / "store"),
        "--json",
        str(tmp_path / "f.json"),
    ]
    assert main(argv) == 0
    result = json.loads((tmp_path / "f.json").read_text())
    assert result["new_rows"] == 2 * ROWS and len(result["downloaded"]) == 2
    assert len(CandleStore(tmp_path / "store").read(symbol="BTC/USDT")) == 2 * ROWS
    assert main(argv) == 0  # again: everything is already there
    assert json.loads((tmp_path / "f.json").read_text())["new_rows"] == 0
    assert "0 downloaded, 2 already there" in capsys.readouterr().out


def test_cli_fetch_offline_says_so_in_one_line_and_keeps_what_is_there(server, tmp_path, capsys):
    from cryptousd.cli import main

    fetch(server, tmp_path / "zips", end="2025-01")  # January is already here
    port = closed_port()
    argv = ["fetch", "--source", "binance-vision", "--start", "2025-01", "--end", "2025-02"]
    argv += ["--base-url", f"http://127.0.0.1:{port}", "--dest", str(tmp_path / "zips")]
    argv += ["--store", str(tmp_path / "store"), "--json", str(tmp_path / "f.json")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == f"wrote {tmp_path / 'f.json'}\n"  # and nothing else
    assert captured.err == (
        f"error: cannot reach 127.0.0.1:{port} (connection refused), so 1 file(s) were not "
        f"fetched; the 1 file(s) already here are kept ({ROWS:,d} new candles in "
        f"{tmp_path / 'store'}): check the network or --base-url, then run the same command "
        "again\n"
    )
    assert len(CandleStore(tmp_path / "store").read(symbol="BTC/USDT")) == ROWS
    import json

    result = json.loads((tmp_path / "f.json").read_text())
    assert result["unreachable"] == f"127.0.0.1:{port} (connection refused)"
    assert list(result["failed"]) == [name("2025-02")] and result["new_rows"] == ROWS


def test_cli_fetch_binance_vision_keeps_the_good_month_and_fails_in_one_line(
    server, tmp_path, capsys
):
    from cryptousd.cli import main

    write_checksum(server.root / SPOT / name("2025-02"), data=b"some other bytes")
    argv = [
        "fetch",
        "--source",
        "binance-vision",
        "--start",
        "2025-01",
        "--end",
        "2025-02",
        "--base-url",
        server.base_url,
        "--dest",
        str(tmp_path / "zips"),
        "--store",
        str(tmp_path / "store"),
    ]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]  # after the progress bars
    assert err.startswith("error: 1 file(s) failed") and err.endswith("to retry the rest")
    assert "checksum" in captured.out
    assert len(CandleStore(tmp_path / "store").read(symbol="BTC/USDT")) == ROWS  # the good month
    assert (
        main(
            [
                "fetch",
                "--source",
                "binance-vision",
                "--start",
                "2025-13",
                "--end",
                "2025-02",
                "--base-url",
                server.base_url,
                "--store",
                str(tmp_path / "store"),
            ]
        )
        == 2
    )
    assert "2025-13" in capsys.readouterr().err
