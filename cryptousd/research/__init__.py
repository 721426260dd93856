"""Research beyond the shipped LSTM: one protocol to judge other models, and the training chain.

The models it compares live in :mod:`cryptousd.forecast` (they are forecasters like any other):
ridge and LightGBM on the inputs at the origin (:mod:`cryptousd.forecast.engineered`), the seed LSTM
and a GRU on windows of any inputs (:mod:`cryptousd.forecast.neural`), and a model of a
forecaster's own error scale for its intervals (:mod:`cryptousd.forecast.scale`).

- :mod:`.protocol`: purged time splits, choice on validation, the test range touched once per
  model, every run recorded (``cryptousd research``, notebook 07).
- :mod:`.pipeline`: the shipped LSTM's training chain (``cryptousd train``, notebook 03).
"""
