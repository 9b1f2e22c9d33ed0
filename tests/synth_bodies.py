"""Test-only moving bodies and a pinhole camera, for the pose-noise and renderer tests.

The motion lab's walker lives elsewhere; these are deliberately simple stand-ins built from a few joint
angles (hip, knee, ankle, shoulder, elbow) so that the noise model and the renderer can be tested with
plausible :data:`~core.synth.skeleton.BODY_JOINTS` positions. Not for product use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.synth.skeleton import BODY_JOINTS, J

# Heights of landmarks as a share of standing height (Winter's anthropometric table, rounded).
ANKLE_H = 0.039
KNEE_H = 0.285
HIP_H = 0.530
SHOULDER_H = 0.818
EAR_H = 0.925
EYE_H = 0.936
NOSE_H = 0.915
UPPER_ARM = 0.186
FOREARM = 0.146
FOOT = 0.152
HIP_WIDTH = 0.10
SHOULDER_WIDTH = 0.21


def _unit(heading_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    forward = np.array([np.cos(heading_rad), np.sin(heading_rad), 0.0])
    left = np.array([-np.sin(heading_rad), np.cos(heading_rad), 0.0])
    return forward, left, np.array([0.0, 0.0, 1.0])


def body_pose(
    height_m: float = 1.7,
    position_m: tuple[float, float] = (0.0, 0.0),
    heading_rad: float = 0.0,
    hip_deg: tuple[float, float] = (0.0, 0.0),
    knee_deg: tuple[float, float] = (0.0, 0.0),
    ankle_deg: tuple[float, float] = (0.0, 0.0),
    shoulder_deg: tuple[float, float] = (0.0, 0.0),
    elbow_deg: tuple[float, float] = (10.0, 10.0),
    arm_abduction_deg: float = 8.0,
) -> np.ndarray:
    """(len(BODY_JOINTS), 3) world positions (z up) for joint angles given as (left, right) pairs.

    Flexion is positive forward for hip and shoulder, positive backward (bending) for knee and elbow.
    The body is lowered or raised so that its lowest foot point touches the ground (z = 0).
    """
    h = height_m
    fwd, left, up = _unit(heading_rad)
    pelvis = np.array([position_m[0], position_m[1], HIP_H * h])
    out = np.zeros((len(BODY_JOINTS), 3))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        k = 0 if side == "left" else 1
        hip = pelvis + sign * left * HIP_WIDTH * h / 2
        th = np.radians(hip_deg[k])
        thigh = np.sin(th) * fwd - np.cos(th) * up
        knee = hip + thigh * (HIP_H - KNEE_H) * h
        ts = th - np.radians(knee_deg[k])
        shank = np.sin(ts) * fwd - np.cos(ts) * up
        ankle = knee + shank * (KNEE_H - ANKLE_H) * h
        tf = ts + np.radians(ankle_deg[k])
        foot_dir = np.cos(tf) * fwd + np.sin(tf) * up
        down = np.sin(tf) * fwd - np.cos(tf) * up
        heel = ankle - 0.25 * FOOT * h * foot_dir + down * ANKLE_H * h
        toe = ankle + 0.75 * FOOT * h * foot_dir + down * ANKLE_H * h
        out[J[f"{side}_hip"]] = hip
        out[J[f"{side}_knee"]] = knee
        out[J[f"{side}_ankle"]] = ankle
        out[J[f"{side}_heel"]] = heel
        out[J[f"{side}_toe"]] = toe

        shoulder = pelvis + up * (SHOULDER_H - HIP_H) * h + sign * left * SHOULDER_WIDTH * h / 2
        sa = np.radians(shoulder_deg[k])
        ab = np.radians(arm_abduction_deg)
        upper = np.sin(sa) * fwd - np.cos(sa) * np.cos(ab) * up + sign * np.sin(ab) * left
        elbow = shoulder + upper / np.linalg.norm(upper) * UPPER_ARM * h
        se = sa + np.radians(elbow_deg[k])
        fore = np.sin(se) * fwd - np.cos(se) * up + sign * 0.1 * left
        wrist = elbow + fore / np.linalg.norm(fore) * FOREARM * h
        out[J[f"{side}_shoulder"]] = shoulder
        out[J[f"{side}_elbow"]] = elbow
        out[J[f"{side}_wrist"]] = wrist
        out[J[f"{side}_ear"]] = pelvis + up * (EAR_H - HIP_H) * h + sign * left * 0.075 - 0.01 * fwd
        out[J[f"{side}_eye"]] = pelvis + up * (EYE_H - HIP_H) * h + sign * left * 0.032 + 0.075 * fwd
    out[J["nose"]] = pelvis + up * (NOSE_H - HIP_H) * h + 0.095 * fwd
    out[J["pelvis"]] = pelvis
    out[J["neck"]] = (out[J["left_shoulder"]] + out[J["right_shoulder"]]) / 2
    out[J["head_top"]] = pelvis + up * (1.0 - HIP_H) * h
    out[:, 2] -= out[:, 2].min()
    return out


def walking_bodies(
    n_frames: int,
    fps: float,
    height_m: float = 1.7,
    start_m: tuple[float, float] = (-2.0, 0.0),
    heading_rad: float = 0.0,
    speed_m_s: float = 1.2,
    cadence_steps_min: float = 110.0,
    phase: float = 0.0,
) -> np.ndarray:
    """(n_frames, len(BODY_JOINTS), 3): a steady walk along ``heading_rad`` from ``start_m``."""
    fwd, _, _ = _unit(heading_rad)
    out = np.zeros((n_frames, len(BODY_JOINTS), 3))
    for i in range(n_frames):
        t = i / fps
        base = 2 * np.pi * (cadence_steps_min / 120.0 * t + phase)
        hips, knees, ankles, shoulders = [], [], [], []
        for offset in (0.0, np.pi):
            c = base + offset
            hips.append(10.0 + 18.0 * np.cos(c))
            # Knee: small flexion in stance, a swing peak of ~60 deg at ~73% of the cycle (heel strike at 0).
            swing = (c - 1.46 * np.pi + np.pi) % (2 * np.pi) - np.pi
            knees.append(8.0 + 52.0 * np.exp(-(swing**2) / 0.5))
            ankles.append(5.0 * np.sin(c))
            shoulders.append(-14.0 * np.cos(c))
        pos = np.array(start_m) + fwd[:2] * speed_m_s * t
        out[i] = body_pose(
            height_m,
            (float(pos[0]), float(pos[1])),
            heading_rad,
            hip_deg=(hips[0], hips[1]),
            knee_deg=(knees[0], knees[1]),
            ankle_deg=(ankles[0], ankles[1]),
            shoulder_deg=(shoulders[0], shoulders[1]),
            elbow_deg=(20.0, 20.0),
        )
    return out


def standing_bodies(
    n_frames: int,
    fps: float,
    height_m: float = 1.7,
    position_m: tuple[float, float] = (0.0, 0.0),
    heading_rad: float = 0.0,
    sway_m: float = 0.004,
) -> np.ndarray:
    """(n_frames, len(BODY_JOINTS), 3): a person standing still with a slow postural sway."""
    out = np.zeros((n_frames, len(BODY_JOINTS), 3))
    pose = body_pose(height_m, position_m, heading_rad)
    for i in range(n_frames):
        t = i / fps
        out[i] = pose
        out[i, :, 0] += sway_m * np.sin(2 * np.pi * 0.3 * t) * (out[i, :, 2] / height_m)
    return out


def look_at_camera(
    eye_m: tuple[float, float, float],
    target_m: tuple[float, float, float],
    focal_px: float,
    width: int,
    height: int,
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A pinhole camera at ``eye_m`` looking at ``target_m``: ``project(points (..., 3)) -> (uv, depth)``."""
    eye = np.asarray(eye_m, float)
    z_axis = np.asarray(target_m, float) - eye
    z_axis /= np.linalg.norm(z_axis)
    x_axis = np.cross(z_axis, [0.0, 0.0, 1.0])
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    rot = np.stack([x_axis, y_axis, z_axis])  # rows: camera x (right), y (down), z (forward)

    def project(points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = (np.asarray(points_m, float) - eye) @ rot.T
        depth = cam[..., 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        uv = np.stack(
            [focal_px * cam[..., 0] / safe + width / 2, focal_px * cam[..., 1] / safe + height / 2], -1
        )
        return uv, depth

    return project


# Views used by the tests and measurements: (name, camera eye, target) around a walk along +x through 0.
VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "side": ((0.0, -6.0, 1.0), (0.0, 0.0, 0.9)),
    "toward": ((7.0, 0.3, 1.3), (0.0, 0.0, 0.9)),
    "oblique_high": ((4.0, -5.0, 4.0), (0.0, 0.0, 0.7)),
}


def noise_test_scene(
    n_frames: int = 150, fps: float = 30.0, width: int = 1280, height: int = 720
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], float]:
    """A scene for the noise statistics: people standing (front, back, side) and walking across, near and far.

    Returns clean COCO-17 keypoints (T, P, 17, 2), visibility (T, P, 17), image size and fps. One static
    camera at 1.3 m looks horizontally along +x; people stand 3-14 m away, spread across the view.
    """
    project = look_at_camera((-8.0, 0.0, 1.3), (0.0, 0.0, 1.1), 0.9 * width, width, height)
    people = [
        standing_bodies(n_frames, fps, 1.75, (-3.5, -1.2), np.pi),  # facing the camera
        standing_bodies(n_frames, fps, 1.65, (-3.0, 0.9), 0.0),  # back to the camera
        standing_bodies(n_frames, fps, 1.8, (-2.0, 2.6), np.pi / 2),  # side on
        standing_bodies(n_frames, fps, 1.7, (4.0, -3.0), np.pi),  # far, small
        walking_bodies(n_frames, fps, 1.7, (-1.0, -1.6), np.pi / 2, speed_m_s=0.6),  # across, side view
        walking_bodies(n_frames, fps, 1.6, (1.0, 3.5), -np.pi / 2, speed_m_s=1.1),  # across, the other way
    ]
    joints = np.stack(people, axis=1)[:, :, :17]
    uv, _ = project(joints)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
    return uv, inside, (width, height), fps
