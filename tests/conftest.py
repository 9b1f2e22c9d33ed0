"""Test isolation: nothing is written into ``~`` and no test touches the network.

The environment is set before any project module is imported, so settings, Ultralytics and Matplotlib
all see temporary folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="movescope-tests-"))
for _name, _sub in {
    "HOME": "home",
    "MPLCONFIGDIR": "mpl",
    "YOLO_CONFIG_DIR": "ultralytics",
    "MOVESCOPE_DATA_DIR": "data",
    "XDG_CACHE_HOME": "xdg-cache",
    "XDG_CONFIG_HOME": "xdg-config",
}.items():
    (_TMP / _sub).mkdir(parents=True, exist_ok=True)
    os.environ[_name] = str(_TMP / _sub)
os.environ.pop("DATABASE_URL", None) if os.environ.get("MOVESCOPE_TEST_KEEP_DATABASE_URL") != "1" else None
os.environ["YOLO_OFFLINE"] = "1"
os.environ["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real third-party recordings in ../shared/data; tests using them skip on a user's machine."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (third-party clips are not shipped with MoveScope)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def db(tmp_path):
    """A new, migrated SQLite clinic database of the test's own."""
    from core.storage import Database

    database = Database(f"sqlite:///{tmp_path / 'clinic.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory) -> Path:
    """A 4 s, 640x480 clip of three real people: a walker crossing, a bystander, someone bobbing in place."""
    from core.demo import make_demo_clip

    return make_demo_clip(tmp_path_factory.mktemp("clips") / "demo.mp4", seconds=4.0, fps=15.0)


@pytest.fixture(scope="session")
def demo_analysis(demo_clip):
    """The demo clip analysed once per test session, with the stage cache in the test data folder."""
    from core.cache import StageCache
    from core.pipeline import analyse_video
    from core.settings import settings

    return analyse_video(demo_clip, cache=StageCache(settings().cache_dir))
