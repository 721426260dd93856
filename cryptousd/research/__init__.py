"""Research beyond the shipped LSTM: richer inputs, other models and one protocol to judge them.

- :mod:`.engineered`: ridge and LightGBM on the inputs at the origin
(:mod:`cryptousd.forecast.inputs`);
- :mod:`.neural`: the seed LSTM and a GRU on windows of any inputs (Keras to train, NumPy to run);
- :mod:`.scale`: a model of a forecaster's own error scale, for intervals that use the model;
- :mod:`.protocol`: purged time splits, choice on validation, the test range touched once per
  model, every run recorded (``cryptousd research``, notebook 07).
"""
