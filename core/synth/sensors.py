"""What would body-worn inertial sensors have recorded during a simulated motion?

One sensor per AIHub segment (:data:`~core.synth.skeleton.SENSOR_SEGMENTS`) sits at the segment's
midpoint with its frame fixed to the segment: x along the segment (proximal to distal joint), y towards
the front of the body, z completing a right-handed frame. Trunk segments (head, pelvis, shoulders) take
"front" from the trunk (the head from the face) at every frame; limb sensors turn with their parent
segment (pelvis, trunk, thigh, upper arm) but never about their own axis - the skeleton has no axial limb
rotation to turn them with.

Readings, as a real inertial sensor makes them:

- acceleration: the sensor's acceleration minus gravity, in the sensor frame (m/s^2); a sensor lying
  still reads +9.81 m/s^2 along the axis that points up;
- angular velocity of the sensor frame, in the sensor frame (rad/s);
- magnetic field: the earth's field (pointing north and, in the northern hemisphere, downwards at
  :data:`MAGNETIC_INCLINATION_DEG`) in the sensor frame, normalised to 1 with no disturbance;
- plus :class:`SensorNoise`: white noise, a constant bias per recording and axis, and a bias random walk.

World frame: z up, north along +y. Writers give the AIHub layout (``Frame`` + 108 columns) and the
single waist or wrist accelerometer (time and acceleration in g) of public fall datasets.

Note on conventions: the issue asks for gravity-including accelerations in the sensor frame. Xsens MVN
exports (such as ``../shared/data/imu/xsens``) call the *gravity-free, global-frame* acceleration
"segment acceleration"; :func:`body_worn_sensors` can produce that too (``frame="global_free"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.synth.body import Motion
from core.synth.skeleton import SENSOR_SEGMENTS, J
from core.types import SensorRecording

GRAVITY_MS2 = 9.81
STANDARD_GRAVITY_MS2 = 9.80665  # 1 g, for readings in g
MAGNETIC_INCLINATION_DEG = 53.0  # Seoul, where AIHub recorded
AIHUB_QUANTITIES = ("Segment Acceleration", "Segment Angular Velocity", "Sensor Magnetic Field")
AXES = ("x", "y", "z")


@dataclass(frozen=True)
class SensorNoise:
    """Sensor errors. Defaults are of the size measured at rest in SisFall's waist device (``D07``:
    0.06-0.1 m/s^2 and 0.3-0.5 deg/s at 200 Hz, which include the wearer's own tiny movements); a
    research-grade IMU is quieter, a phone noisier."""

    acc_noise_ms2: float = 0.03  # white noise per sample
    acc_bias_ms2: float = 0.05  # spread of the constant bias, per axis
    acc_bias_walk_ms2: float = 0.003  # bias random walk per sqrt(second)
    gyro_noise_rad_s: float = 0.006
    gyro_bias_rad_s: float = 0.008
    gyro_bias_walk_rad_s: float = 0.0005
    mag_noise: float = 0.006  # normalised field units

    @classmethod
    def none(cls) -> SensorNoise:
        """Exact readings, for checks against the simulated motion."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _frame_from(x_axis: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation, columns x (along the segment), y (forward, made orthogonal), z = x cross y."""
    x = _unit(x_axis)
    y = _unit(forward - np.sum(forward * x, axis=-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _swung(neutral: np.ndarray, axis: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, 3, 3) frame of a limb whose axis swung from ``neutral`` to ``axis`` without twisting.

    ``reference`` (perpendicular to ``neutral``) is carried by the smallest rotation that takes ``neutral``
    onto ``axis`` (Rodrigues), so the limb turns with its parent segment but never about itself.
    """
    n, a = _unit(neutral), _unit(axis)
    v = np.cross(n, a)
    c = np.clip(np.sum(n * a, axis=-1, keepdims=True), -1 + 1e-6, None)
    y = reference + np.cross(v, reference) + np.cross(v, np.cross(v, reference)) / (1 + c)
    return _frame_from(a, y)


def segment_frames(motion: Motion, segments: dict[str, tuple[str, str]] = SENSOR_SEGMENTS) -> np.ndarray:
    """(T, S, 3, 3) orientation of each sensor: columns are its x, y, z axes in world coordinates.

    Trunk segments take "front" from the trunk, the head from the face; a thigh or upper arm swings from
    hanging straight down in the pelvis or trunk frame, a shank or forearm from the line of its parent.
    """
    j = motion.joint
    trunk_up = _unit(j("neck") - j("pelvis"))
    chest = _unit(np.cross(j("left_shoulder") - j("right_shoulder"), trunk_up))
    belly = _unit(np.cross(j("left_hip") - j("right_hip"), trunk_up))
    face = j("nose") - (j("left_ear") + j("right_ear")) / 2
    frames: dict[str, np.ndarray] = {}
    for side in ("Left", "Right"):
        s = side.lower()
        upper_arm = _swung(-trunk_up, j(f"{s}_elbow") - j(f"{s}_shoulder"), chest)
        thigh = _swung(-trunk_up, j(f"{s}_knee") - j(f"{s}_hip"), belly)
        frames[f"{side} Upper Arm"], frames[f"{side} Upper Leg"] = upper_arm, thigh
        frames[f"{side} Forearm"] = _swung(
            upper_arm[..., 0], j(f"{s}_wrist") - j(f"{s}_elbow"), upper_arm[..., 1]
        )
        frames[f"{side} Lower Leg"] = _swung(thigh[..., 0], j(f"{s}_ankle") - j(f"{s}_knee"), thigh[..., 1])
    out = np.zeros((motion.frames, len(segments), 3, 3))
    for i, (name, (proximal, distal)) in enumerate(segments.items()):
        if name in frames:
            out[:, i] = frames[name]
            continue
        along = j(distal) - j(proximal)
        out[:, i] = _frame_from(along, face if name == "Head" else belly if name == "Pelvis" else chest)
    return out


def _angular_velocity(frames: np.ndarray, fps: float) -> np.ndarray:
    """(T, S, 3) angular velocity in each sensor's own frame, from frames one sample apart on each side."""
    before = np.concatenate([frames[:1], frames[:-1]])
    after = np.concatenate([frames[1:], frames[-1:]])
    steps = np.full(len(frames), 2.0)
    steps[0] = steps[-1] = 1.0
    relative = np.swapaxes(before, -1, -2) @ after
    skew = np.stack(
        [
            relative[..., 2, 1] - relative[..., 1, 2],
            relative[..., 0, 2] - relative[..., 2, 0],
            relative[..., 1, 0] - relative[..., 0, 1],
        ],
        axis=-1,
    )
    cos = np.clip((np.trace(relative, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    sin = np.sin(angle)
    scale = np.where(sin > 1e-9, angle / (2 * np.maximum(sin, 1e-12)), 0.5)
    return skew * scale[..., None] * fps / steps[:, None, None]


def _add_noise(
    values: np.ndarray, fps: float, white: float, bias: float, walk: float, rng: np.random.Generator | None
) -> np.ndarray:
    if rng is None or (white == 0 and bias == 0 and walk == 0):
        return values
    shape = values.shape
    drift = np.cumsum(rng.normal(0.0, walk / np.sqrt(fps), shape), axis=0)
    return values + rng.normal(0.0, bias, shape[1:]) + drift + rng.normal(0.0, white, shape)


def _earth_field() -> np.ndarray:
    inclination = np.radians(MAGNETIC_INCLINATION_DEG)
    return np.array([0.0, np.cos(inclination), -np.sin(inclination)])


def imu_readings(
    positions_m: np.ndarray,
    frames: np.ndarray,
    fps: float,
    names: tuple[str, ...],
    noise: SensorNoise,
    rng: np.random.Generator | None,
    frame: str = "sensor",
) -> SensorRecording:
    """Readings of sensors moving along ``positions_m`` (T, S, 3) with orientations ``frames`` (T, S, 3, 3).

    ``frame="sensor"``: gravity-including acceleration in the sensor frame (what a sensor measures);
    ``"global_free"``: gravity-free acceleration in the world frame (Xsens MVN's "segment acceleration").
    """
    if frame not in ("sensor", "global_free"):
        raise ValueError("frame must be 'sensor' or 'global_free'")
    dt = 1.0 / fps
    acceleration = np.gradient(np.gradient(positions_m, dt, axis=0), dt, axis=0)
    to_sensor = np.swapaxes(frames, -1, -2)
    if frame == "sensor":
        acc = np.einsum("tsij,tsj->tsi", to_sensor, acceleration + np.array([0.0, 0.0, GRAVITY_MS2]))
    else:
        acc = acceleration
    gyro = _angular_velocity(frames, fps)
    mag = np.einsum("tsij,j->tsi", to_sensor, _earth_field())
    return SensorRecording(
        time_s=np.arange(len(positions_m)) / fps,
        segments=names,
        acc_ms2=_add_noise(acc, fps, noise.acc_noise_ms2, noise.acc_bias_ms2, noise.acc_bias_walk_ms2, rng),
        gyro_rad_s=_add_noise(
            gyro, fps, noise.gyro_noise_rad_s, noise.gyro_bias_rad_s, noise.gyro_bias_walk_rad_s, rng
        ),
        mag=_add_noise(mag, fps, noise.mag_noise, 0.0, 0.0, rng),
        source="MoveScope synthetic motion lab",
        meta={"frame": frame, "noise": noise.__dict__.copy()},
    )


def body_worn_sensors(
    motion: Motion,
    rng: np.random.Generator | None = None,
    noise: SensorNoise | None = None,
    frame: str = "sensor",
) -> SensorRecording:
    """The 12 AIHub segment sensors for ``motion``, at the motion's frame rate (60 Hz in AIHub)."""
    noise = SensorNoise() if noise is None else noise
    j = motion.joints_m
    proximal = [J[a] for a, _ in SENSOR_SEGMENTS.values()]
    distal = [J[b] for _, b in SENSOR_SEGMENTS.values()]
    positions = (j[:, proximal] + j[:, distal]) / 2
    frames = segment_frames(motion)
    return imu_readings(positions, frames, motion.fps, tuple(SENSOR_SEGMENTS), noise, rng, frame)


PLACEMENTS = {"waist": ("Pelvis", "pelvis"), "wrist": ("Right Forearm", "right_wrist")}


def single_device(
    motion: Motion,
    placement: str = "waist",
    rng: np.random.Generator | None = None,
    noise: SensorNoise | None = None,
) -> SensorRecording:
    """One accelerometer/gyroscope on the waist (belt, at the pelvis) or the right wrist (watch)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {tuple(PLACEMENTS)}")
    segment, joint = PLACEMENTS[placement]
    noise = SensorNoise() if noise is None else noise
    s = list(SENSOR_SEGMENTS).index(segment)
    frames = segment_frames(motion)[:, s : s + 1]
    positions = motion.joint(joint)[:, None, :]
    return imu_readings(positions, frames, motion.fps, (placement.capitalize(),), noise, rng)


def aihub_columns(segments: tuple[str, ...] = tuple(SENSOR_SEGMENTS)) -> list[str]:
    """``Frame`` then quantity x segment x axis, named like ``Segment Acceleration_Right Forearm x``."""
    return ["Frame"] + [f"{q}_{seg} {axis}" for q in AIHUB_QUANTITIES for seg in segments for axis in AXES]


def write_aihub_csv(recording: SensorRecording, path: str | Path) -> Path:
    """Write the 12-segment recording as AIHub lays it out: one row per frame, ``Frame`` from 0."""
    n, s = len(recording.time_s), len(recording.segments)
    blocks = [recording.acc_ms2, recording.gyro_rad_s, recording.mag]
    if any(b is None for b in blocks):
        raise ValueError("the AIHub layout needs acceleration, angular velocity and magnetic field")
    table = np.concatenate([np.arange(n)[:, None]] + [b.reshape(n, s * 3) for b in blocks], axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join(aihub_columns(recording.segments))
    fmt = ["%d"] + ["%.6f"] * (table.shape[1] - 1)
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt=fmt)
    return path


def write_device_csv(recording: SensorRecording, path: str | Path) -> Path:
    """Write one device's acceleration as ``time_s,ax_g,ay_g,az_g`` (the layout of public fall datasets)."""
    if len(recording.segments) != 1:
        raise ValueError("a device CSV holds one sensor")
    table = np.column_stack([recording.time_s, recording.acc_ms2[:, 0] / STANDARD_GRAVITY_MS2])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, table, delimiter=",", header="time_s,ax_g,ay_g,az_g", comments="", fmt="%.6f")
    return path
