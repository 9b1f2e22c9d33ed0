"""Small generated videos with real people in them, for tests, benchmarks and staff demos.

The people are photographs (the three pedestrians of Ultralytics' bundled ``bus.jpg``, AGPL-3.0, installed
with the ``ultralytics`` package), pasted onto a plain hallway-like background and moved: one slides across
the left half of the frame like a walker passing, one stands still, one bobs up and down in place.
The pose model detects them as it would real footage; their legs do not move, so these clips exercise
detection, tracking and patient selection, not gait events (the synthetic motion lab does that).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# (x1, y1, x2, y2) of three whole pedestrians in bus.jpg (810x1080), found by YOLO11n-pose
_BUS_PEOPLE = ((48, 400, 244, 906), (669, 388, 810, 878), (223, 405, 344, 859))


def bus_image() -> np.ndarray:
    import ultralytics

    path = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    image = cv2.imread(str(path))
    if image is None:
        raise RuntimeError(f"cannot read {path}")
    return image


def _background(width: int, height: int) -> np.ndarray:
    top = np.linspace(205, 170, height // 2)
    floor = np.linspace(120, 150, height - height // 2)
    column = np.concatenate([top, floor])[:, None, None]
    tint = np.array([1.0, 0.97, 0.92])[None, None, :]
    return np.clip(column * tint * np.ones((height, width, 3)), 0, 255).astype(np.uint8)


def demo_frames(seconds: float = 4.0, fps: float = 15.0, size: tuple[int, int] = (640, 480)):
    """Yield BGR frames: a walker crossing left to right, a bystander standing, a person bobbing in place."""
    width, height = size
    bus = bus_image()
    person_h = int(height * 0.42)
    crops = []
    for x1, y1, x2, y2 in _BUS_PEOPLE:
        crop = bus[y1:y2, x1:x2]
        scale = person_h / crop.shape[0]
        crops.append(cv2.resize(crop, (int(crop.shape[1] * scale), person_h), interpolation=cv2.INTER_AREA))
    background = _background(width, height)
    floor_y = int(height * 0.92)
    n = max(1, round(seconds * fps))
    for i in range(n):
        t = i / fps
        frame = background.copy()
        walker, bystander, bobber = crops
        places = [
            (int(0.02 * width + (0.50 * width) * i / max(1, n - 1)), floor_y, walker),
            (int(0.84 * width), floor_y - 10, bystander),
            (int(0.66 * width), floor_y - int(0.06 * height * abs(np.sin(2 * np.pi * 1.2 * t))), bobber),
        ]
        for x, bottom, crop in sorted(places, key=lambda p: p[1]):
            h, w = crop.shape[:2]
            top = bottom - h
            x = min(max(0, x), width - w)
            frame[max(0, top) : bottom, x : x + w] = crop[max(0, -top) :]
        yield frame


def make_demo_clip(
    path: str | Path, seconds: float = 4.0, fps: float = 15.0, size: tuple[int, int] = (640, 480)
) -> Path:
    """Write the demo clip as MP4 (mp4v), as a phone or camera export would arrive."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for frame in demo_frames(seconds, fps, size):
            writer.write(frame)
    finally:
        writer.release()
    return path
