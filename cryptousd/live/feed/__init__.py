"""The feed service: one live session per symbol, shared by every viewer over HTTP and SSE.

- :mod:`.events` turns candles, forecasts and session state into plain JSON;
- :mod:`.hub` runs the sessions and fans their events out to bounded per-client queues;
- :mod:`.app` is the FastAPI application (history, predict, metrics, stream, static page);
- :mod:`.server` builds the hub from command-line settings and runs uvicorn;
- :mod:`.client` reads the stream back (the dashboard's ``feed`` source): no ccxt, no model.
"""
