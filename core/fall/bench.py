"""``python -m core bench fall``: how often does MoveScope find a fall, how often does it cry wolf, how fast?

The synthetic scenes here (:func:`synthetic_scene`: the motion lab's falls and look-alikes, filmed with
bystanders and seen through the calibrated pose-noise model) are also what the fall tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.synth.body import Body, Motion
from core.synth.camera import Camera, camera_for_view
from core.synth.falls import FallLabel, simulate_activity
from core.synth.noise import PoseNoiseModel
from core.synth.scene import BEHAVIOURS, Person, SceneClip, bystander, film
from core.types import FramePoses

SIM_FPS = 60.0  # the lab simulates at the sensors' rate; video takes every n-th frame
VIDEO_FPS = 30.0  # the CCTV seed's rate
ACTIVITY_S = 10.0  # AIHub clip length
HOLD_S = 12.0  # then the last posture is held: long enough to raise (or not) a 10 s lying alarm
MAX_BYSTANDERS = 2


def hold_last_pose(motion: Motion, seconds: float) -> Motion:
    """The motion followed by ``seconds`` of its last posture (the person stays where the clip left them)."""
    extra = round(seconds * motion.fps)
    if extra <= 0:
        return motion
    joints = np.concatenate([motion.joints_m, np.repeat(motion.joints_m[-1:], extra, axis=0)])
    return replace(motion, joints_m=joints)


def scaled_camera(camera: Camera, width_px: int) -> Camera:
    """The same camera with a smaller sensor (same field of view): cheaper to render."""
    k = width_px / camera.width_px
    cx, cy = camera.principal
    return Camera(
        width_px,
        round(camera.height_px * k) // 2 * 2,
        camera.focal_px * k,
        camera.position_m,
        camera.rotation,
        (cx * k, cy * k),
        camera.view,
        dict(camera.meta),
    )


def make_fall_clip(
    path: str | Path,
    activity: str = "fall_forward_from_standing",
    view: str = "across",
    seconds: float = 6.0,
    hold_s: float = 0.0,
    fps: float = 15.0,
    width_px: int = 480,
    seed: int = 0,
    sensor_path: str | Path | None = None,
):
    """Render a synthetic clip of one person doing ``activity`` (a WebM video); returns (path, label).

    The activity is simulated for ``seconds`` (at least 6), then the last posture is held ``hold_s`` more.
    ``sensor_path``: also write what a waist sensor worn meanwhile recorded (``time_s,ax_g,ay_g,az_g``).
    For tests and demos: the person is the lab's figure, not a real human.
    """
    from core.synth.render import render_video
    from core.synth.sensors import single_device, write_device_csv

    rng = np.random.default_rng(seed)
    body = Body.sample(rng)
    motion, label = simulate_activity(activity, body, rng, seconds, SIM_FPS)
    motion = hold_last_pose(motion, hold_s).placed((0.0, 0.0), rng.uniform(0, 360))
    if sensor_path is not None:
        write_device_csv(single_device(motion, "waist", rng), sensor_path)
    video_motion = motion.every(round(SIM_FPS / fps))
    camera = scaled_camera(camera_for_view(view, video_motion, rng), width_px)
    clip = film(camera, [Person(video_motion, "patient", activity)], seed=seed)
    return render_video(clip, path), label


@dataclass
class SyntheticScene:
    """One lab scene as the pose model would report it, with the truth."""

    activity: str
    view: str
    seed: int
    label: FallLabel
    motion: Motion  # the patient at SIM_FPS, including the held last posture
    clip: SceneClip
    frames: list[FramePoses]  # what YOLO11n-pose would report (or the exact joints)
    fps: float

    @property
    def is_fall(self) -> bool:
        return self.label.is_fall

    @property
    def impact_s(self) -> float | None:
        return None if self.label.fall_end_frame is None else self.label.fall_end_frame / SIM_FPS

    @property
    def start_s(self) -> float | None:
        return None if self.label.fall_start_frame is None else self.label.fall_start_frame / SIM_FPS

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps


def synthetic_scene(
    activity: str,
    view: str,
    seed: int,
    *,
    imgsz: int = 640,
    exact: bool = False,
    bystanders: int | None = None,
    hold_s: float = HOLD_S,
    fps: float = VIDEO_FPS,
) -> SyntheticScene:
    """Simulate ``activity``, film it from ``view`` with bystanders, detect it through the pose-noise model.

    ``bystanders=None`` draws 0-:data:`MAX_BYSTANDERS`; ``exact=True`` gives the exact joints instead of
    the noise model's detections (the state machine's own limits, without the pose model's).
    """
    rng = np.random.default_rng([seed, 0xFA11])
    body = Body.sample(rng)
    motion, label = simulate_activity(activity, body, rng, ACTIVITY_S, SIM_FPS)
    motion = hold_last_pose(motion, hold_s).placed((0.0, 0.0), rng.uniform(0, 360))
    video_motion = motion.every(round(SIM_FPS / fps))
    camera = camera_for_view(view, video_motion, rng)
    people = [Person(video_motion, "patient", activity)]
    count = int(rng.integers(0, MAX_BYSTANDERS + 1)) if bystanders is None else bystanders
    for _ in range(count):
        other = bystander(str(rng.choice(BEHAVIOURS)), video_motion, camera, rng)
        if other is not None:
            people.append(other)
    clip = film(camera, people, seed=int(rng.integers(2**31)))
    model = PoseNoiseModel()
    size = (camera.width_px, camera.height_px)
    if exact:
        frames = model.reference_frames(clip.keypoints_px, size)
    else:
        # Joints hidden by the person's own body are part of the calibrated rates; only someone else's
        # body or the image border hides a joint here (as in core.synth.noise.detect_keypoints).
        own = np.stack([film(camera, [p]).occluded[:, 0] for p in people], axis=1)
        visible = clip.in_frame & ~(clip.occluded & ~own)
        frames = model.apply(clip.keypoints_px, visible, size, video_motion.fps, rng, imgsz).frames
    return SyntheticScene(activity, view, seed, label, motion, clip, frames, video_motion.fps)
