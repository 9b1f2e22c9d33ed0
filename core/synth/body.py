"""How big is each part of a simulated person, and where are their joints for a given set of joint angles?

Every motion the lab makes (walking, falls, sitting, lying) ends as world positions of
:data:`~core.synth.skeleton.BODY_JOINTS`; this module holds the pieces they share:

- :class:`Body`: segment lengths from standing height with the anthropometric ratios of Winter
  (*Biomechanics and Motor Control of Human Movement*, 4th ed., 2009, fig. 4.1), so a 150 cm and a 195 cm
  subject have the same proportions unless a subject's ``leg_ratio`` says otherwise.
- :class:`Motion`: joint positions over time (metres, z up, ground at z = 0) and the frame rate.
- :func:`posed_joints`: forward kinematics from joint angles in degrees, used by the posture and fall
  choreographies; the walker places the feet itself and reuses the trunk, head and arm pieces.

Body frame: x forward, y to the person's left, z up. Positive angles: flexion brings a limb forward
(hip, shoulder), knee flexion folds the shank back, ankle dorsiflexion lifts the toes, abduction moves a
limb away from the midline, ``pitch`` tips the whole body forward, ``roll`` tips it to its right,
``trunk_lean`` bends the trunk to the right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from core.errors import InputError
from core.synth.skeleton import BODY_JOINTS, LIMBS, J
from core.types import N_KEYPOINTS

# Winter (2009) segment lengths as fractions of standing height.
ANKLE_HEIGHT = 0.039
SHANK = 0.246  # knee to ankle
THIGH = 0.245  # hip to knee
TRUNK = 0.288  # hip joint centre line to shoulder line
NECK_TO_HEAD_TOP = 0.182
UPPER_ARM = 0.186
FOREARM = 0.146
FOOT_LENGTH = 0.152
# Joint-centre widths are narrower than Winter's skin-surface breadths (0.191 H hips, 0.259 H shoulders):
# COCO keypoints sit on the joints, not on the outline.
HIP_WIDTH = 0.11
SHOULDER_WIDTH = 0.22
# Where the ankle sits along the foot, measured from the back of the heel.
HEEL_TO_ANKLE_SHARE = 0.22

# Face keypoints relative to the neck in the head frame (forward, left, up), fractions of height.
_FACE = {
    "nose": (0.058, 0.0, 0.088),
    "left_eye": (0.046, 0.018, 0.118),
    "right_eye": (0.046, -0.018, 0.118),
    "left_ear": (0.002, 0.043, 0.105),
    "right_ear": (0.002, -0.043, 0.105),
    "head_top": (0.010, 0.0, NECK_TO_HEAD_TOP),
}

REFERENCE_HEIGHT_M = 1.75  # LIMBS radii are given for this height
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 100.0, 230.0

# Joint angles understood by :func:`posed_joints` (degrees; any not given is 0 = upright standing).
ANGLE_NAMES: tuple[str, ...] = (
    "pitch",
    "roll",
    "yaw",
    "trunk_flexion",
    "trunk_lean",
    "trunk_twist",
    "head_flexion",
    *(
        f"{side}_{joint}"
        for side in ("left", "right")
        for joint in (
            "hip_flexion",
            "hip_abduction",
            "knee_flexion",
            "ankle_dorsiflexion",
            "toe_out",
            "shoulder_flexion",
            "shoulder_abduction",
            "elbow_flexion",
        )
    ),
)


@dataclass(frozen=True)
class Body:
    """One simulated person's size. ``leg_ratio`` scales the legs (the trunk takes up the difference)."""

    height_cm: float
    leg_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not MIN_HEIGHT_CM <= self.height_cm <= MAX_HEIGHT_CM:
            raise InputError(
                f"a simulated body must be {MIN_HEIGHT_CM:.0f}-{MAX_HEIGHT_CM:.0f} cm tall, "
                f"got {self.height_cm} cm"
            )
        if not 0.9 <= self.leg_ratio <= 1.1:
            raise InputError(f"leg_ratio must be 0.9-1.1, got {self.leg_ratio}")

    @classmethod
    def sample(cls, rng: np.random.Generator, height_cm: float | None = None) -> Body:
        """A random adult (150-195 cm unless given) with natural spread in leg length."""
        height = float(rng.uniform(150.0, 195.0)) if height_cm is None else float(height_cm)
        return cls(height_cm=round(height, 1), leg_ratio=float(np.clip(rng.normal(1.0, 0.02), 0.95, 1.05)))

    @property
    def height_m(self) -> float:
        return self.height_cm / 100.0

    @property
    def thigh_m(self) -> float:
        return THIGH * self.height_m * self.leg_ratio

    @property
    def shank_m(self) -> float:
        return SHANK * self.height_m * self.leg_ratio

    @property
    def ankle_height_m(self) -> float:
        return ANKLE_HEIGHT * self.height_m

    @property
    def leg_m(self) -> float:
        """Hip joint to ankle joint with the knee straight."""
        return self.thigh_m + self.shank_m

    @property
    def hip_height_m(self) -> float:
        """Hip joint height when standing upright."""
        return self.leg_m + self.ankle_height_m

    @property
    def trunk_m(self) -> float:
        """Pelvis to neck: whatever the legs, head and ankles leave of the height."""
        return self.height_m * (1.0 - NECK_TO_HEAD_TOP) - self.hip_height_m

    @property
    def hip_half_width_m(self) -> float:
        return HIP_WIDTH * self.height_m / 2

    @property
    def shoulder_half_width_m(self) -> float:
        return SHOULDER_WIDTH * self.height_m / 2

    @property
    def upper_arm_m(self) -> float:
        return UPPER_ARM * self.height_m

    @property
    def forearm_m(self) -> float:
        return FOREARM * self.height_m

    @property
    def foot_length_m(self) -> float:
        return FOOT_LENGTH * self.height_m

    @property
    def heel_to_ankle_m(self) -> np.ndarray:
        """Ankle joint relative to the back of the heel on the ground, in the foot frame."""
        return np.array([HEEL_TO_ANKLE_SHARE * self.foot_length_m, 0.0, self.ankle_height_m])

    def face_offsets_m(self) -> dict[str, np.ndarray]:
        """Face points and head top relative to the neck, in the head frame (forward, left, up)."""
        return {name: np.array(offset) * self.height_m for name, offset in _FACE.items()}

    def joint_radii_m(self) -> np.ndarray:
        """(J,) how far each joint's surface is from its centre: keeps a lying body above the floor."""
        scale = self.height_m / REFERENCE_HEIGHT_M
        radii = np.full(len(BODY_JOINTS), 0.03)
        for a, b, radius, _part in LIMBS:
            radii[J[a]] = max(radii[J[a]], radius * scale * 0.8)
            radii[J[b]] = max(radii[J[b]], radius * scale * 0.8)
        radii[J["pelvis"]] = 0.12 * scale
        for name in ("left_heel", "right_heel", "left_toe", "right_toe"):
            radii[J[name]] = 0.0  # the foot points are already on the sole
        return radii


@dataclass
class Motion:
    """A body moving: world positions of every :data:`BODY_JOINTS` joint in metres, z up, at ``fps``."""

    joints_m: np.ndarray  # (T, len(BODY_JOINTS), 3)
    fps: float
    body: Body
    activity: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.joints_m = np.asarray(self.joints_m, dtype=np.float64)
        if self.joints_m.ndim != 3 or self.joints_m.shape[1:] != (len(BODY_JOINTS), 3):
            raise ValueError(f"joints_m must be (T, {len(BODY_JOINTS)}, 3), got {self.joints_m.shape}")
        if self.fps <= 0:
            raise ValueError("fps must be positive")

    @property
    def frames(self) -> int:
        return len(self.joints_m)

    @property
    def time_s(self) -> np.ndarray:
        return np.arange(self.frames) / self.fps

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def keypoints_m(self) -> np.ndarray:
        """(T, 17, 3) the COCO-17 joints, what a pose model is asked to find."""
        return self.joints_m[:, :N_KEYPOINTS]

    def joint(self, name: str) -> np.ndarray:
        """(T, 3) one joint's path."""
        return self.joints_m[:, J[name]]

    def every(self, step: int) -> Motion:
        """Every ``step``-th frame: the same motion at ``fps / step`` (e.g. 60 Hz sensors -> 30 fps video)."""
        if step < 1:
            raise ValueError("step must be a positive whole number")
        return replace(self, joints_m=self.joints_m[::step], fps=self.fps / step)

    def placed(self, origin_m: tuple[float, float] = (0.0, 0.0), heading_deg: float = 0.0) -> Motion:
        """This motion turned to face ``heading_deg`` (0 = world +x, 90 = +y) and moved to ``origin_m``."""
        rotation = rot_z(np.array([heading_deg]))[0]
        joints = self.joints_m @ rotation.T
        joints[..., :2] += np.asarray(origin_m, dtype=float)
        meta = {**self.meta, "origin_m": list(map(float, origin_m)), "heading_deg": float(heading_deg)}
        return replace(self, joints_m=joints, meta=meta)


# --- rotations (angles in degrees, vectorised over frames) ---------------------------------------------


def _rot(angle_deg: np.ndarray, axis: int) -> np.ndarray:
    a = np.radians(np.asarray(angle_deg, dtype=float)).reshape(-1)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((len(a), 3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so every axis follows the right-hand rule
    out[:, axis, axis] = 1.0
    out[:, i, i], out[:, j, j] = c, c
    out[:, i, j], out[:, j, i] = -s, s
    return out


def rot_x(angle_deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about x; positive turns +y towards +z."""
    return _rot(angle_deg, 0)


def rot_y(angle_deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about y; positive turns +z towards +x (tips forward)."""
    return _rot(angle_deg, 1)


def rot_z(angle_deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about z; positive turns +x towards +y (turns left)."""
    return _rot(angle_deg, 2)


def apply(rotations: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Rotate one vector (3,) or per-frame vectors (T, 3) by per-frame rotations (T, 3, 3)."""
    vector = np.asarray(vector, dtype=float)
    if vector.ndim == 1:
        return rotations @ vector
    return np.einsum("tij,tj->ti", rotations, vector)


def chain(*rotations: np.ndarray) -> np.ndarray:
    out = rotations[0]
    for r in rotations[1:]:
        out = out @ r
    return out


def minimum_jerk(u: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero velocity and acceleration at both ends: how people time deliberate movements."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


# --- forward kinematics pieces shared with the walker -----------------------------------------------------


def head_joints(body: Body, neck: np.ndarray, head_frame: np.ndarray) -> dict[str, np.ndarray]:
    """Face keypoints and head top from the neck position and head orientation (T, 3, 3)."""
    return {name: neck + apply(head_frame, offset) for name, offset in body.face_offsets_m().items()}


def shoulder_joints(body: Body, neck: np.ndarray, trunk_frame: np.ndarray) -> dict[str, np.ndarray]:
    """Left and right shoulder joints either side of the neck, across the trunk."""
    return {
        side: neck + apply(trunk_frame, [0.0, sign * body.shoulder_half_width_m, 0.0])
        for side, sign in (("left", 1.0), ("right", -1.0))
    }


def arm_joints(
    body: Body,
    shoulder: np.ndarray,
    frame: np.ndarray,
    side: str,
    flexion_deg: np.ndarray,
    abduction_deg: np.ndarray,
    elbow_flexion_deg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Elbow and wrist for one arm hanging from ``shoulder`` in ``frame`` (trunk, or heading for walking)."""
    sign = 1.0 if side == "left" else -1.0
    upper = chain(frame, rot_y(-np.asarray(flexion_deg)), rot_x(sign * np.asarray(abduction_deg)))
    elbow = shoulder + apply(upper, [0.0, 0.0, -body.upper_arm_m])
    fore = upper @ rot_y(-np.asarray(elbow_flexion_deg))
    wrist = elbow + apply(fore, [0.0, 0.0, -body.forearm_m])
    return elbow, wrist


def foot_joints(body: Body, ankle: np.ndarray, foot_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Back of the heel and tip of the toes on the sole, from the ankle and the foot's orientation."""
    to_ankle = body.heel_to_ankle_m
    heel = ankle - apply(foot_frame, to_ankle)
    toe = heel + apply(foot_frame, [body.foot_length_m, 0.0, 0.0])
    return heel, toe


def assemble(parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """(T, J, 3) from a name -> (T, 3) mapping that covers every body joint."""
    missing = [name for name in BODY_JOINTS if name not in parts]
    if missing:
        raise ValueError(f"missing joints: {missing}")
    return np.stack([parts[name] for name in BODY_JOINTS], axis=1)


def posed_joints(body: Body, angles: Mapping[str, np.ndarray], frames: int) -> np.ndarray:
    """(T, J, 3) joint positions for joint angles in degrees, pelvis at the origin.

    ``angles`` maps names from :data:`ANGLE_NAMES` to (T,) arrays or scalars; missing ones are 0. The
    caller places the body on the ground (see :mod:`core.synth.postures`).
    """
    unknown = set(angles) - set(ANGLE_NAMES)
    if unknown:
        raise ValueError(f"unknown joint angles: {sorted(unknown)}")

    def a(name: str) -> np.ndarray:
        return np.broadcast_to(np.asarray(angles.get(name, 0.0), dtype=float), (frames,))

    zero = np.zeros((frames, 3))
    root = chain(rot_z(a("yaw")), rot_y(a("pitch")), rot_x(a("roll")))
    trunk = chain(root, rot_y(a("trunk_flexion")), rot_x(a("trunk_lean")), rot_z(a("trunk_twist")))
    neck = apply(trunk, [0.0, 0.0, body.trunk_m])
    parts: dict[str, np.ndarray] = {"pelvis": zero, "neck": neck}
    parts.update(head_joints(body, neck, trunk @ rot_y(a("head_flexion"))))
    shoulders = shoulder_joints(body, neck, trunk)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        parts[f"{side}_shoulder"] = shoulders[side]
        parts[f"{side}_elbow"], parts[f"{side}_wrist"] = arm_joints(
            body,
            shoulders[side],
            trunk,
            side,
            a(f"{side}_shoulder_flexion"),
            a(f"{side}_shoulder_abduction"),
            a(f"{side}_elbow_flexion"),
        )
        hip = apply(root, [0.0, sign * body.hip_half_width_m, 0.0])
        thigh = chain(root, rot_y(-a(f"{side}_hip_flexion")), rot_x(sign * a(f"{side}_hip_abduction")))
        knee = hip + apply(thigh, [0.0, 0.0, -body.thigh_m])
        shank = thigh @ rot_y(a(f"{side}_knee_flexion"))
        ankle = knee + apply(shank, [0.0, 0.0, -body.shank_m])
        foot = chain(shank, rot_z(sign * a(f"{side}_toe_out")), rot_y(-a(f"{side}_ankle_dorsiflexion")))
        parts[f"{side}_hip"], parts[f"{side}_knee"], parts[f"{side}_ankle"] = hip, knee, ankle
        parts[f"{side}_heel"], parts[f"{side}_toe"] = foot_joints(body, ankle, foot)
    return assemble(parts)
