"""One colour per meaning, shared by the static plots and the live dashboard."""

UP = "#26a69a"  # a candle that closed above its open
DOWN = "#ef5350"  # a candle that closed below its open
PRED = "#8e6bd6"  # forecast candles
BAND = PRED  # the forecast's prediction interval
NOW = "#607d8b"  # the "now" line
FORMING = "#90a4ae"  # the candle still forming
FORMING_WICK = "#78909c"
