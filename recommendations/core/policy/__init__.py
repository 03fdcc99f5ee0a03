"""The risk-first recommendation policy (pure numpy/pandas, no Django): volatility forecasts and target weights.

The engine (``recommendations/services/generate.py``), the lab's ``engine`` system and ``policy_report`` all call
:func:`recommendations.core.policy.targets.target_weights`, so what is replayed is what users are shown.
"""
