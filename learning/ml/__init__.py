"""The numerical core of the learning app: bars -> features and labels -> models -> walk-forward evidence.

Pure numpy/pandas (plus scikit-learn, XGBoost and PyTorch, imported lazily inside the functions and
classes that need them). Nothing here imports Django, so every piece runs in a notebook or a test on
plain DataFrames, and importing :mod:`learning.ml.features` never loads the heavy ML libraries.

Modules:
- :mod:`learning.ml.data`: load bars (CSV directories or a long DataFrame) into a *panel*.
- :mod:`learning.ml.features`: causal features per (date, symbol), documented in ``FEATURES``.
- :mod:`learning.ml.labels`: forward return and direction over a horizon H.
- :mod:`learning.ml.dataset`: features + labels joined, warm-up and unlabelled rows dropped.
- :mod:`learning.ml.validation`: walk-forward splits with purging and an embargo.
- :mod:`learning.ml.models`: Random Forest, XGBoost and LSTM behind one interface.
- :mod:`learning.ml.ensemble`, :mod:`learning.ml.calibration`: stacking and calibration on out-of-fold predictions.
- :mod:`learning.ml.metrics`, :mod:`learning.ml.evaluation`: scores and the walk-forward evaluation run.
"""
