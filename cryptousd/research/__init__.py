"""Research forecasters: models on engineered per-candle inputs (:mod:`.engineered`), fitted and
compared under the research protocol, behind the same :class:`~cryptousd.forecast.base.Forecaster`
interface as the LSTM and the baselines."""
