"""Writes of the learning app.

- :mod:`learning.services.runs`: requesting a training run and moving it through its life (light: the web
  process imports it for ``POST /api/learning/train``);
- :mod:`learning.services.versions`: registering, activating and retiring model versions;
- :mod:`learning.services.training`: :func:`~learning.services.training.models_train`, the training job
  itself (workers and the ``train_models`` command; the ML libraries load only when it runs);
- :mod:`learning.services.config`: the ``LEARNING_*`` settings and their defaults.
"""

from learning.services.runs import training_run_request
from learning.services.versions import model_version_activate, model_version_retire

__all__ = ["model_version_activate", "model_version_retire", "training_run_request"]
