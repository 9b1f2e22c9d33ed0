"""Never compute the same stage twice: results cached by the input's content and the stage's settings.

Pose extraction is the expensive stage (seconds to minutes); tracking, patient selection and gait
parameters take milliseconds. Each stage's output is stored under the SHA-256 of the video's bytes plus a
digest of exactly the settings that stage (and the stages before it) used, so changing a gait setting or
overriding the patient re-uses the cached poses, while a different image size does not.

Entries are pickles written atomically (temporary file, then rename); the cache lives in MoveScope's own
data folder and is never fed from user uploads, so unpickling is safe. A damaged entry is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK_BYTES = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Content hash of a file (streamed; ~1 s per GB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def settings_digest(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StageCache:
    """Disk cache of stage outputs; ``None`` root disables caching."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    def path(self, content_hash: str, stage: str, settings: dict[str, Any]) -> Path | None:
        if self.root is None:
            return None
        return self.root / content_hash[:2] / content_hash / f"{stage}-{settings_digest(settings)}.pkl"

    def get_or_compute(
        self, content_hash: str, stage: str, settings: dict[str, Any], compute: Callable[[], T]
    ) -> tuple[T, bool]:
        """The stage's output and whether it came from the cache."""
        path = self.path(content_hash, stage, settings)
        if path is not None and path.is_file():
            try:
                with path.open("rb") as f:
                    return pickle.load(f), True
            except Exception:  # damaged or from an incompatible version: recompute below
                path.unlink(missing_ok=True)
        value = compute()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        return value, False
