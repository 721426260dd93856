"""Judging frozen models honestly: rolling-origin evaluation beside the baselines
(:mod:`.evaluate`), direction scoring (:mod:`.direction`) and a backtest with costs
(:mod:`.backtest`)."""
