"""One colour per meaning, shared by the static plots and the live dashboard."""

UP = "#26a69a"  # a candle that closed above its open
DOWN = "#ef5350"  # a candle that closed below its open
PRED = "#8e6bd6"  # forecast candles
BAND = PRED  # the forecast's prediction interval
NOW = "#607d8b"  # the "now" line
FORMING = "#90a4ae"  # the candle still forming
FORMING_WICK = "#78909c"
RSI = "#5c6bc0"  # the RSI line
GUIDE = "#b0bec5"  # fixed reference lines (RSI 30 / 70, MACD zero)
MACD = "#1e88e5"  # the MACD line; its histogram bars are UP / DOWN by sign
SIGNAL = "#fb8c00"  # the MACD signal line
BOLLINGER = "#8d6e63"  # Bollinger bands over the candles
DIRECTION_MLP = "#8e24aa"  # the direction classifiers and their baselines (reliability, scores)
DIRECTION_LSTM = "#00897b"
LOGISTIC = "#f4511e"
MAJORITY = "#757575"
