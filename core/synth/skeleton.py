"""The simulated body's joints, limbs and sensor segments - the contract between the motion lab's parts.

Motions (walker, falls, look-alikes) produce world positions of :data:`BODY_JOINTS` in metres
(right-handed world frame, z up, ground at z = 0). The camera projects them; the pose-noise model uses the
first 17 (COCO order, as YOLO11n-pose outputs them); the renderer draws :data:`LIMBS` as volumes; the sensor
model attaches one IMU to each of :data:`SENSOR_SEGMENTS` (the 12 AIHub segments).
"""

from __future__ import annotations

from core.types import KEYPOINT_NAMES

EXTRA_JOINTS: tuple[str, ...] = (
    "pelvis",  # midpoint of the hip joints
    "neck",  # base of the neck, between the shoulders
    "head_top",
    "left_heel",
    "right_heel",
    "left_toe",
    "right_toe",
)
BODY_JOINTS: tuple[str, ...] = KEYPOINT_NAMES + EXTRA_JOINTS
J = {name: i for i, name in enumerate(BODY_JOINTS)}

# Limbs with volume for the renderer: (joint a, joint b, radius in metres for an average adult, part).
# ``part`` groups limbs that share clothing colour: "head", "torso", "arms", "legs", "feet".
LIMBS: tuple[tuple[str, str, float, str], ...] = (
    ("neck", "head_top", 0.085, "head"),
    ("left_shoulder", "right_shoulder", 0.07, "torso"),
    ("neck", "pelvis", 0.14, "torso"),
    ("left_hip", "right_hip", 0.09, "torso"),
    ("left_shoulder", "left_hip", 0.07, "torso"),
    ("right_shoulder", "right_hip", 0.07, "torso"),
    ("left_shoulder", "left_elbow", 0.045, "arms"),
    ("left_elbow", "left_wrist", 0.037, "arms"),
    ("right_shoulder", "right_elbow", 0.045, "arms"),
    ("right_elbow", "right_wrist", 0.037, "arms"),
    ("left_hip", "left_knee", 0.07, "legs"),
    ("left_knee", "left_ankle", 0.05, "legs"),
    ("right_hip", "right_knee", 0.07, "legs"),
    ("right_knee", "right_ankle", 0.05, "legs"),
    ("left_heel", "left_toe", 0.04, "feet"),
    ("right_heel", "right_toe", 0.04, "feet"),
)

# The 12 body-worn sensors as AIHub records them: segment name -> (proximal joint, distal joint).
# A sensor sits at the segment's midpoint; its frame follows the segment (x along it, proximal -> distal).
SENSOR_SEGMENTS: dict[str, tuple[str, str]] = {
    "Head": ("neck", "head_top"),
    "Pelvis": ("left_hip", "right_hip"),
    "Right Shoulder": ("neck", "right_shoulder"),
    "Left Shoulder": ("neck", "left_shoulder"),
    "Right Upper Arm": ("right_shoulder", "right_elbow"),
    "Left Upper Arm": ("left_shoulder", "left_elbow"),
    "Right Forearm": ("right_elbow", "right_wrist"),
    "Left Forearm": ("left_elbow", "left_wrist"),
    "Right Upper Leg": ("right_hip", "right_knee"),
    "Left Upper Leg": ("left_hip", "left_knee"),
    "Right Lower Leg": ("right_knee", "right_ankle"),
    "Left Lower Leg": ("left_knee", "left_ankle"),
}
