"""Models behind one interface (see :mod:`learning.ml.models.base`).

Importing this package is cheap: scikit-learn, XGBoost, torch, gymnasium and stable-baselines3 are imported
inside the methods that use them.
"""

from __future__ import annotations

from typing import Any

from learning.ml.models.base import ModelError, ProbabilityModel
from learning.ml.models.lstm import LSTMModel
from learning.ml.models.rl import RLAgentModel
from learning.ml.models.trees import RandomForestModel, XGBoostModel

MODEL_CLASSES: dict[str, type[Any]] = {cls.kind: cls for cls in (RandomForestModel, XGBoostModel, LSTMModel, RLAgentModel)}


def make_model(kind: str, **params: Any) -> ProbabilityModel:
    """A fresh, unfitted model of ``kind`` (``rf``, ``xgb``, ``lstm`` or ``rl``) with the given hyperparameters."""
    try:
        cls = MODEL_CLASSES[kind]
    except KeyError:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_CLASSES)}") from None
    return cls(**params)


__all__ = [
    "MODEL_CLASSES",
    "LSTMModel",
    "ModelError",
    "ProbabilityModel",
    "RLAgentModel",
    "RandomForestModel",
    "XGBoostModel",
    "make_model",
]
