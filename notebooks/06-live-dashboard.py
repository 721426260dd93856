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
# # 06 · Live dashboard
#
# The last 60 one-minute candles beside the next 10 predicted ones, refreshing by itself. Served
# by Voila (`python3 run.py dashboard`) the page shows these notes and the dashboard, without the
# code; in JupyterLab it reads top to bottom like any notebook.

# %% tags=["parameters"]
# Parameters (papermill / nbval override these). None means: use the environment or the default.
live = None  # start the timer? None: only when served by Voila
source = None  # auto | exchange | yahoo | replay | simulated   (env CRYPTOUSD_SOURCE)
replay = None  # archive files or a store folder, os.pathsep-separated (env CRYPTOUSD_REPLAY)
replay_speed = None  # minutes of market time per second (env CRYPTOUSD_REPLAY_SPEED)
refresh_s = None  # seconds between ticks (env CRYPTOUSD_REFRESH_S)
model = None  # model folder or name (env CRYPTOUSD_MODEL)

# %% [markdown]
# ## 1. Setup

# %%
import os
from dataclasses import replace

from cryptousd.live.dashboard import Dashboard, Settings, served_by_voila, wait_for_viewer

settings = Settings.from_env()
overrides = {
    "source": source,
    "replay_speed": replay_speed,
    "refresh_s": refresh_s,
    "model": model,
    "replay": tuple(replay.split(os.pathsep)) if replay else None,
}
settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None}).validated()

# %% [markdown]
# ## 2. The dashboard

# %%
dash = Dashboard(settings)
dash.step()
dash.widget

# %% [markdown]
# ## 3. How it works
#
# The first tick above backfilled the last 60 candles and made a forecast before the page was
# shown. A
# daemon thread now ticks every `refresh_s` seconds: it polls the source, forecasts each newly
# closed
# candle (in NumPy; this kernel never imports TensorFlow), scores forecasts whose 10th minute has
# closed,
# and redraws. It starts only when Voila serves the page (or `live=True`), so papermill and nbval
# runs end.
# A failing source shows RECONNECTING with its error and the next retry; missed candles are
# backfilled.
#
# Served with preheated kernels, this cell first waits for a page to ask for the kernel
# (`wait_for_viewer`, Voila's `wait_for_request`): a replay's market clock starts when someone
# watches, not when the kernel was started. A replay loops over its data (a dashed line and
# "loop N" mark each seam) unless `CRYPTOUSD_REPLAY_LOOP=0`.

# %%
start_timer = served_by_voila() if live is None else bool(live)
if start_timer:
    wait_for_viewer()  # a preheated kernel waits here for its page (at once anywhere else)
    dash.start()
if not start_timer:
    print("timer not started (not served by Voila); call dash.start() to go live")
