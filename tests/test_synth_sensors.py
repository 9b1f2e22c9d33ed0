"""Simulated body-worn sensors read what real inertial sensors would, and files come out in AIHub's layout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.synth.body import Body, Motion, rot_z
from core.synth.falls import simulate_activity
from core.synth.postures import stand_still
from core.synth.sensors import (
    GRAVITY_MS2,
    SensorNoise,
    aihub_columns,
    body_worn_sensors,
    segment_frames,
    single_device,
    write_aihub_csv,
    write_device_csv,
)
from core.synth.skeleton import SENSOR_SEGMENTS
from core.synth.walker import GaitParameters, walk

FPS = 60.0
EXACT = SensorNoise.none()


@pytest.fixture(scope="module")
def walking() -> Motion:
    return walk(GaitParameters(), Body(172.0), 10.0, FPS, np.random.default_rng(0))[0]


def _frozen(seconds: float = 3.0) -> Motion:
    standing = stand_still(Body(168.0), 1.0, FPS, np.random.default_rng(1))
    return replace(standing, joints_m=np.repeat(standing.joints_m[:1], round(seconds * FPS), axis=0))


def test_a_sensor_at_rest_reads_one_g_against_gravity_and_no_rotation():
    recording = body_worn_sensors(_frozen(), noise=EXACT)
    assert recording.acc_ms2.shape == (180, 12, 3)
    assert np.allclose(np.linalg.norm(recording.acc_ms2, axis=-1), GRAVITY_MS2)
    assert np.allclose(recording.gyro_rad_s, 0.0, atol=1e-9)
    # Along "up" of each sensor: the pelvis sensor's z points up, the lower legs' x (knee -> ankle) down.
    pelvis, shank = list(SENSOR_SEGMENTS).index("Pelvis"), list(SENSOR_SEGMENTS).index("Left Lower Leg")
    assert recording.acc_ms2[0, pelvis, 2] > 9.7
    assert recording.acc_ms2[0, shank, 0] < -9.7


def test_integrating_pelvis_acceleration_recovers_its_velocity(walking):
    recording = body_worn_sensors(walking, noise=EXACT)
    s = list(SENSOR_SEGMENTS).index("Pelvis")
    frames = segment_frames(walking)[:, s]
    world = np.einsum("tij,tj->ti", frames, recording.acc_ms2[:, s]) - [0.0, 0.0, GRAVITY_MS2]
    position = (walking.joint("left_hip") + walking.joint("right_hip")) / 2
    velocity = np.gradient(position, 1 / FPS, axis=0)
    steps = (world[1:] + world[:-1]) / 2 / FPS
    integrated = velocity[0] + np.concatenate([np.zeros((1, 3)), np.cumsum(steps, axis=0)])
    assert np.abs(integrated - velocity).max() < 0.03  # m/s, over 10 s of walking
    assert np.mean(velocity[:, 0]) > 1.0  # it really walked


def test_gyroscopes_read_the_turning_rate():
    still = _frozen(2.0)
    turn = rot_z(np.degrees(1.0 * still.time_s))  # 1 rad/s about the vertical
    pelvis = still.joint("pelvis")[0]
    joints = np.einsum("tij,tkj->tki", turn, still.joints_m - pelvis) + pelvis
    recording = body_worn_sensors(replace(still, joints_m=joints), noise=EXACT)
    assert np.allclose(np.linalg.norm(recording.gyro_rad_s[1:-1], axis=-1), 1.0, atol=1e-3)


def test_magnetic_field_is_normalised_and_constant_in_size(walking):
    recording = body_worn_sensors(walking, noise=EXACT)
    assert np.allclose(np.linalg.norm(recording.mag, axis=-1), 1.0)
    noisy = body_worn_sensors(walking, np.random.default_rng(2))
    assert np.abs(np.linalg.norm(noisy.mag, axis=-1) - 1.0).mean() < 0.02


def test_noise_model_has_the_configured_size(walking):
    noise = SensorNoise(0.05, 0.2, 0.0, 0.01, 0.0, 0.0, 0.0)
    exact = body_worn_sensors(walking, noise=EXACT)
    noisy = body_worn_sensors(walking, np.random.default_rng(3), noise)
    error = noisy.acc_ms2 - exact.acc_ms2
    bias = error.mean(axis=0)
    assert np.std(error - bias) == pytest.approx(0.05, rel=0.05)
    assert np.std(bias) == pytest.approx(0.2, rel=0.35)  # 36 biases drawn from N(0, 0.2)
    assert np.std(noisy.gyro_rad_s - exact.gyro_rad_s) == pytest.approx(0.01, rel=0.05)


def test_falls_hit_hard_and_walking_does_not():
    """Waist peaks of real falls are several g (SisFall: 4-14 g), walking 1.5-2 g."""
    rng = np.random.default_rng(4)
    body = Body(170.0)
    walking = walk(GaitParameters(), body, 10.0, FPS, rng)[0]
    walk_peak = np.linalg.norm(single_device(walking, "waist", noise=EXACT).acc_ms2, axis=-1).max() / 9.81
    assert 1.2 < walk_peak < 2.5
    for activity in (
        "fall_forward_from_standing",
        "fall_backward_from_walking",
        "fall_lateral_from_standing",
    ):
        motion, label = simulate_activity(activity, body, rng)
        g = np.linalg.norm(single_device(motion, "waist", noise=EXACT).acc_ms2[:, 0], axis=-1) / 9.81
        assert g.max() > 3.0
        assert label.fall_start_frame <= np.argmax(g) <= label.fall_end_frame + 0.5 * FPS


def test_aihub_csv_layout_round_trips(walking, tmp_path):
    recording = body_worn_sensors(walking, np.random.default_rng(5))
    path = write_aihub_csv(recording, tmp_path / "clip.csv")
    table = pd.read_csv(path)
    assert table.shape == (600, 109)
    assert list(table.columns) == aihub_columns()
    assert "Segment Acceleration_Right Forearm x" in table.columns
    assert "Segment Angular Velocity_Head z" in table.columns
    assert "Sensor Magnetic Field_Left Lower Leg y" in table.columns
    assert table["Frame"].tolist() == list(range(600))
    back = table["Segment Acceleration_Right Forearm x"].to_numpy()
    s = list(SENSOR_SEGMENTS).index("Right Forearm")
    assert np.allclose(back, recording.acc_ms2[:, s, 0], atol=1e-6)


def test_device_csv_is_in_g(tmp_path):
    path = write_device_csv(single_device(_frozen(), "waist", noise=EXACT), tmp_path / "waist.csv")
    table = pd.read_csv(path)
    assert list(table.columns) == ["time_s", "ax_g", "ay_g", "az_g"]
    assert np.allclose(np.linalg.norm(table[["ax_g", "ay_g", "az_g"]].to_numpy(), axis=1), 1.0, atol=0.001)
    assert table["time_s"].iloc[1] == pytest.approx(1 / FPS, abs=1e-6)


def test_global_free_frame_matches_xsens_segment_acceleration(walking):
    """Xsens MVN's "segment acceleration" is world-frame and gravity-free: zero for a body at rest."""
    recording = body_worn_sensors(_frozen(), noise=EXACT, frame="global_free")
    assert np.allclose(recording.acc_ms2, 0.0)
