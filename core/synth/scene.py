"""What does the camera see of the patient and the people around them, joint by joint?

A scene is one camera and several simulated people: the patient (always index 0) and bystanders who
stand, walk about, cross the picture or walk between the camera and the patient. :func:`film` projects
every person's COCO-17 joints and decides, per frame and joint, whether the camera could see it:

- ``in_frame``: in front of the camera and inside the image;
- ``occluded``: hidden behind a body part that is nearer the camera - another person's, or the person's
  own (the far arm behind the trunk in a side view, the face when walking away). Body parts are the
  capsules of :data:`~core.synth.skeleton.LIMBS` scaled to each person's height.

The result, :class:`SceneClip`, is what the pose-noise model and the renderer start from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.synth.body import REFERENCE_HEIGHT_M, Body, Motion
from core.synth.camera import MIN_DEPTH_M, Camera
from core.synth.postures import stand_still
from core.synth.skeleton import LIMBS, J
from core.synth.walker import sample_gait, walk
from core.types import N_KEYPOINTS

BEHAVIOURS = ("stand", "walk", "cross", "occlude")
MIN_CLEARANCE_M = 0.7  # bystanders never come closer than this to the patient (pelvis to pelvis)
_LIMB_INDEX = np.array([[J[a], J[b]] for a, b, _r, _p in LIMBS])
_LIMB_RADIUS_M = np.array([r for _a, _b, r, _p in LIMBS])
# (17, limbs) whether a keypoint is an end of a limb: its own limbs never hide it.
_OWN_LIMBS = np.array([[k in pair for pair in _LIMB_INDEX.tolist()] for k in range(N_KEYPOINTS)])


@dataclass
class Person:
    """One simulated person in the scene, in world coordinates."""

    motion: Motion
    role: str  # "patient" or "bystander"
    behaviour: str  # the patient's activity, or one of BEHAVIOURS


@dataclass
class SceneClip:
    """The camera's view of everyone, frame by frame. People: index 0 is the patient."""

    camera: Camera
    people: list[Person]
    fps: float
    keypoints_px: np.ndarray  # (T, P, 17, 2) float32, NaN where behind the camera
    depth_m: np.ndarray  # (T, P, 17) along the optical axis
    in_frame: np.ndarray  # (T, P, 17) bool
    occluded: np.ndarray  # (T, P, 17) bool: behind a nearer body part (someone else's or their own)
    boxes_px: np.ndarray  # (T, P, 4) x1, y1, x2, y2 of the whole body clipped to the image; NaN when unseen
    seed: int = 0  # for the renderer and pose-noise model to draw their own randomness reproducibly
    meta: dict = field(default_factory=dict)

    @property
    def visible(self) -> np.ndarray:
        """(T, P, 17) joints the camera actually sees."""
        return self.in_frame & ~self.occluded

    @property
    def frames(self) -> int:
        return len(self.keypoints_px)

    @property
    def joints_m(self) -> np.ndarray:
        """(T, P, J, 3) world positions of every body joint, for the renderer."""
        return np.stack([p.motion.joints_m for p in self.people], axis=1)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(p.role for p in self.people)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything array-shaped, ready for ``np.savez``."""
        return {
            "keypoints_px": self.keypoints_px.astype(np.float32),
            "visible": self.visible,
            "in_frame": self.in_frame,
            "occluded": self.occluded,
            "depth_m": self.depth_m.astype(np.float32),
            "boxes_px": self.boxes_px.astype(np.float32),
            "joints_m": self.joints_m.astype(np.float32),
            "heights_cm": np.array([p.motion.body.height_cm for p in self.people], dtype=np.float32),
            "roles": np.array(self.roles),
            "behaviours": np.array([p.behaviour for p in self.people]),
            "camera_intrinsics": self.camera.intrinsics,
            "camera_rotation": self.camera.rotation,
            "camera_translation_m": self.camera.translation,
            "image_size_px": np.array([self.camera.width_px, self.camera.height_px]),
            "fps": np.array(self.fps),
        }


def film(camera: Camera, people: list[Person], seed: int = 0) -> SceneClip:
    """Project everyone through ``camera`` and work out which joints it can see."""
    if not people:
        raise ValueError("a scene needs at least the patient")
    frames, fps = people[0].motion.frames, people[0].motion.fps
    if any(p.motion.frames != frames or p.motion.fps != fps for p in people):
        raise ValueError("everyone in a scene must be simulated over the same frames")
    joints = np.stack([p.motion.joints_m for p in people], axis=1)  # (T, P, J, 3)
    uv, depth = camera.project(joints)
    seen = camera.sees(uv, depth)
    scale = np.array([p.motion.body.height_m / REFERENCE_HEIGHT_M for p in people])
    occluded = _occlusion(uv, depth, scale, camera.focal_px)
    return SceneClip(
        camera=camera,
        people=people,
        fps=fps,
        keypoints_px=uv[:, :, :N_KEYPOINTS].astype(np.float32),
        depth_m=depth[:, :, :N_KEYPOINTS],
        in_frame=seen[:, :, :N_KEYPOINTS],
        occluded=occluded,
        boxes_px=_boxes(uv, depth, seen, scale, camera),
        seed=seed,
    )


def _occlusion(uv: np.ndarray, depth: np.ndarray, scale: np.ndarray, focal_px: float) -> np.ndarray:
    """(T, P, 17) whether a nearer limb capsule covers each keypoint.

    Every keypoint is tested against every limb of everyone in every frame (T x 17P x 16P pairs); the
    image coordinates are kept as separate u and v arrays in float32, which is several times faster than
    reducing over a length-2 axis.
    """
    frames, people = uv.shape[:2]
    uv, depth = uv.astype(np.float32), depth.astype(np.float32)
    pu, pv = (uv[:, :, :N_KEYPOINTS, k].reshape(frames, -1, 1) for k in (0, 1))  # (T, Q, 1)
    point_depth = depth[:, :, :N_KEYPOINTS].reshape(frames, -1, 1)
    au, av, bu, bv = (uv[:, :, _LIMB_INDEX[:, e], k].reshape(frames, 1, -1) for e in (0, 1) for k in (0, 1))
    da, db = (depth[:, :, _LIMB_INDEX[:, e]].reshape(frames, 1, -1) for e in (0, 1))  # (T, 1, L)
    radius_m = (scale[:, None] * _LIMB_RADIUS_M[None, :]).reshape(1, 1, -1).astype(np.float32)

    abu, abv = bu - au, bv - av
    ru, rv = pu - au, pv - av  # (T, Q, L)
    s = np.clip((ru * abu + rv * abv) / np.maximum(abu * abu + abv * abv, 1e-9), 0.0, 1.0)
    gu, gv = ru - s * abu, rv - s * abv
    limb_depth = da + s * (db - da)
    with np.errstate(invalid="ignore", divide="ignore"):
        radius_px = radius_m * focal_px / limb_depth
        # The covered joint must lie behind the limb's axis by more than the two bodies' half-thickness.
        margin = 0.5 * (radius_m + 0.03 * np.repeat(scale, N_KEYPOINTS).reshape(1, -1, 1))
        covers = (gu * gu + gv * gv < radius_px * radius_px) & (limb_depth < point_depth - margin)
        covers &= np.minimum(da, db) > MIN_DEPTH_M
    # A joint is never hidden by the limbs it belongs to.
    covers &= ~np.kron(np.eye(people, dtype=bool), _OWN_LIMBS)[None]
    return covers.any(axis=-1).reshape(frames, people, N_KEYPOINTS)


def _boxes(uv, depth, seen, scale, camera: Camera) -> np.ndarray:
    """Whole-body boxes from all joints (plus a head's width of margin), clipped to the image."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pad = 0.1 * scale[None, :, None] * camera.focal_px / depth
    front = depth > MIN_DEPTH_M
    lo = np.where(front[..., None], uv - pad[..., None], np.inf).min(axis=2)
    hi = np.where(front[..., None], uv + pad[..., None], -np.inf).max(axis=2)
    boxes = np.concatenate([lo, hi], axis=-1)
    boxes[..., [0, 2]] = np.clip(boxes[..., [0, 2]], 0, camera.width_px)
    boxes[..., [1, 3]] = np.clip(boxes[..., [1, 3]], 0, camera.height_px)
    boxes[~seen.any(axis=2)] = np.nan
    return boxes


# --- bystanders -------------------------------------------------------------------------------------------


def _walker(rng: np.random.Generator, patient: Motion) -> Motion:
    """Someone walking for as long as the patient's clip, in their own path frame."""
    body = Body.sample(rng)
    params = sample_gait(str(rng.choice(["normal", "elderly"])), body, rng)
    return walk(params, body, patient.duration_s, patient.fps, rng)[0]


def _clear_of(patient: Motion, other: Motion) -> bool:
    gap = np.linalg.norm(patient.joint("pelvis")[:, :2] - other.joint("pelvis")[:, :2], axis=1)
    return bool(gap.min() >= MIN_CLEARANCE_M)


def _through(motion: Motion, point: np.ndarray, heading_deg: float, at_frame: int) -> Motion:
    """Place a walk (path frame) so its pelvis passes ``point`` at ``at_frame``, heading ``heading_deg``."""
    placed = motion.placed((0.0, 0.0), heading_deg)
    offset = point - placed.joint("pelvis")[at_frame, :2]
    return motion.placed(tuple(offset), heading_deg)


def bystander(behaviour: str, patient: Motion, camera: Camera, rng: np.random.Generator, tries: int = 20):
    """One bystander doing ``behaviour`` near the patient, or ``None`` if no placement keeps clear of them.

    stand: waits somewhere in view; walk: walks in any direction through the view; cross: walks across the
    picture, in front of or behind the patient; occlude: walks between the camera and the patient.
    """
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"behaviour must be one of {BEHAVIOURS}")
    cam = camera.position_m[:2]
    axis = camera.rotation[2, :2] / np.linalg.norm(camera.rotation[2, :2])
    across = np.array([-axis[1], axis[0]])
    patient_xy = patient.joint("pelvis")[:, :2]
    for _ in range(tries):
        if behaviour == "stand":
            body = Body.sample(rng)
            depth = rng.uniform(2.0, 9.0)
            spot = cam + depth * axis + rng.uniform(-0.4, 0.4) * depth * across
            motion = stand_still(body, patient.duration_s, patient.fps, rng).placed(
                tuple(spot), rng.uniform(0, 360)
            )
        else:
            motion = _walker(rng, patient)
            frame = int(rng.integers(patient.frames // 4, 3 * patient.frames // 4))
            if behaviour == "walk":
                depth = rng.uniform(2.0, 9.0)
                point = cam + depth * axis + rng.uniform(-0.3, 0.3) * depth * across
                heading = rng.uniform(0, 360)
            else:
                target = patient_xy[frame] - cam
                share = rng.uniform(0.35, 0.7) if behaviour == "occlude" else rng.uniform(0.3, 1.6)
                point = cam + share * target
                direction = across * rng.choice([-1, 1])
                heading = np.degrees(np.arctan2(direction[1], direction[0])) + rng.normal(0, 8)
            motion = _through(motion, point, heading, frame)
        if _clear_of(patient, motion):
            return Person(motion, "bystander", behaviour)
    return None
