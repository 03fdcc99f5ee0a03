"""The recommendations app's pure code: no Django, no database, usable from a notebook or a test on plain values.

- :mod:`recommendations.core.policy`: the risk-first policy (GARCH volatility forecasts, target weights per
  profile, the daily targets the engine and the lab replay).
- :mod:`recommendations.core.sizing`: the trade from each user's holding to the policy's target, within cash,
  the position cap and the VaR budget (numpy, many users at once).
- :mod:`recommendations.core.conditions`: market regime and volatility from the closes up to the signal day.
- :mod:`recommendations.core.reasoning`: the plain-language reason on a card, worded for the user's experience.
- :mod:`recommendations.core.learned_profile`: a user's learned profile from their answers (symbol and action
  preferences, confidence threshold, risk ceiling, size scale) and how it adapts sizes and ranks cards.
- :mod:`recommendations.core.bandit`: the per-user contextual bandit that orders and folds the day's cards.
- :mod:`recommendations.core.acceptance_model`: the acceptance model's features, forest and time-ordered quality.
- :mod:`recommendations.core.prequential`: time-ordered (prequential) quality of the personalisation models.

Nothing is imported here, so importing one module never loads the others. The code that reads and writes the
database (``selectors``, ``services``, ``acceptance``) calls these; ``lint-imports`` checks that nothing here
imports Django or another app.
"""
