"""The one interface every model implements, and the file helpers they share.

A model is constructed from keyword hyperparameters (plus ``seed``), then:

- ``fit(X, y) -> self``: ``X`` a DataFrame indexed by ``(date, symbol)`` with feature columns, ``y`` 0/1;
- ``predict_proba(X, context=None) -> np.ndarray``: P(up over the horizon), 1-D, one value per row of ``X``.
  ``context`` optionally gives earlier feature rows (dated before ``X``): sequence models read their look-back
  window from it, row models ignore it. Features never depend on labels, so any feature row dated before the
  prediction day is fair context;
- ``save(path)`` writes one file atomically (temporary file, then rename); ``load(path)`` (classmethod) reads
  it back and predicts identically;
- ``params``: the hyperparameters, JSON-serialisable, enough to rebuild an unfitted twin (``type(m)(**m.params)``).

Loading trusts the file: callers (the model registry) must verify its sha256 first. Random Forest needs
pickle; XGBoost is stored as JSON and torch as a ``state_dict`` read with ``weights_only=True``.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

FORMAT_VERSION = 1


class ModelError(RuntimeError):
    """A model was used out of order (predict before fit) or a file is not what it should be."""


class InsufficientHistory(ModelError, ValueError):
    """The data hold too little history for what was asked: no labelled rows, no walk-forward fold, too few years
    for the ensemble's inner walk-forward. Callers tell it apart by its type (more history is the cure); it is
    a ``ModelError`` and a ``ValueError`` as well, what these places raised before it existed."""


@runtime_checkable
class ProbabilityModel(Protocol):
    kind: ClassVar[str]

    @property
    def params(self) -> dict[str, Any]: ...

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> Self: ...

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> Self: ...


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    A reader sees either the old file or the complete new one, never a half-written artifact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``numpy``, ``pandas`` and the given distributions, for artifact metadata."""
    out = {}
    for name in ("numpy", "pandas", *names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def as_matrix(X: pd.DataFrame | np.ndarray, feature_names: list[str] | None) -> np.ndarray:
    """``X`` as a float64 matrix, columns in the order the model was fitted with."""
    if isinstance(X, pd.DataFrame):
        if feature_names is not None:
            missing = [c for c in feature_names if c not in X.columns]
            if missing:
                raise ModelError(f"missing feature columns {missing}")
            X = X[feature_names]
        return X.to_numpy(dtype="float64")
    matrix = np.asarray(X, dtype="float64")
    if feature_names is not None and matrix.shape[1] != len(feature_names):
        raise ModelError(f"expected {len(feature_names)} feature columns, got {matrix.shape[1]}")
    return matrix


def as_labels(y: pd.Series | np.ndarray) -> np.ndarray:
    labels = np.asarray(y).astype("int64")
    if not set(np.unique(labels)) <= {0, 1}:
        raise ModelError("labels must be 0 or 1")
    return labels


def feature_names_of(X: pd.DataFrame | np.ndarray) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"f{i}" for i in range(np.asarray(X).shape[1])]


def check_header(meta: dict[str, Any], *, kind: str, path: Path) -> None:
    if meta.get("kind") != kind or meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path} is not a {kind} artifact of format {FORMAT_VERSION}")


def torch_artifact_write(path: str | Path, payload: dict[str, Any]) -> None:
    """Save a torch model's payload (tensors and plain data only) atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(path, buffer.getvalue())


def torch_artifact_read(path: str | Path, *, kind: str, what: str) -> dict[str, Any]:
    """Load a payload written by :func:`torch_artifact_write` and check its header.

    torch's format is a zip archive: anything else is refused before torch's restricted
    (``weights_only``) unpickler sees it. ``what`` names the artifact in error messages.
    """
    import torch

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not {what}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not {what}: {exc}") from exc
    if not isinstance(payload, dict):
        raise ModelError(f"{path} is not a model artifact")
    check_header(payload, kind=kind, path=path)
    return payload
