"""Synthetic video of simulated people: what would a camera see, and exactly where is the patient?

The motion lab's models that learn from pixels (RGB fall and gait networks, mask-supervised networks) need
frames with exact labels. This module draws the simulated bodies (:data:`~core.synth.skeleton.BODY_JOINTS`,
seen through a pinhole camera) as humanoid figures and returns, per frame, the BGR image, the patient's
pixel mask and every person's box.

How a frame is made:
- Each body becomes a set of capsules (cylinders with round ends) in camera space: the limbs of
  :data:`~core.synth.skeleton.LIMBS` with their radii in metres, plus a neck, an egg-shaped head with a hair
  cap, hands, and face marks (eyes, mouth) when the face is towards the camera. Capsules are rasterised
  with a per-pixel depth (the capsule's front surface) into a z-buffer shared by all people, so limbs and
  people hide each other correctly (painter's order by depth falls out of the z-test).
- Shading is Lambertian on the capsule's normal under one directional light plus ambient light; edges are
  anti-aliased by partial coverage. Each person stands on a soft contact shadow.
- Backgrounds are procedural (room, corridor, outdoor) with gradients, textures and clutter; the camera adds
  defocus blur, sensor noise, exposure/colour cast, vignetting and an optional JPEG round trip.

Joints come either pre-projected (``uv_px (T, P, J, 2)``, ``depth_m (T, P, J)``, ``focal_px``) or as
world positions with a ``project`` callable (:func:`project_joints`). The renderer rebuilds camera-space
points from pixels and depth (``X = u z / f``), so any pinhole camera works without knowing its principal
point. Frames are produced by a generator (:func:`render_clip`) so long clips never sit in memory.

How real it looks, to the product's pose model (YOLO11n-pose through :mod:`core.pose`, imgsz 640; walking
and standing figures, side / toward / oblique-high views, 640x480 and 1280x720, random styles; 1,657
unoccluded person-frames; measured 2026-11-21 with a scratch script, not a test): rendered people are
found at the same sizes as real people are (real: :mod:`core.synth.noise`'s calibration table):

| height in network-input px | 0-50 | 50-75 | 75-100 | 100-150 | 150-250 |
|----------------------------|------|-------|--------|---------|---------|
| rendered people found %    |  0   |   6   |   66   |  99.7   |   94    |
| real people found % (YOLO) |  4   |  18   |   50   |   96    |   99    |

People at least 100 input px tall are found 98.5 % of the time (side 100 %, oblique-high 100 %, toward
95 %: one standing figure was never found); by image height, people of 100 px or more are found 97 % at
640x480 but 61 % at 1280x720, where the model sees them at half size. Where found, YOLO's keypoints lie a
median 2.7 % of the box height from the true joints (90th percentile 8 %). No false detections. Rendering
runs about 25 frames/s at 640x480 with two people and 12 frames/s at 1280x720 (one process, 2 cores).

On the lab's own scenes (its walker, a bystander, the five camera views; 40 clips, 8 frames each:
``measure_detection_rate(clips_per_view=8, frames_per_clip=8)``, seed 0, 2026-11-21) people of 100 input
px or more are found 98.0 % of the time (432 person-frames; toward 99.1, away 96.6, across 97.8, oblique
97.1, cctv 100 %), 75-100 px 92 % (51), keypoint error median 2.7 % of the box height.

:func:`render_video` is the dataset builder's hook: it films a :class:`core.synth.scene.SceneClip`
through the project's video writer and saves the patient's masks and everyone's boxes beside the video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.synth.skeleton import BODY_JOINTS, LIMBS, J

PARTS: tuple[str, ...] = ("head", "torso", "arms", "legs", "feet")
N_BODY_JOINTS = len(BODY_JOINTS)

# Geometry of the parts LIMBS does not carry (metres, average adult; scaled by Appearance.build).
NECK_RADIUS_M = 0.05
TRUNK_TOP_ABOVE_SHOULDERS_M = 0.05
WAIST_TO_CHEST = 0.85  # waist radius / chest radius
HAND_LENGTH_M = 0.085  # wrist to the middle of the fingers
HAND_RADIUS_M = 0.034
HEAD_BELOW_EARS_M = 0.035  # the face capsule's lower centre sits this far below the ear line
HAIR_BACK_SHIFT = 0.22  # hair sphere's centre moves this share of the head radius back and up
HAIR_RADIUS_SCALE = 1.04
EYE_RADIUS_M = 0.011
EYE_BGR = np.array([35, 30, 30], np.float32)
MOUTH_BGR = np.array([60, 60, 120], np.float32)
FACE_VISIBLE_COS = 0.15  # face marks are drawn when the nose points at least this much towards the camera
NEAR_CLIP_M = 0.2  # primitives closer than this to the camera are not drawn

# Lighting: reflected brightness = ambient + diffuse * max(0, n.l), times the material colour.
DEFAULT_AMBIENT = 0.45
DEFAULT_DIFFUSE = 0.65
DEFAULT_CONTACT_SHADOW = 0.35
RIM_DARKENING = 0.2  # share of the shading lost at a capsule's rim

SKIN_TONES_BGR: tuple[tuple[int, int, int], ...] = (
    (189, 215, 245),
    (160, 196, 234),
    (140, 180, 224),
    (110, 150, 198),
    (80, 115, 170),
    (60, 85, 130),
    (45, 62, 96),
)
HAIR_COLOURS_BGR: tuple[tuple[int, int, int], ...] = (
    (20, 20, 25),
    (30, 45, 70),
    (40, 70, 110),
    (90, 150, 200),
    (150, 150, 155),
    (215, 215, 220),
)
# Clothing palette: plausible garment colours, from dark to bright and saturated.
CLOTHING_BGR: tuple[tuple[int, int, int], ...] = (
    (30, 30, 30),
    (60, 60, 60),
    (120, 120, 120),
    (200, 200, 200),
    (240, 240, 240),
    (110, 60, 20),
    (150, 90, 40),
    (80, 40, 30),
    (40, 40, 140),
    (40, 40, 200),
    (60, 140, 200),
    (40, 120, 60),
    (40, 90, 40),
    (140, 60, 120),
    (60, 160, 200),
    (30, 200, 230),
    (160, 140, 80),
    (70, 100, 130),
)


@dataclass(frozen=True)
class Appearance:
    """How one simulated person looks: clothing colours by part, skin, hair, sleeves and build.

    ``clothing_bgr`` needs "torso", "arms", "legs" and "feet"; a "head" colour (a hat, a hood) replaces
    the hair colour. ``build`` scales limb girth (body height comes from the joints); ``short_sleeves``
    shows skin on the forearms and ``shorts`` on the shanks.
    """

    clothing_bgr: dict[str, tuple[int, int, int]]
    skin_bgr: tuple[int, int, int] = SKIN_TONES_BGR[2]
    hair_bgr: tuple[int, int, int] = HAIR_COLOURS_BGR[1]
    build: float = 1.0
    short_sleeves: bool = False
    shorts: bool = False

    def __post_init__(self) -> None:
        missing = [p for p in PARTS if p != "head" and p not in self.clothing_bgr]
        if missing:
            raise ValueError(f"Appearance needs clothing colours for {missing}")

    @classmethod
    def random(cls, rng: np.random.Generator) -> Appearance:
        """A plausible random person: contrasting top and bottom more often than not."""

        def pick() -> tuple[int, int, int]:
            base = np.array(CLOTHING_BGR[rng.integers(len(CLOTHING_BGR))], float)
            return tuple(int(v) for v in np.clip(base * rng.uniform(0.8, 1.2) + rng.normal(0, 10, 3), 0, 255))

        top, bottom = pick(), pick()
        shoes = tuple(int(v) for v in (CLOTHING_BGR[rng.integers(5)] if rng.random() < 0.7 else pick()))
        return cls(
            clothing_bgr={"torso": top, "arms": top, "legs": bottom, "feet": shoes},
            skin_bgr=SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))],
            hair_bgr=HAIR_COLOURS_BGR[rng.integers(len(HAIR_COLOURS_BGR))],
            build=float(rng.uniform(0.85, 1.25)),
            short_sleeves=bool(rng.random() < 0.3),
            shorts=bool(rng.random() < 0.12),
        )


@dataclass(frozen=True)
class Lighting:
    """One directional light (camera frame: x right, y down, z forward, pointing towards the light)."""

    direction: tuple[float, float, float] = (-0.4, -0.7, -0.6)
    ambient: float = DEFAULT_AMBIENT
    diffuse: float = DEFAULT_DIFFUSE
    contact_shadow: float = DEFAULT_CONTACT_SHADOW  # darkening of the floor under each person (0 = none)

    @property
    def unit_direction(self) -> np.ndarray:
        d = np.asarray(self.direction, np.float32)
        return d / max(float(np.linalg.norm(d)), 1e-6)

    @classmethod
    def random(cls, rng: np.random.Generator) -> Lighting:
        azimuth = rng.uniform(-np.pi, np.pi)
        elevation = rng.uniform(0.3, 1.2)  # the light is mostly above
        direction = (
            float(np.cos(elevation) * np.sin(azimuth)),
            float(-np.sin(elevation)),
            float(-abs(np.cos(elevation) * np.cos(azimuth)) - 0.2),  # lit from the camera's side
        )
        return cls(
            direction,
            float(rng.uniform(0.35, 0.6)),
            float(rng.uniform(0.45, 0.8)),
            float(rng.uniform(0.15, 0.45)),
        )


@dataclass(frozen=True)
class CameraEffects:
    """What the camera adds: defocus blur, sensor noise, exposure and colour cast, vignetting, JPEG."""

    blur_sigma_px: float = 0.6
    noise_sigma: float = 3.0  # standard deviation of the sensor noise at mid-grey, 8-bit levels
    gain: float = 1.0  # exposure
    tint_bgr: tuple[float, float, float] = (1.0, 1.0, 1.0)  # white balance / colour cast
    vignetting: float = 0.15  # brightness lost in the corners
    jpeg_quality: int | None = None

    @classmethod
    def random(cls, rng: np.random.Generator) -> CameraEffects:
        return cls(
            blur_sigma_px=float(rng.uniform(0.0, 1.4)),
            noise_sigma=float(rng.uniform(0.5, 6.0)),
            gain=float(rng.uniform(0.75, 1.2)),
            tint_bgr=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)),
            vignetting=float(rng.uniform(0.0, 0.35)),
            jpeg_quality=int(rng.integers(40, 90)) if rng.random() < 0.5 else None,
        )


@dataclass(frozen=True)
class RenderStyle:
    """Everything about a clip's look that is not the people: background image, light, camera effects."""

    background_bgr: np.ndarray  # (H, W, 3) uint8, static for the clip
    lighting: Lighting = field(default_factory=Lighting)
    effects: CameraEffects = field(default_factory=CameraEffects)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) px."""
        return int(self.background_bgr.shape[1]), int(self.background_bgr.shape[0])

    @classmethod
    def random(
        cls,
        width: int,
        height: int,
        rng: np.random.Generator,
        kind: str | None = None,
        horizon_y: float | None = None,
    ) -> RenderStyle:
        return cls(
            make_background(width, height, rng, kind=kind, horizon_y=horizon_y),
            Lighting.random(rng),
            CameraEffects.random(rng),
        )


@dataclass
class RenderedFrame:
    """One rendered frame and its exact labels."""

    image_bgr: np.ndarray  # (H, W, 3) uint8
    patient_mask: np.ndarray  # (H, W) bool: pixels where the patient is the front-most surface
    boxes_px: np.ndarray  # (P, 4) x1, y1, x2, y2 of each person's drawn silhouette; NaN when out of frame
    visible_fraction: np.ndarray  # (P,) share of each silhouette not hidden by other people (0 if absent)


# --- backgrounds --------------------------------------------------------------------------------------

BACKGROUND_KINDS: tuple[str, ...] = ("room", "corridor", "outdoor")


def _smooth_noise(height: int, width: int, rng: np.random.Generator, cell_px: float) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: random values on a coarse grid, smoothly enlarged."""
    gh, gw = max(2, int(height / cell_px) + 2), max(2, int(width / cell_px) + 2)
    coarse = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _texture(height: int, width: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multi-scale texture (plaster, fabric, asphalt), multiplicative around 1."""
    t = np.zeros((height, width), np.float32)
    for cell, weight in ((height / 3, 0.5), (24.0, 0.3), (4.0, 0.2)):
        t += weight * _smooth_noise(height, width, rng, cell)
    return 1.0 + strength * t


def _random_colour(rng: np.random.Generator, low: int = 40, high: int = 230) -> np.ndarray:
    return rng.uniform(low, high, 3).astype(np.float32)


def _vertical_gradient(height: int, width: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    w = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to((1 - w) * top + w * bottom, (height, width, 3)).copy()


def _clutter(img: np.ndarray, rng: np.random.Generator, y_min: int, y_max: int, count: int) -> None:
    """Furniture-like boxes, frames and round things standing or hanging in the scene (in place)."""
    height, width = img.shape[:2]
    for _ in range(count):
        colour = _random_colour(rng, 20, 240)
        w = int(rng.uniform(0.03, 0.22) * width)
        h = int(rng.uniform(0.04, 0.3) * height)
        x = int(rng.uniform(-0.05, 1.0) * width)
        y = int(rng.uniform(y_min, max(y_min + 1, y_max - h)))
        shape = rng.integers(4)
        if shape == 0:  # cabinet / box with a darker side for volume
            cv2.rectangle(img, (x, y), (x + w, y + h), colour.tolist(), -1)
            cv2.rectangle(img, (x + int(0.8 * w), y), (x + w, y + h), (colour * 0.7).tolist(), -1)
        elif shape == 1:  # picture, window or poster with a frame
            cv2.rectangle(img, (x, y), (x + w, y + h), (colour * 0.5).tolist(), -1)
            inner = _random_colour(rng, 60, 250)
            cv2.rectangle(img, (x + 4, y + 4), (x + w - 4, y + h - 4), inner.tolist(), -1)
        elif shape == 2:  # plant, lamp, bin: an ellipse on a stem
            cv2.line(
                img, (x + w // 2, y + h), (x + w // 2, y + h // 2), (colour * 0.5).tolist(), max(2, w // 12)
            )
            cv2.ellipse(img, (x + w // 2, y + h // 3), (w // 2, h // 3), 0, 0, 360, colour.tolist(), -1)
        else:  # table: a top and two legs
            cv2.rectangle(img, (x, y), (x + w, y + max(3, h // 8)), colour.tolist(), -1)
            for lx in (x + 3, x + w - 6):
                cv2.rectangle(img, (lx, y), (lx + 3, y + h), (colour * 0.6).tolist(), -1)


def make_background(
    width: int,
    height: int,
    rng: np.random.Generator,
    kind: str | None = None,
    horizon_y: float | None = None,
) -> np.ndarray:
    """A procedural static background (H, W, 3) uint8: ``room``, ``corridor`` or ``outdoor``.

    ``horizon_y`` (px) puts the wall/floor or sky/ground line where the scene's camera has it.
    """
    kind = kind or BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))]
    if kind not in BACKGROUND_KINDS:
        raise ValueError(f"unknown background kind {kind!r}; choose from {BACKGROUND_KINDS}")
    horizon = int(horizon_y if horizon_y is not None else rng.uniform(0.35, 0.65) * height)
    horizon = int(np.clip(horizon, 0, height))
    if kind == "room":
        wall = _random_colour(rng, 120, 240)
        img = _vertical_gradient(height, width, wall * rng.uniform(0.8, 1.05), wall * rng.uniform(0.85, 1.1))
        img *= _texture(height, width, rng, 0.05)[..., None]
        floor = _random_colour(rng, 50, 200)
        floor_img = _vertical_gradient(height, width, floor * 0.8, floor * 1.1)
        floor_img *= _texture(height, width, rng, 0.12)[..., None]
        img[horizon:] = floor_img[horizon:]
        if rng.random() < 0.6:  # floor tiles in perspective towards a vanishing point on the horizon
            vx = rng.uniform(0.2, 0.8) * width
            for x in np.linspace(-width, 2 * width, int(rng.integers(8, 20))):
                cv2.line(img, (int(vx), horizon), (int(x), height), (floor * 0.7).tolist(), 1, cv2.LINE_AA)
        _clutter(img, rng, int(0.05 * height), horizon + int(0.1 * height), int(rng.integers(2, 8)))
        cv2.line(img, (0, horizon), (width, horizon), (wall * 0.5).tolist(), max(2, height // 120))
    elif kind == "corridor":
        wall = _random_colour(rng, 110, 230)
        img = np.empty((height, width, 3), np.float32)
        img[:] = wall
        img *= _texture(height, width, rng, 0.06)[..., None]
        vx, vy = rng.uniform(0.35, 0.65) * width, horizon
        half_w, half_h = rng.uniform(0.1, 0.2) * width, rng.uniform(0.1, 0.2) * height
        far = np.array(
            [
                [vx - half_w, vy - half_h],
                [vx + half_w, vy - half_h],
                [vx + half_w, vy + half_h],
                [vx - half_w, vy + half_h],
            ]
        )
        floor_poly = np.array([[0, height], [width, height], far[2], far[3]], np.int32)
        ceiling_poly = np.array([[0, 0], [width, 0], far[1], far[0]], np.int32)
        cv2.fillPoly(img, [floor_poly], (_random_colour(rng, 60, 190)).tolist())
        cv2.fillPoly(img, [ceiling_poly], (wall * 1.1).clip(0, 255).tolist())
        cv2.fillPoly(img, [np.array([[0, 0], far[0], far[3], [0, height]], np.int32)], (wall * 0.85).tolist())
        cv2.rectangle(img, far[0].astype(int), far[2].astype(int), (wall * 0.7).tolist(), -1)
        for _ in range(int(rng.integers(2, 6))):  # doors along the side walls
            s = rng.uniform(0.1, 0.8)
            side = rng.integers(2)
            x0 = (1 - s) * (0 if side == 0 else width) + s * far[0 if side == 0 else 1, 0]
            x1 = (1 - s - 0.08) * (0 if side == 0 else width) + (s + 0.08) * far[0 if side == 0 else 1, 0]
            top = (1 - s) * 0.1 * height + s * far[0, 1]
            bottom = (1 - s) * height + s * far[3, 1]
            door = np.array([[x0, top], [x1, top], [x1, bottom], [x0, bottom]], np.int32)
            cv2.fillPoly(img, [door], _random_colour(rng, 30, 200).tolist())
        img *= _texture(height, width, rng, 0.05)[..., None]
    else:  # outdoor
        sky = np.array([rng.uniform(180, 250), rng.uniform(150, 220), rng.uniform(100, 200)], np.float32)
        img = _vertical_gradient(height, width, sky * 0.9, np.minimum(sky * 1.15, 255))
        for _ in range(int(rng.integers(3, 12))):  # trees / bushes along the horizon
            x = int(rng.uniform(0, width))
            r = int(rng.uniform(0.03, 0.12) * height)
            green = np.array([rng.uniform(20, 80), rng.uniform(70, 150), rng.uniform(30, 90)])
            cv2.rectangle(img, (x - r // 8, horizon - r), (x + r // 8, horizon), (40, 60, 80), -1)
            cv2.circle(img, (x, horizon - r - r // 2), r, green.tolist(), -1)
        ground = np.array([rng.uniform(60, 150)] * 3, np.float32) + rng.normal(0, 15, 3).astype(np.float32)
        ground_img = _vertical_gradient(height, width, ground * 0.85, ground * 1.1)
        ground_img *= _texture(height, width, rng, 0.15)[..., None]
        img[horizon:] = ground_img[horizon:]
        if rng.random() < 0.5:  # painted lines on a path or road
            y = int(rng.uniform(horizon, height))
            cv2.line(img, (0, y), (width, y + int(rng.uniform(-0.1, 0.1) * height)), (220, 220, 220), 3)
        _clutter(img, rng, horizon - int(0.2 * height), horizon + int(0.2 * height), int(rng.integers(0, 4)))
    return np.clip(img, 0, 255).astype(np.uint8)


# --- figures -------------------------------------------------------------------------------------------


@dataclass
class _Capsule:
    """A capsule in camera space (metres) with its material; ``kind`` 'eye' marks are flat dark discs."""

    a: np.ndarray  # (3,)
    b: np.ndarray  # (3,)
    radius_m: float
    colour_bgr: np.ndarray  # (3,) float32
    person: int
    radius_b_m: float | None = None  # radius at ``b`` when the capsule tapers (default: ``radius_m``)


def project_joints(
    joints_m: np.ndarray, project: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """World joints ``(..., 3)`` -> ``(uv_px (..., 2), depth_m (...))`` through a pinhole ``project``."""
    joints_m = np.asarray(joints_m, float)
    uv, depth = project(joints_m.reshape(-1, 3))
    return np.asarray(uv, float).reshape(*joints_m.shape[:-1], 2), np.asarray(depth, float).reshape(
        joints_m.shape[:-1]
    )


def _camera_points(
    uv_px: np.ndarray, depth_m: np.ndarray, focal_px: float, principal_px: tuple[float, float]
) -> np.ndarray:
    """Pixels + depth -> camera-space points (metres; x right, y down, z forward)."""
    centred = uv_px - np.asarray(principal_px, float)
    return np.concatenate([centred * depth_m[..., None] / focal_px, depth_m[..., None]], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def _person_capsules(points: np.ndarray, appearance: Appearance, person: int) -> list[_Capsule]:
    """The capsules of one body (camera-space joints (J, 3))."""
    col = {part: np.asarray(c, np.float32) for part, c in appearance.clothing_bgr.items()}
    skin = np.asarray(appearance.skin_bgr, np.float32)
    g = appearance.build
    caps: list[_Capsule] = []
    head_radius = 0.085
    for a, b, radius, part in LIMBS:
        if part == "head":
            head_radius = radius
            continue
        colour = col[part]
        if part == "arms" and appearance.short_sleeves and "elbow" in a:
            colour = skin
        if part == "legs" and appearance.shorts and "knee" in a:
            colour = skin
        if (a, b) == ("neck", "pelvis"):
            # The trunk: its rounded top should end just above the shoulder line (leaving the neck
            # visible), and it narrows from chest to waist.
            top, bottom = points[J[a]], points[J[b]]
            drop = (radius * g - TRUNK_TOP_ABOVE_SHOULDERS_M) / max(float(np.linalg.norm(bottom - top)), 1e-6)
            top = top + (bottom - top) * max(0.0, drop)
            caps.append(_Capsule(top, bottom, radius * g, colour, person, radius * g * WAIST_TO_CHEST))
            continue
        caps.append(_Capsule(points[J[a]], points[J[b]], radius * g, colour, person))
    ear_mid = (points[J["left_ear"]] + points[J["right_ear"]]) / 2
    up = _unit(points[J["head_top"]] - ear_mid)
    neck = points[J["neck"]]
    caps.append(_Capsule(neck, ear_mid - up * HEAD_BELOW_EARS_M, NECK_RADIUS_M * g, skin, person))
    # Face: a vertical capsule whose top reaches head_top; chin below the ear line.
    top_centre = points[J["head_top"]] - up * head_radius
    chin_centre = ear_mid - up * HEAD_BELOW_EARS_M
    caps.append(_Capsule(chin_centre, top_centre, head_radius, skin, person))
    # Hair: a sphere shifted back (away from the nose) and up, so it caps the skull and covers the back.
    back = _unit(ear_mid - points[J["nose"]])
    hair_centre = top_centre + (back + up) * HAIR_BACK_SHIFT * head_radius
    hair = np.asarray(appearance.clothing_bgr.get("head", appearance.hair_bgr), np.float32)
    caps.append(_Capsule(hair_centre, hair_centre, head_radius * HAIR_RADIUS_SCALE, hair, person))
    for side in ("left", "right"):
        wrist, elbow = points[J[f"{side}_wrist"]], points[J[f"{side}_elbow"]]
        hand_end = wrist + _unit(wrist - elbow) * HAND_LENGTH_M
        caps.append(_Capsule(wrist, hand_end, HAND_RADIUS_M * g, skin, person))
    return caps


def _face_marks(points: np.ndarray, person: int) -> list[_Capsule]:
    """Eyes and mouth on the head's surface, only where the face turns towards the camera (at the origin)."""
    ear_mid = (points[J["left_ear"]] + points[J["right_ear"]]) / 2
    nose = points[J["nose"]]
    facing = float(np.dot(_unit(nose - ear_mid), _unit(-ear_mid)))
    if facing < FACE_VISIBLE_COS:
        return []
    head_radius = next(r for a, b, r, part in LIMBS if part == "head")

    def on_surface(point: np.ndarray) -> np.ndarray:
        return ear_mid + _unit(point - ear_mid) * head_radius

    marks = [
        _Capsule(
            on_surface(points[J[f"{side}_eye"]]),
            on_surface(points[J[f"{side}_eye"]]),
            EYE_RADIUS_M,
            EYE_BGR,
            person,
        )
        for side in ("left", "right")
    ]
    eye_mid = (points[J["left_eye"]] + points[J["right_eye"]]) / 2
    mouth = on_surface(nose + (nose - eye_mid) * 1.2)
    across = (points[J["left_eye"]] - points[J["right_eye"]]) * 0.3
    marks.append(_Capsule(mouth - across, mouth + across, EYE_RADIUS_M * 0.6, MOUTH_BGR, person))
    return marks


class _Canvas:
    """Colour, depth and person-id buffers of one frame, and the capsule rasteriser that fills them."""

    def __init__(
        self,
        background: np.ndarray,
        n_people: int,
        focal_px: float,
        principal_px: tuple[float, float],
        lighting: Lighting,
    ) -> None:
        self.height, self.width = background.shape[:2]
        self.cx, self.cy = float(principal_px[0]), float(principal_px[1])
        self.colour = background.astype(np.float32)
        self.depth = np.full((self.height, self.width), np.inf, np.float32)
        self.owner = np.full((self.height, self.width), -1, np.int16)
        self.silhouettes = np.zeros((n_people, self.height, self.width), bool)
        self.focal = focal_px
        self.light = lighting.unit_direction
        self.ambient = lighting.ambient
        self.diffuse = lighting.diffuse
        self.contact_shadow = lighting.contact_shadow

    def shadow(self, points: np.ndarray, person_radius_m: float) -> None:
        """Darken a soft ellipse where the body meets the floor (a contact shadow)."""
        feet = points[[J["left_heel"], J["right_heel"], J["left_toe"], J["right_toe"]]]
        if self.contact_shadow <= 0 or np.any(feet[:, 2] < NEAR_CLIP_M):
            return
        centre = feet.mean(axis=0)
        u, v = centre[:2] * self.focal / centre[2]
        u, v = u + self.cx, v + self.cy
        rx = person_radius_m * self.focal / centre[2]
        ry = max(2.0, rx * 0.22)
        x0, x1 = int(max(0, u - 2 * rx)), int(min(self.width, u + 2 * rx + 1))
        y0, y1 = int(max(0, v - 3 * ry)), int(min(self.height, v + 3 * ry + 1))
        if x1 <= x0 or y1 <= y0:
            return
        xx = (np.arange(x0, x1, dtype=np.float32) - u) / rx
        yy = (np.arange(y0, y1, dtype=np.float32)[:, None] - v) / ry
        shade = 1.0 - self.contact_shadow * np.exp(-(xx**2 + yy**2) * 1.5)
        self.colour[y0:y1, x0:x1] *= shade[..., None]

    def draw(self, cap: _Capsule, flat: bool = False) -> None:
        za, zb = float(cap.a[2]), float(cap.b[2])
        if min(za, zb) < NEAR_CLIP_M:
            return
        ua = cap.a[:2] * self.focal / za + (self.cx, self.cy)
        ub = cap.b[:2] * self.focal / zb + (self.cx, self.cy)
        radius_b_m = cap.radius_m if cap.radius_b_m is None else cap.radius_b_m
        ra, rb = cap.radius_m * self.focal / za, radius_b_m * self.focal / zb
        pad = max(ra, rb) + 1.0
        x0 = int(np.floor(max(0.0, min(ua[0], ub[0]) - pad)))
        x1 = int(np.ceil(min(self.width, max(ua[0], ub[0]) + pad + 1)))
        y0 = int(np.floor(max(0.0, min(ua[1], ub[1]) - pad)))
        y1 = int(np.ceil(min(self.height, max(ua[1], ub[1]) + pad + 1)))
        if x1 <= x0 or y1 <= y0:
            return
        dx = np.arange(x0, x1, dtype=np.float32) + 0.5 - np.float32(ua[0])
        dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - np.float32(ua[1]))[:, None]
        ex, ey = np.float32(ub[0] - ua[0]), np.float32(ub[1] - ua[1])
        length2 = float(ex * ex + ey * ey)
        if length2 > 1e-6:
            t = np.clip((dx * ex + dy * ey) / np.float32(length2), 0.0, 1.0)
        else:
            t = np.zeros((y1 - y0, x1 - x0), np.float32)
        px = dx - t * ex
        py = dy - t * ey
        dist = np.sqrt(px * px + py * py)
        radius = np.float32(ra) + t * np.float32(rb - ra)
        coverage = np.clip(radius - dist + 0.5, 0.0, 1.0)
        inside = coverage > 0
        if not inside.any():
            return
        s = np.clip(dist / np.maximum(radius, 1e-3), 0.0, 1.0)
        bulge = np.sqrt(1.0 - s * s)
        radius_m = np.float32(cap.radius_m) + t * np.float32(radius_b_m - cap.radius_m)
        z = np.float32(za) + t * np.float32(zb - za) - radius_m * bulge
        region = (slice(y0, y1), slice(x0, x1))
        front = inside & (z < self.depth[region])
        self.silhouettes[cap.person][region] |= coverage >= 0.5
        if not front.any():
            return
        if flat:
            shade = np.ones_like(s)
        else:
            inv = 1.0 / np.maximum(dist, 1e-3)
            normal_dot = (
                (px * inv * s) * self.light[0] + (py * inv * s) * self.light[1] - bulge * self.light[2]
            )
            shade = self.ambient + self.diffuse * np.maximum(normal_dot, 0.0)
            # Less ambient light reaches surfaces that turn away from the viewer (the silhouette's rim).
            shade = shade * (1.0 - RIM_DARKENING * (1.0 - bulge))
        alpha = np.where(front, coverage, 0.0)[..., None]
        colour = cap.colour_bgr[None, None, :] * shade[..., None]
        self.colour[region] = self.colour[region] * (1 - alpha) + colour * alpha
        solid = front & (coverage >= 0.5)
        self.depth[region] = np.where(solid, z, self.depth[region])
        self.owner[region] = np.where(solid, np.int16(cap.person), self.owner[region])


@lru_cache(maxsize=8)
def _exposure_map(height: int, width: int, effects: CameraEffects) -> np.ndarray:
    """(H, W, 3) float32 gain per pixel: exposure x colour cast x vignetting (fixed for a clip)."""
    yy = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    falloff = 1.0 - np.float32(effects.vignetting) * 0.5 * (xx * xx + yy * yy)
    gain = np.float32(effects.gain) * np.asarray(effects.tint_bgr, np.float32)
    return np.ascontiguousarray(falloff[..., None] * gain[None, None, :], dtype=np.float32)


def _apply_camera(image: np.ndarray, effects: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """Camera pipeline on a float BGR image: blur, exposure and tint, vignetting, noise, 8-bit, JPEG."""
    if effects.blur_sigma_px > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), effects.blur_sigma_px)
    height, width = image.shape[:2]
    image = cv2.multiply(image, _exposure_map(height, width, effects))
    if effects.noise_sigma > 0:
        # Shot noise grows with brightness: sigma ~ sqrt(level), equal to noise_sigma at mid-grey (128).
        sigma = cv2.sqrt(cv2.max(image, 1.0)) * np.float32(effects.noise_sigma / np.sqrt(128.0))
        image = cv2.add(image, cv2.multiply(sigma, rng.standard_normal(image.shape, dtype=np.float32)))
    out = cv2.convertScaleAbs(cv2.max(image, 0.0))  # rounded and saturated to 0-255
    if effects.jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(effects.jpeg_quality)])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def render_frame(
    uv_px: np.ndarray,
    depth_m: np.ndarray,
    focal_px: float,
    appearances: Sequence[Appearance],
    style: RenderStyle,
    patient: int | None = 0,
    rng: np.random.Generator | None = None,
    principal_px: tuple[float, float] | None = None,
) -> RenderedFrame:
    """Draw P people (``uv_px (P, J, 2)``, ``depth_m (P, J)``, J = len(BODY_JOINTS)) over the background.

    ``patient`` is the person index whose mask is returned (``None``: an empty mask). ``rng`` draws the
    camera noise (default: a fixed seed, so the same inputs give the same frame). ``principal_px`` is the
    camera's principal point (default: the image centre); it only matters for shading and face direction.
    """
    uv_px = np.asarray(uv_px, float)
    depth_m = np.asarray(depth_m, float)
    if uv_px.ndim != 3 or uv_px.shape[1:] != (N_BODY_JOINTS, 2) or depth_m.shape != uv_px.shape[:2]:
        raise ValueError(
            f"expected uv_px (P, {N_BODY_JOINTS}, 2) and depth_m (P, {N_BODY_JOINTS}); "
            f"got {uv_px.shape} and {depth_m.shape}"
        )
    n_people = uv_px.shape[0]
    if len(appearances) != n_people:
        raise ValueError(f"{n_people} people but {len(appearances)} appearances")
    rng = rng if rng is not None else np.random.default_rng(0)
    width, height = style.size
    principal = principal_px if principal_px is not None else (width / 2, height / 2)
    canvas = _Canvas(style.background_bgr, n_people, focal_px, principal, style.lighting)
    points = _camera_points(uv_px, depth_m, focal_px, principal)
    finite = np.isfinite(points).all(axis=(1, 2))
    for p in range(n_people):
        if finite[p]:
            canvas.shadow(points[p], 0.25 * appearances[p].build)
    for p in range(n_people):
        if not finite[p]:
            continue
        for cap in _person_capsules(points[p], appearances[p], p):
            canvas.draw(cap)
        for mark in _face_marks(points[p], p):
            canvas.draw(mark, flat=True)
    image = _apply_camera(canvas.colour, style.effects, rng)
    boxes = np.full((n_people, 4), np.nan, np.float32)
    visible = np.zeros(n_people, np.float32)
    for p in range(n_people):
        sil = canvas.silhouettes[p]
        rows, cols = np.flatnonzero(sil.any(axis=1)), np.flatnonzero(sil.any(axis=0))
        if len(rows) == 0:
            continue
        boxes[p] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        visible[p] = float((canvas.owner == p).sum()) / float(sil.sum())
    mask = canvas.owner == patient if patient is not None else np.zeros(canvas.owner.shape, bool)
    return RenderedFrame(image, mask, boxes, visible)


def render_clip(
    uv_px: np.ndarray,
    depth_m: np.ndarray,
    focal_px: float,
    appearances: Sequence[Appearance],
    style: RenderStyle,
    patient: int | None = 0,
    rng: np.random.Generator | None = None,
    principal_px: tuple[float, float] | None = None,
) -> Iterator[RenderedFrame]:
    """Frames of a clip, one at a time: ``uv_px (T, P, J, 2)``, ``depth_m (T, P, J)``.

    People who are absent in a frame can be given NaN coordinates there.
    """
    uv_px = np.asarray(uv_px)
    depth_m = np.asarray(depth_m)
    if uv_px.ndim != 4 or depth_m.shape != uv_px.shape[:3]:
        raise ValueError(
            f"expected uv_px (T, P, J, 2) and depth_m (T, P, J); got {uv_px.shape}, {depth_m.shape}"
        )
    rng = rng if rng is not None else np.random.default_rng(0)
    for t in range(uv_px.shape[0]):
        yield render_frame(uv_px[t], depth_m[t], focal_px, appearances, style, patient, rng, principal_px)


def render_joints(
    joints_m: np.ndarray,
    project: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    focal_px: float,
    appearances: Sequence[Appearance],
    style: RenderStyle,
    patient: int | None = 0,
    rng: np.random.Generator | None = None,
    principal_px: tuple[float, float] | None = None,
) -> Iterator[RenderedFrame]:
    """:func:`render_clip` for world joints ``(T, P, J, 3)`` seen through a pinhole ``project``."""
    uv_px, depth_m = project_joints(joints_m, project)
    return render_clip(uv_px, depth_m, focal_px, appearances, style, patient, rng, principal_px)


# --- the motion lab's dataset hook ------------------------------------------------------------------------

RENDER_STREAM = 0x52454E44  # "REND": the renderer's own random stream, derived from the scene's seed


def horizon_y(camera) -> float | None:
    """Image row of the horizon (where the floor meets the sky or far wall) for a level world, if visible."""
    forward = np.asarray(camera.rotation, float)[2]
    level = np.array([forward[0], forward[1], 0.0])
    if np.linalg.norm(level) < 1e-6:
        return None  # looking straight down: no horizon
    far = np.asarray(camera.position_m, float) + 1e4 * level / np.linalg.norm(level)
    uv, depth = camera.project(far[None])
    v = float(np.asarray(uv).reshape(-1, 2)[0, 1])
    return v if np.isfinite(v) and float(np.asarray(depth).reshape(-1)[0]) > 0 else None


def render_video(clip, path: str | Path, rng: np.random.Generator | None = None) -> Path:
    """Film a simulated scene (:class:`core.synth.scene.SceneClip`) as a video with its pixel labels.

    Writes the frames through the project's video writer (:class:`core.video.AnnotatedVideoWriter`, WebM)
    and, beside them, ``<name>_labels.npz``: ``patient_mask_bits`` (the patient's masks, ``np.packbits``
    of the (T, H, W) booleans), ``mask_shape``, ``boxes_px (T, P, 4)`` and ``visible_fraction (T, P)``.
    Person 0 is the patient. Returns the video's path.
    """
    from core.video import AnnotatedVideoWriter, OutputSize

    camera = clip.camera
    rng = rng if rng is not None else np.random.default_rng([int(clip.seed), RENDER_STREAM])
    style = RenderStyle.random(camera.width_px, camera.height_px, rng, horizon_y=horizon_y(camera))
    appearances = [Appearance.random(rng) for _ in clip.people]
    frames = render_joints(
        clip.joints_m, camera.project, camera.focal_px, appearances, style, 0, rng, camera.principal
    )
    # even sizes: VP8 needs them, and the writer would otherwise resize (and the masks would not match)
    size = OutputSize(camera.width_px // 2 * 2, camera.height_px // 2 * 2)
    masks, boxes, visible = [], [], []
    with AnnotatedVideoWriter(path, clip.fps, size) as writer:
        for frame in frames:
            image = frame.image_bgr[: size.height, : size.width]
            writer.write(image)
            masks.append(np.packbits(frame.patient_mask[: size.height, : size.width]))
            boxes.append(frame.boxes_px)
            visible.append(frame.visible_fraction)
    labels = Path(writer.path).with_name(Path(writer.path).stem + "_labels.npz")
    np.savez_compressed(
        labels,
        patient_mask_bits=np.stack(masks) if masks else np.zeros((0, 0), np.uint8),
        mask_shape=np.array([len(masks), size.height, size.width]),
        boxes_px=np.stack(boxes) if boxes else np.zeros((0, len(clip.people), 4), np.float32),
        visible_fraction=np.stack(visible) if visible else np.zeros((0, len(clip.people)), np.float32),
    )
    return Path(writer.path)


def load_patient_masks(labels_path: str | Path) -> np.ndarray:
    """(T, H, W) bool patient masks from a ``_labels.npz`` written by :func:`render_video`."""
    with np.load(labels_path) as data:
        frames, height, width = (int(v) for v in data["mask_shape"])
        bits = data["patient_mask_bits"]
    return np.unpackbits(bits, axis=1, count=height * width).reshape(frames, height, width).astype(bool)


def measure_detection_rate(
    clips_per_view: int = 4,
    frames_per_clip: int = 8,
    imgsz: int = 640,
    seed: int = 0,
    detect: Callable[[list[np.ndarray]], list] | None = None,
) -> dict:
    """How often the pose model finds rendered people, by their height in network-input pixels and view.

    Scenes come from the lab itself (a walking patient, one bystander, every camera view of
    :func:`core.synth.camera.camera_for_view`); a person counts as found when a detection overlaps their
    drawn box with IoU >= 0.5. Only people fully in the picture and at least 90 % unhidden are counted.
    ``detect(images) -> list[FramePoses]`` defaults to YOLO11n-pose through :mod:`core.pose`.
    """
    from core.synth.body import Body
    from core.synth.camera import VIEWS, camera_for_view
    from core.synth.scene import Person, bystander, film
    from core.synth.walker import sample_gait, walk
    from core.tracking import iou_matrix

    if detect is None:
        from core.pose import PoseEstimator, PoseSettings

        estimator = PoseEstimator(PoseSettings(imgsz=imgsz))

        def detect(images: list[np.ndarray]) -> list:
            return estimator.predict(images, list(range(len(images))))

    rng = np.random.default_rng(seed)
    edges = (0.0, 50.0, 75.0, 100.0, 150.0, 250.0, 400.0, 10_000.0)
    rows = []  # (view index, input height, found, keypoint error % box height)
    for v, view in enumerate(VIEWS):
        for _ in range(clips_per_view):
            body = Body.sample(rng)
            motion = walk(sample_gait("normal", body, rng), body, 4.0, 10.0, rng)[0]
            camera = camera_for_view(view, motion, rng)
            people = [Person(motion, "patient", "walk")]
            other = bystander(str(rng.choice(["stand", "walk", "cross"])), motion, camera, rng)
            if other is not None:
                people.append(other)
            clip = film(camera, people)
            picked = np.sort(rng.choice(clip.frames, size=min(frames_per_clip, clip.frames), replace=False))
            joints = clip.joints_m[picked]
            style = RenderStyle.random(camera.width_px, camera.height_px, rng, horizon_y=horizon_y(camera))
            apps = [Appearance.random(rng) for _ in people]
            frames = list(
                render_joints(joints, camera.project, camera.focal_px, apps, style, 0, rng, camera.principal)
            )
            found = detect([f.image_bgr for f in frames])
            for t, (frame, poses) in enumerate(zip(frames, found, strict=True)):
                for p, box in enumerate(frame.boxes_px):
                    if not np.isfinite(box).all() or frame.visible_fraction[p] < 0.9:
                        continue
                    if (
                        box[0] <= 1
                        or box[1] <= 1
                        or box[2] >= camera.width_px - 1
                        or box[3] >= camera.height_px - 1
                    ):
                        continue
                    height_in = (box[3] - box[1]) * imgsz / max(camera.width_px, camera.height_px)
                    iou = iou_matrix(box[None], poses.boxes)[0]
                    hit = len(iou) > 0 and iou.max() >= 0.5
                    error = np.nan
                    if hit:
                        kp = poses.keypoints[int(iou.argmax())]
                        ok = kp[:, 2] >= 0.5
                        truth = clip.keypoints_px[picked[t], p]
                        if ok.any():
                            error = float(np.median(np.linalg.norm(kp[ok, :2] - truth[ok], axis=1)))
                            error = 100 * error / (box[3] - box[1])
                    rows.append((v, height_in, hit, error))
    data = np.array(rows, float).reshape(-1, 4)
    bins = np.clip(np.digitize(data[:, 1], edges) - 1, 0, len(edges) - 2)
    tall = data[:, 1] >= 100
    return {
        "imgsz": imgsz,
        "size_edges_input_px": list(edges),
        "found_by_size": [
            float(data[bins == b, 2].mean()) if (bins == b).any() else None for b in range(len(edges) - 1)
        ],
        "people_by_size": [int((bins == b).sum()) for b in range(len(edges) - 1)],
        "found_by_view_100px": {
            view: float(data[tall & (data[:, 0] == v), 2].mean())
            if (tall & (data[:, 0] == v)).any()
            else None
            for v, view in enumerate(VIEWS)
        },
        "keypoint_error_pct_median": float(np.nanmedian(data[:, 3]))
        if np.isfinite(data[:, 3]).any()
        else None,
    }
