"""Data layer: loading the 15 archive months cold vs 12 months from the store; building candles from
10 million trades vs a plain pandas resample/groupby, in the same run.

    .venv/bin/python benchmarks/bench_data.py        (or: cryptousd bench data)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import in_fresh_process, table

from cryptousd.data.locate import FETCH_HINT, full_history_files


def main() -> None:
    archives = [str(p) for p in full_history_files()]
    if len(archives) != 15:
        sys.exit(
            "error: bench data reads the 15 months 2024-01..2025-03 of BTC/USDT minutes, which "
            f"are not here; fetch them with `{FETCH_HINT}`"
        )
    store = tempfile.mkdtemp(prefix="cu-bench-store-")
    cold = in_fresh_process(f"""
import cryptousd as cu
t0 = time.perf_counter(); df = cu.load_candles({archives!r}); s = time.perf_counter() - t0
result = {{'what': 'load 15 archive months (zip, cold)', 'rows': len(df), 'seconds': s}}
""")
    in_fresh_process(f"""
import cryptousd as cu
from cryptousd.data.candle_files import read_candle_file
st = cu.CandleStore({store!r})
for p in {archives!r}: st.append(read_candle_file(p), source='binance', symbol='BTC/USDT')
result = {{}}
""")
    from_store = in_fresh_process(f"""
import cryptousd as cu
st = cu.CandleStore({store!r})
t0 = time.perf_counter(); df = st.read(symbol='BTC/USDT', start='2024-01-01', end='2025-01-01'); \
s = time.perf_counter() - t0
result = {{'what': 'read 12 months from the store (Parquet)', 'rows': len(df), 'seconds': s}}
""")
    from_store_filled = in_fresh_process(f"""
import cryptousd as cu
st = cu.CandleStore({store!r})
t0 = time.perf_counter(); \
df = cu.load_candles(st, symbol='BTC/USDT', start='2024-01-01', end='2025-01-01'); \
s = time.perf_counter() - t0
result = {{'what': 'load_candles(store, 12 months) incl. gap check', 'rows': len(df), 'seconds': s}}
""")
    table(
        "Loading candles (each in a fresh process; peak RSS of that process)",
        [
            {"case": r["what"], "rows": r["rows"], "seconds": r["seconds"], "peak MB": r["peak_mb"]}
            for r in (cold, from_store, from_store_filled)
        ],
    )

    n = 10_000_000
    build = in_fresh_process(f"""
import numpy as np, pandas as pd, cryptousd as cu
rng = np.random.default_rng(0)
t = np.sort(pd.Timestamp('2025-01-01', tz='UTC').value + rng.integers(0, 30 * 86_400 * 10**9, {n}))
trades = pd.DataFrame({{'time': pd.to_datetime(t, utc=True), \
'price': 90_000 * np.exp(np.cumsum(rng.normal(0, 1e-5, {n}))), 'qty': rng.gamma(1, .01, {n})}})
t0 = time.perf_counter(); ours = cu.build_candles(trades); s_ours = time.perf_counter() - t0
t0 = time.perf_counter()
g = trades.set_index('time')
ref = g['price'].resample('1min').ohlc(); ref['volume'] = g['qty'].resample('1min').sum()
s_resample = time.perf_counter() - t0
t0 = time.perf_counter()
key = trades['time'].dt.floor('1min')
grp = trades.groupby(key)
ref2 = grp['price'].agg(['first', 'max', 'min', 'last']); ref2['volume'] = grp['qty'].sum()
s_groupby = time.perf_counter() - t0
assert np.allclose(ours['close'].to_numpy(), ref['close'].ffill().to_numpy())
result = {{'ours': s_ours, 'resample': s_resample, 'groupby': s_groupby, 'candles': len(ours)}}
""")
    table(
        f"Building candles from {n:,d} time-ordered trades "
        f"({build['candles']:,d} one-minute candles; same process)",
        [
            {
                "method": "cryptousd.build_candles (numpy reduceat)",
                "seconds": build["ours"],
                "M trades/s": n / build["ours"] / 1e6,
            },
            {
                "method": "pandas resample().ohlc() + sum (reference)",
                "seconds": build["resample"],
                "M trades/s": n / build["resample"] / 1e6,
            },
            {
                "method": "pandas groupby(floor) agg (reference)",
                "seconds": build["groupby"],
                "M trades/s": n / build["groupby"] / 1e6,
            },
        ],
    )


if __name__ == "__main__":
    main()
