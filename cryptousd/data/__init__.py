"""Market data: the candle frame (:mod:`.candles`), reading files (:mod:`.candle_files`), the local
store (:mod:`.candle_store`), finding data for a market (:mod:`.locate`) and the sources that bring
it (:mod:`.sources`: exchanges, Yahoo, Binance's archive, replay)."""
