"""The single-device fall detector: real falls found, daily activities left alone, on any device and rate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.alarms import LYING_ALARM_S
from core.errors import InputError
from core.fall.sensor import (
    SUPPORTED_POSITIONS,
    SensorFallConfig,
    detect_falls_in_recording,
    format_validation_table,
    validate_real_recordings,
)
from core.sensors import AIHUB_FRAME_COLUMN, GRAVITY_MS2, aihub_columns, read_sensor_file
from core.synth.skeleton import SENSOR_SEGMENTS
from core.types import SensorRecording

UPRIGHT = np.array([0.0, -1.0, 0.0])  # gravity as a waist device reads it standing (SisFall axes)
LYING = np.array([0.0, 0.0, -1.0])
EVENT_S = 5.0
RATES_HZ = (20.0, 50.0, 60.0, 100.0, 200.0)


def _turn(start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Directions turning from ``start`` to ``end`` (orthogonal unit vectors) as ``fraction`` goes 0 -> 1."""
    angle = np.clip(fraction, 0, 1)[:, None] * np.pi / 2
    return np.cos(angle) * start + np.sin(angle) * end


def body_signal(kind: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|a| in g, posture 0 upright -> 1 lying) of a scripted activity; walking until :data:`EVENT_S`."""
    # Steps at 1.8 Hz peaking at ~1.42 g (examined as possible impacts, then rejected), as at a real waist.
    walking = 1.0 + 0.3 * np.sin(2 * np.pi * 1.8 * t) + 0.15 * np.sin(2 * np.pi * 3.6 * t)
    magnitude, posture = walking.copy(), np.zeros_like(t)
    after = t >= EVENT_S
    u = t - EVENT_S
    if kind == "walk":
        return magnitude, posture
    if kind in ("fall", "fall_then_up"):
        # 0.4 s near free fall, 0.1 s impact at 3.5 g, then lying still.
        magnitude[after] = np.where(u[after] < 0.4, 0.3, np.where(u[after] < 0.5, 3.5, 1.0))
        posture = np.clip(u / 0.5, 0, 1)
        if kind == "fall_then_up":
            up = t >= EVENT_S + 6.0
            magnitude[up], posture[up] = walking[up], 0.0
    elif kind == "lie_down_slowly":
        magnitude[after] = 1.0
        posture = np.clip(u / 3.0, 0, 1)
    elif kind == "lie_down_quickly":  # onto a bed: a short, soft drop
        magnitude[after] = np.where(u[after] < 0.5, 0.85, np.where(u[after] < 0.6, 1.4, 1.0))
        posture = np.clip(u / 1.0, 0, 1)
    elif kind == "sit_down_hard":
        magnitude[after] = np.where(u[after] < 0.3, 0.7, np.where(u[after] < 0.4, 1.8, 1.0))
        posture = np.clip(u / 0.4, 0, 1) * (25 / 90)  # the pelvis tilts about 25 degrees on a chair
    elif kind == "jog":
        magnitude[after] = 1.55 + 1.25 * np.sin(2 * np.pi * 2.7 * u[after])  # 0.3-2.8 g, never still
    else:
        raise ValueError(kind)
    return magnitude, posture


def device_recording(kind: str, rate_hz: float, seconds: float = 20.0, seed: int = 0) -> SensorRecording:
    """What a waist device sampling at ``rate_hz`` records of ``kind`` (point sampling, 0.01 g noise)."""
    t = np.arange(0, seconds, 1 / rate_hz)
    magnitude, posture = body_signal(kind, t)
    acc_g = magnitude[:, None] * _turn(UPRIGHT, LYING, posture)
    acc_g += np.random.default_rng(seed).normal(0, 0.01, acc_g.shape)
    return SensorRecording(
        time_s=t, segments=("Waist",), acc_ms2=acc_g[:, None, :] * GRAVITY_MS2, source=kind
    )


# ---------------------------------------------------------------------------------------------- constructed


@pytest.mark.parametrize("rate_hz", RATES_HZ)
def test_a_fall_is_found_at_every_sampling_rate(rate_hz):
    result = detect_falls_in_recording(device_recording("fall", rate_hz))
    assert result.fall
    (event,) = result.events
    assert EVENT_S + 0.3 <= event.impact_s <= EVENT_S + 0.6
    assert event.start_s <= EVENT_S + 0.1
    assert event.posture_change_deg == pytest.approx(90, abs=8)
    assert event.delta_v_ms > SensorFallConfig().fall_delta_v_ms
    assert event.still_from_s is not None and event.still_from_s < EVENT_S + 2.0
    assert result.probability > 0.5


@pytest.mark.parametrize("rate_hz", RATES_HZ)
@pytest.mark.parametrize("kind", ["walk", "lie_down_slowly", "lie_down_quickly", "sit_down_hard", "jog"])
def test_daily_activities_raise_no_fall(kind, rate_hz):
    result = detect_falls_in_recording(device_recording(kind, rate_hz))
    assert not result.fall, [c.reason for c in result.candidates]
    assert result.probability < 0.5


def test_each_look_alike_is_rejected_for_its_own_reason():
    def reason(kind: str) -> str:
        """Why the candidate impact closest to the scripted event was not a fall."""
        candidates = detect_falls_in_recording(device_recording(kind, 100.0)).candidates
        return min(candidates, key=lambda c: abs(c.impact_s - EVENT_S - 0.5)).reason

    assert "velocity change" in reason("sit_down_hard")  # too gentle ...
    assert "posture changed 25 deg" in reason("sit_down_hard")  # ... and still nearly upright
    assert "velocity change" in reason("lie_down_quickly")  # lying, but no impact
    assert "never still" in reason("jog")  # impacts, but never at rest
    # Lying down slowly has no impact at all: the only candidates are the steps before it.
    slowly = detect_falls_in_recording(device_recording("lie_down_slowly", 100.0)).candidates
    assert all(c.impact_s < EVENT_S + 0.1 for c in slowly)


def test_alarm_after_lying_for_the_configured_time_only():
    stays_down = detect_falls_in_recording(device_recording("fall", 50.0, seconds=20.0))
    (event,) = stays_down.events
    assert event.alarm_s == pytest.approx(event.impact_s + LYING_ALARM_S, abs=0.8)
    assert stays_down.alarm
    gets_up = detect_falls_in_recording(device_recording("fall_then_up", 50.0, seconds=20.0))
    assert gets_up.fall and not gets_up.alarm  # fell, got up after 6 s: a fall event, no lying alarm
    quick = detect_falls_in_recording(
        device_recording("fall_then_up", 50.0), config=SensorFallConfig(lying_alarm_s=3.0)
    )
    assert quick.alarm


def test_result_serialises_for_the_fall_command():
    result = detect_falls_in_recording(device_recording("fall", 100.0))
    document = json.loads(json.dumps(result.to_dict(series=True), allow_nan=False))
    assert document["fall"] is True and 0.5 < document["probability"] <= 1.0
    (event,) = document["events"]
    assert {"start_s", "end_s", "kind", "alarm"} <= set(event) and event["kind"] == "fall"
    series = document["series"]
    assert len(series["time_s"]) == len(series["score"]) == len(series["down"]) == len(series["acc_g"])
    assert series["time_s"][1] - series["time_s"][0] == pytest.approx(1 / 20)


def test_unknown_segment_is_refused():
    with pytest.raises(InputError, match="No body segment 'Ankle'"):
        detect_falls_in_recording(device_recording("walk", 50.0), segment="Ankle")


def write_aihub_fall(path, *, fall: bool) -> None:
    """An AIHub CSV as Xsens exports it: global-frame segment acceleration without gravity, global angular
    velocity. The pelvis falls (turning 90 degrees about the room's y axis) when ``fall``."""
    rate, n = 60.0, 600
    t = np.arange(n) / rate
    magnitude, posture = body_signal("fall" if fall else "walk", t)
    columns = {AIHUB_FRAME_COLUMN: np.arange(n, dtype=float)}
    data = np.zeros((3, len(SENSOR_SEGMENTS), n, 3))  # quantity, segment, time, axis
    data[0, :, :, 2] = (magnitude - 1.0) * GRAVITY_MS2  # vertical kinematic acceleration
    data[1, :, :, 1] = np.gradient(posture * np.pi / 2, t)  # turning about global y
    data[2, :, :, 0] = 1.0
    for name, values in zip(aihub_columns(), data.transpose(0, 1, 3, 2).reshape(108, n), strict=True):
        columns[name] = values
    rows = [",".join(columns)] + [",".join(f"{columns[c][i]:.5f}" for c in columns) for i in range(n)]
    path.write_text("\n".join(rows))


def test_aihub_global_frame_recording_uses_the_pelvis(tmp_path):
    path = tmp_path / "00047_H_A_N.csv"
    write_aihub_fall(path, fall=True)
    recording = read_sensor_file(path)
    assert recording.meta["acc_frame"] == "global"
    result = detect_falls_in_recording(recording)
    assert result.segment == "Pelvis" and result.fall
    # The posture comes from the integrated angular velocity, as the acceleration is in the room's frame.
    assert result.events[0].posture_change_deg == pytest.approx(90, abs=5)
    write_aihub_fall(path, fall=False)
    assert not detect_falls_in_recording(read_sensor_file(path)).fall
    assert detect_falls_in_recording(read_sensor_file(path), segment="Head").segment == "Head"


# ---------------------------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_rows(shared_data):
    return validate_real_recordings(shared_data)


@pytest.mark.shared
def test_every_real_fall_is_detected(real_rows):
    falls = [r for r in real_rows if r["expected_fall"] and r["position"] in SUPPORTED_POSITIONS]
    assert len(falls) == 4 + 3 * 2  # SisFall F01 F03 F05 F06; UMAFall 3 falls x waist and wrist
    missed = [(r["file"], r["position"], r["reason"]) for r in falls if not r["decision"]]
    assert missed == []


@pytest.mark.shared
def test_no_real_daily_activity_is_alarmed(real_rows):
    adls = [r for r in real_rows if not r["expected_fall"]]
    assert len([r for r in adls if r["position"] in SUPPORTED_POSITIONS]) == 3 + 2 * 2
    alarmed = [(r["file"], r["position"], r["reason"]) for r in adls if r["decision"] or r["alarm"]]
    assert alarmed == []  # at every position, including those the detector does not target


@pytest.mark.shared
def test_real_decisions_per_dataset_and_position(real_rows):
    sisfall = [r for r in real_rows if r["dataset"] == "SisFall"]
    assert {r["rate_hz"] for r in sisfall} == {200.0}
    for row in (r for r in sisfall if r["expected_fall"]):
        assert 6.0 < row["impact_s"] < 9.5  # SisFall falls happen mid-recording (15 s trials)
    umafall = [r for r in real_rows if r["dataset"] == "UMAFall"]
    for position in SUPPORTED_POSITIONS:
        rows = [r for r in umafall if r["position"] == position]
        assert len(rows) == 5 and all(r["correct"] for r in rows), format_validation_table(rows)
    # UMAFall subjects stay down > 10 s after falling: the lying alarm fires at the waist.
    assert all(r["alarm"] for r in umafall if r["expected_fall"] and r["position"] == "WAIST")
