"""Which of the people in the video is the patient?

The gait seed (000) filmed patients walking toward or away from the camera in a hospital corridor and chose
the track whose box centre changed most in y relative to x, because bystanders stood or crossed. MoveScope
keeps that number (``seed_score``) for every candidate but decides on a rule that holds for any walking
direction: **the patient is the person who travels, steadily, for most of the video**.

For each track, in units of the person's own median box height ("body heights", so near and far people
compare fairly):

- the trajectory (box centre across the image, and log box height for depth: a person walking toward the
  camera grows) is smoothed twice over ``SMOOTHING_S`` (a slow walker's gait cycle), which cancels the
  bounce of steps and the flailing of someone jumping in place;
- ``progression`` is the path length of that smoothed trajectory sampled every ``PATH_SAMPLE_S``: sustained
  travel, which also counts a patient who walks, turns and walks back;
- ``oscillation`` is the RMS of what smoothing removed, per axis: small for walking (the body bounces a few
  percent of its height), large for jumping, waving or gesturing;
- ``straightness`` is net displacement over path length (1 = a straight pass, ~0 = came back);
- ``off_centre`` is how far the track keeps from the image's vertical midline (0 = on it, 1 = at the
  edge), averaged over its frames: whoever films a gait trial frames the patient, so a walker at the side
  of the picture is more likely a passer-by;
- the score is ``(1 - exp(-progression / PROGRESSION_SCALE)) * duration_factor / (1 + oscillation /
  OSCILLATION_SCALE) * (1 - FRAMING_WEIGHT * off_centre)``, between 0 and 1. On simulated scenes with
  walking bystanders (``python -m core bench gait``) the framing term raised correct choices from 86 % to
  91 % of trials on subjects not used to choose its weight.

Depth travel is converted to body heights with ``DEPTH_TO_BODY_HEIGHTS``: walking from 6 m to 3 m halves the
distance (log ratio 0.69) and covers about 1.8 body heights, so the factor is about 2.6-3.3; 3 is used.
A user may always override the choice (``override``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import uniform_filter1d

from core.types import Candidate, PatientSelection, Track

SMOOTHING_S = 1.5  # at least one gait cycle of a slow walker (1.2-1.5 s), and several jumps
PATH_SAMPLE_S = 1.0
DEPTH_TO_BODY_HEIGHTS = 3.0
PROGRESSION_SCALE = 1.0  # body heights: a score of 0.63 before penalties at one body height travelled
OSCILLATION_SCALE = 0.1  # body heights RMS: halves the score of someone bouncing 10% of their height
FULL_DURATION_S = 4.0  # tracks shorter than this are penalised in proportion (a glimpse is not a patient)
# body heights: below this a person is "in place"; a gait trial covers several (a 5 m walkway is ~3)
MIN_PROGRESSION = 1.0
MIN_TRACK_FRAMES = 3
FRAMING_WEIGHT = 0.5


def _direction(across: float, depth: float, depth_sign: float, progression: float) -> str:
    if progression < MIN_PROGRESSION:
        return "in place"
    if abs(across) >= 2 * abs(depth):
        return "across"
    if abs(depth) >= 2 * abs(across):
        return "toward" if depth_sign > 0 else "away"
    return "oblique"


def score_track(track: Track, fps: float, analysed_frames: int, image_width: int | None = None) -> Candidate:
    """Judge how much ``track`` looks like a person walking a path (see the module docstring)."""
    heights = np.maximum(track.heights_px, 1.0)
    body = float(np.median(heights))
    frames = track.frames
    seconds = float((frames[-1] - frames[0]) / fps) if len(frames) > 1 else 0.0
    coverage = min(1.0, len(frames) / max(analysed_frames, 1))
    centers = track.centers
    seed_score = float(np.ptp(centers[:, 1]) / (np.ptp(centers[:, 0]) + 1.0))

    # resample on a uniform time grid so smoothing windows are in seconds even across missed frames
    step = max(1, int(np.median(np.diff(frames)))) if len(frames) > 1 else 1
    grid = np.arange(frames[0], frames[-1] + 1, step)
    x = np.interp(grid, frames, centers[:, 0]) / body
    y = np.interp(grid, frames, centers[:, 1]) / body
    z = np.interp(grid, frames, np.log(heights)) * DEPTH_TO_BODY_HEIGHTS
    window = max(1, round(SMOOTHING_S * fps / step))
    # a moving average applied twice (a triangular window) leaves far less ripple from periodic motion
    smooth = [
        uniform_filter1d(uniform_filter1d(v, size=window, mode="nearest"), size=window, mode="nearest")
        for v in (x, y, z)
    ]
    residual = np.column_stack([v - s for v, s in zip((x, y, z), smooth, strict=True)])
    oscillation = float(np.sqrt(np.mean(residual**2) * 3)) if len(grid) > 1 else 0.0

    sample = max(1, round(PATH_SAMPLE_S * fps / step))
    # lateral (x) and depth (z) travel; y is left out: it moves with depth and with the camera's tilt
    path = np.column_stack([smooth[0][::sample], smooth[2][::sample]])
    if len(path) > 1 and (len(grid) - 1) % sample:
        path = np.vstack([path, [smooth[0][-1], smooth[2][-1]]])
    progression = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1))) if len(path) > 1 else 0.0
    net = path[-1] - path[0] if len(path) > 1 else np.zeros(2)
    straightness = float(np.linalg.norm(net) / progression) if progression > 1e-6 else 0.0

    duration_factor = min(1.0, seconds / FULL_DURATION_S)
    off_centre = (
        float(np.clip(np.mean(np.abs(centers[:, 0] - image_width / 2)) / (image_width / 2), 0, 1))
        if image_width
        else 0.0
    )
    score = (
        (1 - math.exp(-progression / PROGRESSION_SCALE))
        * duration_factor
        / (1 + oscillation / OSCILLATION_SCALE)
        * (1 - FRAMING_WEIGHT * off_centre)
    )
    across_total = float(np.sum(np.abs(np.diff(path[:, 0])))) if len(path) > 1 else 0.0
    depth_total = float(np.sum(np.abs(np.diff(path[:, 1])))) if len(path) > 1 else 0.0
    direction = _direction(across_total, depth_total, float(net[1]), progression)
    reason = _describe(direction, progression, oscillation, straightness, seconds)
    return Candidate(
        track_id=track.id,
        score=float(score),
        seconds=seconds,
        coverage=coverage,
        progression=progression,
        straightness=straightness,
        oscillation=oscillation,
        seed_score=seed_score,
        direction=direction,
        reason=reason,
    )


def _describe(
    direction: str, progression: float, oscillation: float, straightness: float, seconds: float
) -> str:
    if seconds < 1.0:
        return f"seen for only {seconds:.1f} s"
    if direction == "in place":
        if oscillation >= OSCILLATION_SCALE:
            return (
                f"moved a lot in place (oscillation {oscillation:.2f} body heights) but travelled only "
                f"{progression:.1f} body heights in {seconds:.1f} s: jumping, gesturing or exercising"
            )
        return f"stayed in place ({progression:.1f} body heights in {seconds:.1f} s)"
    course = (
        "a straight pass" if straightness > 0.8 else "with turns" if straightness < 0.5 else "a curved path"
    )
    where = {"across": "across the image", "toward": "toward the camera", "away": "away from the camera"}.get(
        direction, "obliquely"
    )
    return (
        f"walked {where}, {progression:.1f} body heights in {seconds:.1f} s ({course}), "
        f"bouncing {oscillation:.2f} body heights"
    )


def select_patient(
    tracks: list[Track],
    fps: float,
    analysed_frames: int,
    override: int | None = None,
    image_width: int | None = None,
) -> PatientSelection:
    """Score every track and choose the patient; ``override`` (a track id) is the user's own choice."""
    candidates = sorted(
        (score_track(t, fps, analysed_frames, image_width) for t in tracks if len(t) >= MIN_TRACK_FRAMES),
        key=lambda c: c.score,
        reverse=True,
    )
    if not candidates:
        return PatientSelection(None, (), "nobody was tracked in this video")
    best = candidates[0]
    if override is not None:
        chosen = next((c for c in candidates if c.track_id == override), None)
        if chosen is None:
            raise ValueError(f"there is no track {override} to choose")
        reason = f"track {override} chosen by the user (the automatic choice was track {best.track_id})"
        return PatientSelection(override, tuple(candidates), reason, manual=True)
    reason = f"track {best.track_id} {best.reason}"
    if best.progression < MIN_PROGRESSION:
        reason = f"nobody walked a path; track {best.track_id} chosen with low confidence: {best.reason}"
    elif len(candidates) > 1:
        runner = candidates[1]
        reason += f"; next best, track {runner.track_id} (score {runner.score:.2f}), {runner.reason}"
    return PatientSelection(best.track_id, tuple(candidates), reason)
