"""Watching live: the session that moves candles and scores forecasts (:mod:`.session`), the Voila
dashboard (:mod:`.dashboard`, :mod:`.dashboard_view`, :mod:`.serve`) and the feed service shared
by every viewer (:mod:`.feed`)."""
