"""The feed service under load, on 127.0.0.1: many SSE clients on one symbol replayed fast.

For each client count: the delay from a candle being published by the session (its ``emitted``
time, taken right after the tick that closed it) to each client reading it off its socket, p50 and
p99, beside one client alone in the same run; the service's peak RSS and CPU; the clients the
service dropped. Then Voila viewers: N kernels on the ``feed`` source against N on ``replay``,
their total memory, and the upstream polls per minute.

    .venv/bin/python benchmarks/bench_feed.py [--clients 200] [--seconds 30] [--speed 10]
        [--viewers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx
import psutil
from _util import percentiles, table

from tests.feed_server import feed_server


async def sse_client(port: int, delays: list, stop: asyncio.Event, stats: dict) -> None:
    """A minimal SSE reader on a raw socket (cheap enough to run hundreds in one process)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/stream?symbol=BTC/USD HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    event = None
    fresh = True  # the snapshot's candles are history, not news
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                stats["ended"] += 1
                return
            if line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"candle":
                got = time.time()
                if fresh:
                    continue
                delays.append(got - json.loads(line[6:])["emitted"])
            elif line.startswith(b"data: ") and event == b"forecast":
                fresh = False
    finally:
        writer.close()


async def load(port: int, clients: int, seconds: float) -> tuple[list, dict]:
    delays: list[float] = []
    stop = asyncio.Event()
    stats = {"ended": 0}
    tasks = [asyncio.create_task(sse_client(port, delays, stop, stats)) for _ in range(clients)]
    await asyncio.sleep(seconds)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return delays, stats


def run_load(url: str, proc, clients: int, seconds: float) -> dict:
    port = int(url.rsplit(":", 1)[1])
    server = psutil.Process(proc.pid)
    cpu0 = server.cpu_times()
    m0 = httpx.get(f"{url}/api/metrics").json()
    t0 = time.monotonic()
    delays, stats = asyncio.run(load(port, clients, seconds))
    wall = time.monotonic() - t0
    cpu1 = server.cpu_times()
    m1 = httpx.get(f"{url}/api/metrics").json()
    p50, p99 = percentiles(delays) if delays else (float("nan"), float("nan"))
    return {
        "clients": clients,
        "candles received": len(delays),
        "per client": len(delays) / clients,
        "delay p50 ms": p50,
        "delay p99 ms": p99,
        "delay max ms": max(delays) * 1000 if delays else float("nan"),
        "service RSS MB": server.memory_info().rss / 2**20,
        "service CPU %": 100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall,
        "dropped": m1["clients_dropped"] - m0["clients_dropped"],
        "streams ended": stats["ended"],
    }


def kernels_of(voila_pid: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(voila_pid).children(recursive=True)
        if "ipykernel" in " ".join(p.cmdline())
    ]


def viewers(n: int, env_extra: dict, settle_s: float = 20.0) -> dict:
    """N Voila viewers: each GET of the page starts a kernel that runs the dashboard."""
    from tests.browser import voila_server

    with voila_server(env_extra) as url:
        voila = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if url.rsplit(":", 1)[1].rstrip("/") in " ".join(p.info["cmdline"] or [])
            and "voila" in " ".join(p.info["cmdline"] or [])
        )
        for _ in range(n):
            httpx.get(url, timeout=300)
        time.sleep(settle_s)
        ks = kernels_of(voila.pid)
        rss = sum(k.memory_info().rss for k in ks) / 2**20
        return {
            "kernels": len(ks),
            "total kernel RSS MB": rss,
            "per kernel MB": rss / max(1, len(ks)),
        }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=10.0, help="market minutes per second")
    ap.add_argument("--refresh", type=float, default=0.1)
    ap.add_argument("--viewers", type=int, default=20, help="0 skips the Voila part")
    args = ap.parse_args(argv)

    rows = []
    with feed_server(speed=args.speed, refresh=args.refresh) as (url, proc):
        time.sleep(3)
        for n in (1, args.clients):
            rows.append(run_load(url, proc, n, args.seconds))
        m = httpx.get(f"{url}/api/metrics").json()
    table(
        f"SSE clients on one symbol replayed at x{args.speed:g} (one candle each "
        f"{60 / args.speed / 60:.2f} s), {args.seconds:g} s each: candle published -> "
        "client read",
        rows,
    )
    print(f"service: {m['ticks']} ticks, forecast p50 {m['forecast_ms_p50']:.2f} ms")
    if args.viewers <= 0:
        return
    from cryptousd.data.locate import SAMPLE_FILE

    refresh = 1.0
    vrows = []
    with feed_server(speed=1, refresh=refresh) as (url, _):
        v = viewers(
            args.viewers,
            {
                "CRYPTOUSD_SOURCE": "feed",
                "CRYPTOUSD_FEED_URL": url,
                "CRYPTOUSD_REFRESH_S": str(refresh),
            },
        )
        ticks0 = httpx.get(f"{url}/api/metrics").json()["ticks"]
        time.sleep(30)
        ticks1 = httpx.get(f"{url}/api/metrics").json()["ticks"]
        v.update(source="feed", **{"upstream polls / min": (ticks1 - ticks0) * 2})
        vrows.append(v)
    v = viewers(
        args.viewers,
        {
            "CRYPTOUSD_SOURCE": "replay",
            "CRYPTOUSD_REPLAY": str(SAMPLE_FILE),
            "CRYPTOUSD_REPLAY_SPEED": "1",
            "CRYPTOUSD_REFRESH_S": str(refresh),
        },
    )
    v.update(source="replay", **{"upstream polls / min": v["kernels"] * 60 / refresh})
    vrows.append(v)
    table(
        f"{args.viewers} Voila viewers (a GET of the page each starts a kernel running the "
        "dashboard); polls: feed measured from the service's ticks, replay = kernels x 60 / "
        "refresh (each kernel polls its own source)",
        vrows,
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
