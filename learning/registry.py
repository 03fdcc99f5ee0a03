"""The artifact store of every model kind: files stored atomically, verified before every load.

Artifacts live under ``settings.MODELS_DIR`` (default ``VAR_DIR / "models"``), one folder per kind: the
ensemble and its base models (rows: :class:`~learning.models.ModelVersion`) and the recommendations app's
acceptance model (rows: ``AcceptanceModelVersion``); any row with ``artifact_path`` and ``artifact_sha256``
(:class:`ArtifactRecord`) is served alike. A model is saved to a temporary file in the target folder, hashed,
and renamed into place with ``os.replace``, so a reader sees either nothing or the complete file. The sha256
goes into the version's row.

Reading goes through :func:`artifact_bytes` (and :func:`artifact_load` for this app's kinds), which hashes
the bytes it read first: a missing file, a path outside ``MODELS_DIR`` or a hash mismatch means "no model"
(logged, ``None`` returned) and nothing is handed to a deserialiser. Unpickling an unverified file would run
whatever code it contains.

ML libraries are imported inside the functions that need them: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from learning.models import ModelKind, ModelVersion
from quantai.fault_points import pause_point

logger = logging.getLogger(__name__)

#: File name extension per kind (the formats: pickle for scikit-learn, JSON for XGBoost, torch zip, our zip).
EXTENSIONS: dict[str, str] = {
    ModelKind.RANDOM_FOREST: ".pkl",
    ModelKind.XGBOOST: ".json",
    ModelKind.LSTM: ".pt",
    ModelKind.REINFORCEMENT: ".pt",
    ModelKind.ENSEMBLE: ".zip",
}
_CHUNK = 1 << 20


class ArtifactRecord(Protocol):
    """A version row whose file the store serves: where it is (relative to ``MODELS_DIR``) and its sha256."""

    pk: Any
    artifact_path: str
    artifact_sha256: str


def _describe(record: ArtifactRecord) -> str:
    """How log lines name a version: ``model rf v3 (id 7)``, ``acceptance model v2 (id 2)``."""
    label = getattr(record, "label", None)
    return f"{f'model {label}' if label else record} (id {record.pk})"


def models_dir() -> Path:
    """Where artifacts live: ``settings.MODELS_DIR``, else ``VAR_DIR / "models"``."""
    return Path(getattr(settings, "MODELS_DIR", None) or Path(settings.VAR_DIR) / "models")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredArtifact:
    path: str  # relative to models_dir(), with forward slashes
    sha256: str
    size: int


def artifact_store(model: Any, *, kind: str, name: str) -> StoredArtifact:
    """Save ``model`` (anything with ``save(path)``) as ``<MODELS_DIR>/<kind>/<name><ext>``; never overwrites.

    Raises ``FileExistsError`` if that name is taken: artifacts are immutable once a version points at them.
    """
    folder = models_dir() / kind
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{name}{EXTENSIONS.get(kind, '.bin')}"
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        model.save(tmp)
        sha256 = file_sha256(tmp)
        size = tmp.stat().st_size
        pause_point(f"learning.artifact_store.{kind}")
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredArtifact(path=final.relative_to(models_dir()).as_posix(), sha256=sha256, size=size)


def artifact_path(version: ArtifactRecord) -> Path | None:
    """The artifact's absolute path, or ``None`` when the stored path leaves ``MODELS_DIR``."""
    root = models_dir().resolve()
    candidate = (root / version.artifact_path).resolve()
    if not version.artifact_path or not candidate.is_relative_to(root) or candidate == root:
        return None
    return candidate


def _inspect(version: ArtifactRecord, *, keep: bool) -> tuple[str | None, bytes]:
    """``(problem, data)``: why the artifact may not be loaded (None if it may) and, with ``keep``, the bytes that
    were hashed (without it the file is hashed in chunks and nothing is kept)."""
    path = artifact_path(version)
    if path is None:
        return f"artifact path {version.artifact_path!r} is outside the models directory", b""
    data = b""
    try:
        if keep:
            data = path.read_bytes()
            actual = hashlib.sha256(data).hexdigest()
        else:
            actual = file_sha256(path)
    except FileNotFoundError:
        return f"artifact {path} is missing", b""
    except OSError as exc:
        return f"artifact {path} cannot be read: {exc}", b""
    if actual != version.artifact_sha256:
        return f"artifact {path} has sha256 {actual}, the registry expects {version.artifact_sha256}", b""
    return None, data


def artifact_problem(version: ArtifactRecord) -> str | None:
    """Why ``version``'s artifact may not be loaded, or ``None`` when its file exists and its sha256 matches."""
    return _inspect(version, keep=False)[0]


def artifact_verify(version: ArtifactRecord) -> bool:
    """Whether the artifact exists and matches its recorded sha256 (a mismatch is logged as an error)."""
    problem = artifact_problem(version)
    if problem is not None:
        logger.error("%s refused: %s", _describe(version), problem)
        return False
    return True


def artifact_bytes(version: ArtifactRecord) -> bytes | None:
    """The artifact's bytes, read once and hashed: ``None`` ("no model", logged as refused) when the path leaves
    ``MODELS_DIR``, the file is missing or unreadable, or its sha256 is not the recorded one. Deserialise only
    these bytes (never the file again), so nothing can swap the file between the check and the load."""
    problem, data = _inspect(version, keep=True)
    if problem is not None:
        logger.error("%s refused: %s", _describe(version), problem)
        return None
    return data


def _model_class(kind: str) -> Any:
    if kind == ModelKind.ENSEMBLE:
        from learning.ml.ensemble import StackedEnsemble

        return StackedEnsemble
    from learning.ml.models import MODEL_CLASSES

    return MODEL_CLASSES.get(kind)


def artifact_load(version: ModelVersion) -> Any | None:
    """The model behind ``version``, or ``None`` ("no model") when its artifact is missing, altered or unreadable.

    The file is read once (:func:`artifact_bytes`); only bytes that match the recorded sha256 are loaded, from
    a private copy of those same bytes.
    """
    data = artifact_bytes(version)
    path = artifact_path(version)
    if data is None or path is None:
        return None
    cls = _model_class(version.kind)
    if cls is None:
        logger.error("model %s (id %s): no model class for kind %r in this installation", version.label, version.pk, version.kind)
        return None
    from learning.ml.models import ModelError

    with tempfile.TemporaryDirectory(prefix="quantai-model-") as tmp:
        private = Path(tmp) / path.name
        private.write_bytes(data)
        try:
            return cls.load(private)
        except (ModelError, OSError, ValueError, KeyError) as exc:
            logger.error("model %s (id %s) could not be loaded: %s", version.label, version.pk, exc)
            return None


def artifact_delete(version: ArtifactRecord) -> bool:
    """Remove a version's file (for retired versions an operator prunes); ``False`` if there was none."""
    path = artifact_path(version)
    if path is None or not path.is_file():
        return False
    path.unlink()
    return True


def artifact_leftovers_remove(*, prefix: str) -> list[str]:
    """Delete what a killed attempt left under ``MODELS_DIR``: files named ``prefix*`` that no version references,
    and the temporary ``.prefix*.tmp`` files of an interrupted save. Returns the removed paths (relative).

    For the restart of a training run whose worker was lost (``prefix="run<id>-"``): nothing else writes files
    with that run's prefix, and the versions already registered keep theirs.
    """
    root = models_dir()
    if not prefix or not root.is_dir():
        return []
    referenced = set(ModelVersion.objects.values_list("artifact_path", flat=True))
    removed: list[str] = []
    for folder in (p for p in root.iterdir() if p.is_dir()):
        for path in folder.iterdir():
            relative = path.relative_to(root).as_posix()
            temporary = path.name.startswith(f".{prefix}") and path.name.endswith(".tmp")
            orphan = path.name.startswith(prefix) and relative not in referenced
            if path.is_file() and (temporary or orphan):
                path.unlink(missing_ok=True)
                removed.append(relative)
    if removed:
        logger.warning("removed %d file(s) a lost training attempt left behind: %s", len(removed), ", ".join(sorted(removed)))
    return sorted(removed)
