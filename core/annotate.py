"""What the clinician sees on the video: every tracked person's box, ID and skeleton, the patient highlighted.

Annotated videos are previews (at most :data:`core.video.MAX_ANNOTATED_WIDTH` wide, WebM/VP8). Frames the
pose stage skipped (``stride`` > 1) show the most recent analysed pose. A ``style`` callback can colour and
label each person per frame instead (the fall page colours people by body state).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from core.types import SKELETON, Track
from core.video import AnnotatedVideoWriter, OutputSize, iter_frames, read_frame

PATIENT_COLOUR = (0, 165, 255)  # BGR orange: stands out on skin, clothing and hospital floors
OTHER_COLOUR = (200, 170, 60)  # BGR steel blue for bystanders
KEYPOINT_MIN_CONFIDENCE = 0.3
Progress = Callable[[float, str], None]
# (track, row in the track) -> (BGR colour, label): how to draw one person in one frame
PersonStyle = Callable[[Track, int], tuple[tuple[int, int, int], str]]


def _by_frame(tracks: list[Track]) -> dict[int, list[tuple[Track, int]]]:
    index: dict[int, list[tuple[Track, int]]] = {}
    for track in tracks:
        for i, frame in enumerate(track.frames):
            index.setdefault(int(frame), []).append((track, i))
    return index


def draw_people(
    image: np.ndarray,
    people: list[tuple[Track, int]],
    patient_id: int | None,
    scale: float = 1.0,
    style: PersonStyle | None = None,
) -> np.ndarray:
    """Draw boxes, IDs and skeletons of ``people`` (track, row) on ``image`` (coordinates times ``scale``)."""
    thickness = max(1, round(image.shape[1] / 480))
    for track, i in sorted(people, key=lambda p: p[0].id == patient_id):  # patient drawn last, on top
        is_patient = track.id == patient_id
        colour = PATIENT_COLOUR if is_patient else OTHER_COLOUR
        label = f"patient #{track.id}" if is_patient else f"#{track.id}"
        if style is not None:
            colour, label = style(track, i)
        x1, y1, x2, y2 = (track.boxes[i] * scale).astype(int)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness * (2 if is_patient else 1))
        keypoints = track.keypoints[i]
        points = (keypoints[:, :2] * scale).astype(int)
        seen = keypoints[:, 2] >= KEYPOINT_MIN_CONFIDENCE
        for a, b in SKELETON:
            if seen[a] and seen[b]:
                cv2.line(image, tuple(points[a]), tuple(points[b]), colour, thickness, cv2.LINE_AA)
        for j in np.flatnonzero(seen):
            cv2.circle(image, tuple(points[j]), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
        font_scale = 0.45 * thickness
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = max(0, y1 - h - 6)
        cv2.rectangle(image, (x1, top), (x1 + w + 6, top + h + 6), colour, -1)
        cv2.putText(
            image, label, (x1 + 3, top + h + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness
        )
    return image


def render_annotated_video(
    video_path: str | Path,
    fps: float,
    width: int,
    tracks: list[Track],
    patient_id: int | None,
    out_path: str | Path,
    progress: Progress | None = None,
    total_frames: int | None = None,
    style: PersonStyle | None = None,
) -> Path:
    """Write the annotated preview of ``video_path``; returns the WebM path."""
    index = _by_frame(tracks)
    size: OutputSize | None = None
    writer: AnnotatedVideoWriter | None = None
    current: list[tuple[Track, int]] = []
    last_analysed = -1
    hold_frames = 2 * _stride(tracks)  # keep a pose on screen between analysed frames, no longer
    try:
        for number, image in iter_frames(video_path):
            if size is None:
                size = OutputSize.preview(image.shape[1], image.shape[0])
                writer = AnnotatedVideoWriter(out_path, fps, size)
            if number in index:
                current, last_analysed = index[number], number
            elif number - last_analysed > hold_frames:
                current = []
            small = cv2.resize(image, (size.width, size.height), interpolation=cv2.INTER_AREA)
            draw_people(small, current, patient_id, size.scale_from(width), style)
            writer.write(small)
            if progress and total_frames and number % 15 == 0:
                progress(min(1.0, number / total_frames), f"annotating frame {number + 1} of {total_frames}")
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("the video has no frames to annotate")
    return writer.path


def _stride(tracks: list[Track]) -> int:
    steps = [int(np.median(np.diff(t.frames))) for t in tracks if len(t.frames) > 1]
    return min(steps) if steps else 1


def track_thumbnail(video_path: str | Path, track: Track, height_px: int = 96) -> np.ndarray:
    """A crop of the person at the frame where the detector was most confident, ``height_px`` tall (BGR)."""
    i = int(np.argmax(track.scores))
    return person_crop(video_path, int(track.frames[i]), track.boxes[i], height_px)


def person_crop(video_path: str | Path, frame: int, box, height_px: int = 96) -> np.ndarray:
    """The person in ``box`` at ``frame`` with a small margin, ``height_px`` tall (BGR)."""
    image = read_frame(video_path, frame)
    x1, y1, x2, y2 = box
    pad_x, pad_y = 0.1 * (x2 - x1), 0.05 * (y2 - y1)
    h, w = image.shape[:2]
    crop = image[
        max(0, int(y1 - pad_y)) : min(h, int(y2 + pad_y)),
        max(0, int(x1 - pad_x)) : min(w, int(x2 + pad_x)),
    ]
    if crop.size == 0:
        return np.zeros((height_px, height_px // 2, 3), np.uint8)
    scale = height_px / crop.shape[0]
    return cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), height_px), interpolation=cv2.INTER_AREA)


def annotated_video_for(analysis, progress: Progress | None = None) -> Path:
    """The analysis's annotated preview in the media folder, rendered once per video, settings and patient."""
    from core.cache import settings_digest
    from core.settings import settings

    key = settings_digest({**analysis.settings.to_dict(), "patient": analysis.selection.track_id})
    path = settings().media_dir / "annotated" / f"{analysis.sha256}-{key}.webm"
    if not path.is_file():
        tmp = path.with_name(path.stem + ".part.webm")
        render_annotated_video(
            analysis.video.path,
            analysis.video.fps,
            analysis.video.width,
            analysis.tracks,
            analysis.selection.track_id,
            tmp,
            progress,
            analysis.video.frames,
        )
        tmp.replace(path)
    return path
