"""Where MoveScope keeps its data, read once from the environment.

- ``MOVESCOPE_DATA_DIR``: folder for the database, stored videos and the stage cache
  (default ``var/`` beside the code; tests point it at a temporary folder).
- ``DATABASE_URL``: any SQLAlchemy URL, e.g. ``postgresql+psycopg://user:pw@host/movescope``
  (default: the SQLite file ``<data dir>/movescope.db``).
- ``MOVESCOPE_THREADS``: CPU threads for the models (default: all cores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PROJECT_ROOT / "weights"
ASSETS_DIR = PROJECT_ROOT / "assets"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    threads: int

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def media_dir(self) -> Path:
        """Stored uploads and annotated videos, named by content hash."""
        return self.data_dir / "media"

    @property
    def ultralytics_dir(self) -> Path:
        return self.data_dir / "ultralytics"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("MOVESCOPE_DATA_DIR", PROJECT_ROOT / "var")).expanduser().resolve()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'movescope.db'}"
    threads = int(os.environ.get("MOVESCOPE_THREADS") or os.cpu_count() or 1)
    return Settings(data_dir=data_dir, database_url=database_url, threads=max(1, threads))


@cache
def settings() -> Settings:
    """The process-wide settings (read once; tests set the environment before the first call)."""
    s = load_settings()
    for folder in (s.data_dir, s.cache_dir, s.media_dir, s.ultralytics_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return s
