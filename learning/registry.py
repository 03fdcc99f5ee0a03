"""Model artifacts on disk: stored atomically, verified before every load.

Artifacts live under ``settings.MODELS_DIR`` (default ``VAR_DIR / "models"``), one folder per kind. A model
is saved to a temporary file in the target folder, hashed, and renamed into place with ``os.replace``, so
a reader sees either nothing or the complete file. The sha256 goes into the ``ModelVersion`` row.

Loading goes through :func:`artifact_load`, which recomputes the file's sha256 first: a missing file, a
path outside ``MODELS_DIR`` or a hash mismatch means "no model" (logged, ``None`` returned) and the file is
never opened by a deserialiser. Unpickling an unverified file would run whatever code it contains.

ML libraries are imported inside the functions that need them: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def artifact_path(version: ModelVersion) -> Path | None:
    """The artifact's absolute path, or ``None`` when the stored path leaves ``MODELS_DIR``."""
    root = models_dir().resolve()
    candidate = (root / version.artifact_path).resolve()
    if not version.artifact_path or not candidate.is_relative_to(root) or candidate == root:
        return None
    return candidate


def artifact_problem(version: ModelVersion) -> str | None:
    """Why ``version``'s artifact may not be loaded, or ``None`` when its file exists and its sha256 matches."""
    path = artifact_path(version)
    if path is None:
        return f"artifact path {version.artifact_path!r} is outside the models directory"
    if not path.is_file():
        return f"artifact {path} is missing"
    actual = file_sha256(path)
    if actual != version.artifact_sha256:
        return f"artifact {path} has sha256 {actual}, the registry expects {version.artifact_sha256}"
    return None


def artifact_verify(version: ModelVersion) -> bool:
    """Whether the artifact exists and matches its recorded sha256 (a mismatch is logged as an error)."""
    problem = artifact_problem(version)
    if problem is not None:
        logger.error("model %s (id %s) refused: %s", version.label, version.pk, problem)
        return False
    return True


def _model_class(kind: str) -> Any:
    if kind == ModelKind.ENSEMBLE:
        from learning.ml.ensemble import StackedEnsemble

        return StackedEnsemble
    from learning.ml.models import MODEL_CLASSES

    return MODEL_CLASSES.get(kind)


def artifact_load(version: ModelVersion) -> Any | None:
    """The model behind ``version``, or ``None`` ("no model") when its artifact is missing, altered or unreadable.

    The file is read once; its bytes are hashed and, only if they match the recorded sha256, loaded from a
    private copy of those same bytes, so nothing can swap the file between the check and the load.
    """
    path = artifact_path(version)
    problem: str | None = None
    data = b""
    if path is None:
        problem = f"artifact path {version.artifact_path!r} is outside the models directory"
    else:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problem = f"artifact {path} is missing"
        except OSError as exc:
            problem = f"artifact {path} cannot be read: {exc}"
        else:
            actual = hashlib.sha256(data).hexdigest()
            if actual != version.artifact_sha256:
                problem = f"artifact {path} has sha256 {actual}, the registry expects {version.artifact_sha256}"
    if problem is not None:
        logger.error("model %s (id %s) refused: %s", version.label, version.pk, problem)
        return None
    assert path is not None
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


def artifact_delete(version: ModelVersion) -> bool:
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
