"""One colour per meaning, shared by the static plots and the live dashboard."""

import zlib

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

# one colour per forecaster, the same in every plot of every notebook
FORECASTERS = {
    "persistence": "#000000",
    "buy_and_hold": "#607d8b",
    "drift": "#ff9800",
    "ar": "#2196f3",
    "lstm-direct": PRED,
    "lstm-recursive": "#e91e63",
    "look-ahead (leaky)": "#9e9e9e",
}
_SPARE = ["#4caf50", "#795548", "#00bcd4", "#3f51b5", "#ff5722", "#cddc39"]


def forecaster_color(name: str) -> str:
    """The colour of a forecaster: fixed for the known ones (a model folder named
    ``lstm-direct-...`` is an ``lstm-direct``), stable for any other name."""
    for known, colour in FORECASTERS.items():
        if name == known or name.startswith(known + "-"):
            return colour
    return _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]
