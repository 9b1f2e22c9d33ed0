"""Where would a camera see the simulated people, and from which of the views clinics and wards use?

A pinhole :class:`Camera` (no lens distortion) with intrinsics (image size, focal length in pixels,
principal point) and extrinsics (position, rotation). Camera axes follow OpenCV: x right, y down, z along
the optical axis; the world is z up with the floor at z = 0.

:func:`camera_for_view` sets one up for a named view of a subject's path:

- ``toward`` / ``away``: the hospital corridor of the gait seed - the camera at chest height at one end
  of the walk, the patient walking toward it or away from it;
- ``across``: side-on (sagittal), far enough to see most of the walk;
- ``oblique``: 30-60 degrees off the walking direction;
- ``cctv``: a ward or corridor camera mounted high (2.6-4 m), looking down, wide angle, lower resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import InputError
from core.synth.body import Motion

VIEWS = ("toward", "away", "across", "oblique", "cctv")
MIN_DEPTH_M = 0.1  # points closer than this (or behind the camera) are not imaged


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: world points -> pixels."""

    width_px: int
    height_px: int
    focal_px: float
    position_m: np.ndarray  # (3,) in the world
    rotation: np.ndarray  # (3, 3) world -> camera; rows are the camera's x, y, z axes in the world
    principal_px: tuple[float, float] | None = None  # default: image centre
    view: str = "custom"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0 or self.focal_px <= 0:
            raise InputError("a camera needs a positive image size and focal length")
        object.__setattr__(self, "position_m", np.asarray(self.position_m, dtype=float).reshape(3))
        object.__setattr__(self, "rotation", np.asarray(self.rotation, dtype=float).reshape(3, 3))

    @classmethod
    def look_at(
        cls,
        position_m,
        target_m,
        width_px: int = 1920,
        height_px: int = 1080,
        hfov_deg: float = 60.0,
        roll_deg: float = 0.0,
        view: str = "custom",
    ) -> Camera:
        """A level camera at ``position_m`` aimed at ``target_m`` with a horizontal field of view."""
        position, target = np.asarray(position_m, float), np.asarray(target_m, float)
        forward = target - position
        if np.linalg.norm(forward[:2]) < 1e-6:
            raise InputError("a camera cannot look straight up or down in this model")
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        roll = np.radians(roll_deg)
        right, down = np.cos(roll) * right + np.sin(roll) * down, -np.sin(roll) * right + np.cos(roll) * down
        focal = width_px / 2 / np.tan(np.radians(hfov_deg) / 2)
        return cls(width_px, height_px, focal, position, np.stack([right, down, forward]), view=view)

    @property
    def principal(self) -> tuple[float, float]:
        return self.principal_px if self.principal_px is not None else (self.width_px / 2, self.height_px / 2)

    @property
    def intrinsics(self) -> np.ndarray:
        """K, the 3x3 intrinsic matrix."""
        cx, cy = self.principal
        return np.array([[self.focal_px, 0.0, cx], [0.0, self.focal_px, cy], [0.0, 0.0, 1.0]])

    @property
    def translation(self) -> np.ndarray:
        """t with x_camera = R @ x_world + t."""
        return -self.rotation @ self.position_m

    @property
    def hfov_deg(self) -> float:
        return float(np.degrees(2 * np.arctan(self.width_px / 2 / self.focal_px)))

    def project(self, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (..., 2) and depth along the optical axis (..., ) in metres of world points (..., 3).

        Points behind the camera get NaN pixels and their (negative) depth.
        """
        points = np.asarray(points_m, dtype=float)
        camera = (points - self.position_m) @ self.rotation.T
        depth = camera[..., 2]
        safe = np.where(depth > MIN_DEPTH_M, depth, np.nan)
        cx, cy = self.principal
        uv = np.stack(
            [self.focal_px * camera[..., 0] / safe + cx, self.focal_px * camera[..., 1] / safe + cy], -1
        )
        return uv, depth

    def sees(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Whether projected points land inside the image, in front of the camera."""
        with np.errstate(invalid="ignore"):
            return (
                (depth > MIN_DEPTH_M)
                & (uv[..., 0] >= 0)
                & (uv[..., 0] < self.width_px)
                & (uv[..., 1] >= 0)
                & (uv[..., 1] < self.height_px)
            )

    def to_dict(self) -> dict:
        return {
            "view": self.view,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "focal_px": round(self.focal_px, 3),
            "hfov_deg": round(self.hfov_deg, 2),
            "intrinsics": self.intrinsics.round(4).tolist(),
            "rotation": self.rotation.round(6).tolist(),
            "translation_m": self.translation.round(4).tolist(),
            "position_m": self.position_m.round(4).tolist(),
        }


def camera_for_view(view: str, motion: Motion, rng: np.random.Generator) -> Camera:
    """A camera placed for ``view`` of ``motion`` (the patient, in world coordinates), with natural jitter."""
    if view not in VIEWS:
        raise InputError(f"unknown camera view {view!r}; choose one of {', '.join(VIEWS)}")
    pelvis = motion.joint("pelvis")[:, :2]
    start, end = pelvis[0], pelvis[-1]
    travel = end - start
    length = float(np.linalg.norm(travel))
    if length > 1.0:
        direction = travel / length
    else:
        # In place (a fall, sitting down): "forward" is where the body faces at the start.
        face = motion.joint("left_hip")[0, :2] - motion.joint("right_hip")[0, :2]
        direction = np.array([face[1], -face[0]]) / np.linalg.norm(face)
    side = np.array([-direction[1], direction[0]])
    # Aim where the person spends the clip: the middle of a walk, the place of a fall.
    centre = np.median(pelvis, axis=0)
    u = rng.uniform
    if view in ("toward", "away"):
        hfov = u(55, 70)
        lateral = u(-0.4, 0.4) * side
        if view == "toward":
            position = end + direction * u(2.5, 4.0) + lateral
        else:
            position = start - direction * u(2.5, 4.0) + lateral
        aim = np.append(centre, u(0.7, 1.0))
        camera = Camera.look_at(np.append(position, u(1.0, 1.6)), aim, hfov_deg=hfov, view=view)
    elif view in ("across", "oblique"):
        hfov = u(55, 70)
        # Far enough that most of the walk fits across the image (or ~3.5 m for an activity in place).
        needed = (max(length, 1.5) / 2 + 0.5) / np.tan(np.radians(hfov) / 2)
        distance = max(3.5, needed * u(0.7, 1.0))
        angle = np.radians(u(80, 100) if view == "across" else u(30, 60) * rng.choice([-1, 1]))
        toward_camera = np.cos(angle) * direction + np.sin(angle) * side * rng.choice([-1, 1])
        position = np.append(centre + distance * toward_camera, u(0.9, 1.5))
        camera = Camera.look_at(position, np.append(centre, u(0.7, 1.0)), hfov_deg=hfov, view=view)
    else:
        hfov = u(70, 90)
        azimuth = u(0, 2 * np.pi)
        distance = max(u(3.0, 7.0), length / 2 + 1.0)
        position = np.append(centre + distance * np.array([np.cos(azimuth), np.sin(azimuth)]), u(2.6, 4.0))
        camera = Camera.look_at(
            position, np.append(centre, u(0.3, 0.8)), width_px=1280, height_px=720, hfov_deg=hfov, view=view
        )
    return camera
