"""Sensor files: every format reads into the right numbers, and every bad file gets a clear reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main
from core.errors import InputError
from core.sensors import (
    AIHUB_FRAME_COLUMN,
    AIHUB_QUANTITIES,
    GRAVITY_MS2,
    MAX_GAP_S,
    MIN_RECORDING_S,
    aihub_column,
    aihub_columns,
    read_sensor_file,
)
from core.synth.skeleton import SENSOR_SEGMENTS

RATE_HZ = 100.0


def write_generic(
    path, header: list[str], time, columns: list[np.ndarray], sep: str = ",", fmt: str = "{:.6g}"
) -> None:
    lines = [sep.join(header)]
    for i, t in enumerate(time):
        values = [fmt.format(t)] + ["" if np.isnan(c[i]) else fmt.format(c[i]) for c in columns]
        lines.append(sep.join(values))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def standing_g(n: int, seed: int = 0) -> np.ndarray:
    """A device at rest on an upright body: 1 g along -y (SisFall's waist axis), a little noise."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((n, 3)) + rng.normal(0, 0.01, (n, 3))
    acc[:, 1] -= 1.0
    return acc


def write_aihub(path, n: int = 600, *, gravity: bool = True, drop: list[str] | None = None) -> np.ndarray:
    """An AIHub CSV with the exact 108 columns; returns the (n, 12, 3) acceleration written (m/s^2)."""
    rng = np.random.default_rng(1)
    segments = list(SENSOR_SEGMENTS)
    acc = rng.normal(0, 0.2, (n, len(segments), 3))
    if gravity:
        acc[..., 0] += GRAVITY_MS2  # sensor frame: x along the segment, upright
    gyro = rng.normal(0, 0.1, (n, len(segments), 3))
    mag = rng.normal(0, 0.05, (n, len(segments), 3)) + np.array([0.3, 0.0, -0.9])
    columns = {AIHUB_FRAME_COLUMN: np.arange(n)}
    for quantity, values in zip(AIHUB_QUANTITIES, (acc, gyro, mag), strict=True):
        for s, segment in enumerate(segments):
            for a, axis in enumerate("xyz"):
                columns[aihub_column(quantity, segment, axis)] = values[:, s, a]
    names = [c for c in columns if c not in (drop or [])]
    # Shuffled order: the reader must not depend on the column order.
    order = [names[0], *sorted(names[1:], key=lambda c: hash(c) % 97)]
    lines = [",".join(order)]
    for i in range(n):
        lines.append(",".join(f"{columns[c][i]:.6f}" if c != AIHUB_FRAME_COLUMN else str(i) for c in order))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return acc


# ---------------------------------------------------------------------------------------------- AIHub


def test_aihub_column_names_are_the_108_documented_ones():
    names = aihub_columns()
    assert len(names) == 108 == len(set(names))
    assert "Segment Acceleration_Right Forearm x" in names
    assert "Segment Angular Velocity_Pelvis z" in names
    assert "Sensor Magnetic Field_Left Lower Leg y" in names


def test_aihub_csv_reads_all_segments_at_60_hz(tmp_path):
    path = tmp_path / "00047_H_A_N.csv"
    written = write_aihub(path)
    recording = read_sensor_file(path)
    assert recording.meta["format"] == "aihub"
    assert recording.segments == tuple(SENSOR_SEGMENTS)
    assert recording.sample_rate_hz == pytest.approx(60.0)
    assert recording.duration_s == pytest.approx(599 / 60)
    forearm = recording.segments.index("Right Forearm")
    np.testing.assert_allclose(recording.acc_ms2[:, forearm], written[:, forearm], atol=1e-5)
    assert recording.gyro_rad_s.shape == recording.mag.shape == (600, 12, 3)
    assert recording.meta["acc_frame"] == "sensor"


def test_aihub_without_gravity_is_taken_as_global_frame_and_gravity_is_added(tmp_path):
    path = tmp_path / "xsens_export.csv"
    write_aihub(path, gravity=False)
    recording = read_sensor_file(path)
    assert recording.meta["acc_frame"] == "global"
    assert np.median(recording.acc_ms2[:, 1, 2]) == pytest.approx(GRAVITY_MS2, abs=0.1)


def test_aihub_missing_columns_are_listed(tmp_path):
    path = tmp_path / "broken.csv"
    write_aihub(path, n=300, drop=["Sensor Magnetic Field_Head x", "Segment Angular Velocity_Pelvis y"])
    with pytest.raises(InputError, match="lacks 2 of its 109 columns") as error:
        read_sensor_file(path)
    assert "Sensor Magnetic Field_Head x" in str(error.value)
    assert "Segment Angular Velocity_Pelvis y" in str(error.value)


# ---------------------------------------------------------------------------------------------- generic


def test_generic_csv_in_g_with_millisecond_time(tmp_path):
    n = 500
    acc = standing_g(n)
    path = tmp_path / "wrist.csv"
    write_generic(path, ["timestamp", "accX", "accY", "accZ"], 1_700_000 + np.arange(n) * 10.0, list(acc.T))
    recording = read_sensor_file(path)
    assert recording.meta["format"] == "generic"
    assert recording.meta["time_unit"] == "ms" and recording.meta["time_unit_source"] == "sample step"
    assert recording.meta["acc_unit"] == "g" and recording.meta["acc_unit_source"] == "guessed from values"
    assert recording.sample_rate_hz == pytest.approx(100.0)
    assert recording.duration_s == pytest.approx(4.99)
    np.testing.assert_allclose(recording.acc_ms2[:, 0, 1], acc[:, 1] * GRAVITY_MS2, rtol=1e-5)
    assert recording.gyro_rad_s is None
    assert recording.segments == ("Waist",)


def test_generic_csv_in_ms2_with_seconds_and_gyroscope(tmp_path):
    n = 400
    acc = standing_g(n) * GRAVITY_MS2
    gyro = np.random.default_rng(2).normal(0, 0.5, (n, 3))  # rad/s
    path = tmp_path / "imu.csv"
    write_generic(path, ["time", "ax", "ay", "az", "gx", "gy", "gz"], np.arange(n) / 50.0, [*acc.T, *gyro.T])
    recording = read_sensor_file(path, device="Wrist")
    assert recording.meta["time_unit"] == "s"
    assert recording.meta["acc_unit"] == "m/s^2"
    assert recording.sample_rate_hz == pytest.approx(50.0)
    np.testing.assert_allclose(recording.acc_ms2[:, 0], acc, rtol=1e-5)
    np.testing.assert_allclose(recording.gyro_rad_s[:, 0], gyro, rtol=1e-5, atol=1e-6)
    assert recording.segments == ("Wrist",)


def test_generic_units_in_column_names_and_semicolons(tmp_path):
    n = 400
    acc = standing_g(n)
    gyro_deg = np.random.default_rng(3).normal(0, 5, (n, 3))
    path = tmp_path / "export.csv"
    header = [
        "Time (s)",
        "Acc X [g]",
        "Acc Y [g]",
        "Acc Z [g]",
        "Gyro X (deg/s)",
        "Gyro Y (deg/s)",
        "Gyro Z (deg/s)",
    ]
    write_generic(path, header, np.arange(n) / 100.0, [*acc.T, *gyro_deg.T], sep=";")
    recording = read_sensor_file(path)
    assert recording.meta["acc_unit_source"] == "column name"
    assert recording.meta["gyro_unit"] == "deg/s"
    np.testing.assert_allclose(recording.gyro_rad_s[:, 0], np.deg2rad(gyro_deg), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("header", "time_unit"),
    [
        (["time_ms", "acc_x", "acc_y", "acc_z"], "ms"),
        (["timeMs", "accelerometerX", "accelerometerY", "accelerometerZ"], "ms"),
        (["Timestamp (ms)", "Ax", "Ay", "Az"], "ms"),
        (["t", "x", "y", "z"], "ms"),
        (["elapsed", "AccelX", "AccelY", "AccelZ", "temperature"], "ms"),
    ],
)
def test_generic_column_names_are_recognised(tmp_path, header, time_unit):
    n = 500
    acc = standing_g(n)
    path = tmp_path / "named.csv"
    extra = [np.full(n, 21.0)] * (len(header) - 4)
    write_generic(path, header, np.arange(n) * 10.0, [*acc.T, *extra])
    recording = read_sensor_file(path)
    assert recording.meta["time_unit"] == time_unit
    assert recording.sample_rate_hz == pytest.approx(100.0)
    np.testing.assert_allclose(recording.acc_ms2[:, 0, 1], acc[:, 1] * GRAVITY_MS2, rtol=1e-5)


def test_generic_column_map_and_explicit_units(tmp_path):
    n = 800
    acc = standing_g(n) * 3.0  # magnitude 3: neither g nor m/s^2 at rest, so the unit must be given
    path = tmp_path / "lab.csv"
    write_generic(path, ["t_rel", "chan1", "chan2", "chan3"], np.arange(n) * 5.0, list(acc.T))
    with pytest.raises(InputError, match="lacks the columns for time, acceleration x, acceleration y"):
        read_sensor_file(path)
    column_map = {"time": "t_rel", "acc": "chan1,chan2,chan3"}
    with pytest.raises(InputError, match="acceleration unit cannot be told"):
        read_sensor_file(path, column_map=column_map)
    recording = read_sensor_file(path, column_map=column_map, time_unit="ms", acc_unit="m/s^2")
    assert recording.sample_rate_hz == pytest.approx(200.0)
    np.testing.assert_allclose(recording.acc_ms2[:, 0], acc, rtol=1e-5)


def test_generic_short_gaps_are_filled(tmp_path):
    n = 400
    acc = standing_g(n)
    acc[100:105, 2] = np.nan  # 5 samples at 100 Hz: 0.06 s between good samples
    path = tmp_path / "gappy.csv"
    write_generic(path, ["time", "ax", "ay", "az"], np.arange(n) / RATE_HZ, list(acc.T))
    recording = read_sensor_file(path)
    assert recording.meta["filled_values"] == 5
    assert np.all(np.isfinite(recording.acc_ms2))


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (["time", "ax", "ay"], "lacks the columns for acceleration z"),
        (["ax", "ay", "az", "temperature"], "lacks the columns for time"),
        (["time", "ax", "acc_x", "ay", "az"], "several columns could be acceleration x"),
        (["time", "ax", "ay", "az", "gx", "gy"], "only part of the gyroscope: gyroscope z missing"),
    ],
)
def test_missing_or_ambiguous_columns(tmp_path, header, match):
    n = 400
    columns = [np.full(n, 0.5)] * (len(header) - 1)
    path = tmp_path / "bad.csv"
    write_generic(path, header, np.arange(n) / RATE_HZ, columns)
    with pytest.raises(InputError, match=match):
        read_sensor_file(path)


def test_long_nan_run_is_refused_with_its_column_and_limit(tmp_path):
    n = 400
    acc = standing_g(n)
    acc[200:250, 0] = np.nan  # 0.5 s
    path = tmp_path / "dropout.csv"
    write_generic(path, ["time", "ax", "ay", "az"], np.arange(n) / RATE_HZ, list(acc.T))
    with pytest.raises(InputError, match=rf"column 'ax' has 50 missing values.*up to {MAX_GAP_S:g} s"):
        read_sensor_file(path)


@pytest.mark.parametrize(
    ("time_change", "match"),
    [("backwards", "time goes backwards at sample 201"), ("repeat", "time repeats at sample 201")],
)
def test_non_monotonic_time(tmp_path, time_change, match):
    n = 400
    time = np.arange(n) / RATE_HZ
    time[200] = time[199] - 0.5 if time_change == "backwards" else time[199]
    path = tmp_path / "shuffled.csv"
    write_generic(path, ["time", "ax", "ay", "az"], time, list(standing_g(n).T))
    with pytest.raises(InputError, match=match):
        read_sensor_file(path)


def test_too_short_recording_names_the_minimum(tmp_path):
    n = 150  # 1.5 s
    path = tmp_path / "short.csv"
    write_generic(path, ["time", "ax", "ay", "az"], np.arange(n) / RATE_HZ, list(standing_g(n).T))
    with pytest.raises(InputError, match=rf"lasts 1.49 s; at least {MIN_RECORDING_S:g} s"):
        read_sensor_file(path)


def test_unknown_units_are_refused():
    with pytest.raises(InputError, match="Unknown acceleration unit 'furlongs'"):
        read_sensor_file("whatever.csv", acc_unit="furlongs")
    with pytest.raises(InputError, match="Unknown time unit 'days'"):
        read_sensor_file("whatever.csv", time_unit="days")


def test_time_unit_that_fits_no_device_is_refused(tmp_path):
    n = 400
    path = tmp_path / "odd_time.csv"
    # A step of 300 is neither seconds (a 3 mHz device) nor milliseconds of a 5-2000 Hz device.
    write_generic(path, ["time", "ax", "ay", "az"], np.arange(n) * 300.0, list(standing_g(n).T))
    with pytest.raises(InputError, match="time unit cannot be told"):
        read_sensor_file(path)


def test_text_in_a_number_column(tmp_path):
    path = tmp_path / "typo.csv"
    lines = ["time,ax,ay,az"] + [f"{i / 100:.2f},0.0,-1.0,0.0" for i in range(400)]
    lines[50] = "0.49,0.0,-1.O,0.0"
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"column 'ay' holds '-1\.O' at data row 50"):
        read_sensor_file(path)


def test_unreadable_empty_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_sensor_file(tmp_path / "nowhere.csv")
    with pytest.raises(InputError, match="is a folder"):
        read_sensor_file(tmp_path)
    (tmp_path / "empty.csv").write_text("  \n\n")
    with pytest.raises(InputError, match="is empty"):
        read_sensor_file(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("time,ax,ay,az\n")
    with pytest.raises(InputError, match="header but no samples"):
        read_sensor_file(tmp_path / "header.csv")
    (tmp_path / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(InputError, match="not a text sensor file"):
        read_sensor_file(tmp_path / "video.mp4")


# ---------------------------------------------------------------------------------------------- SisFall


def test_sisfall_counts_are_converted_with_the_readme_constants(tmp_path):
    n = 800  # 4 s at 200 Hz
    rows = [f"{0:4d},{-256:4d},{0:4d},{16:4d},{0:4d},{-16:4d},{-4:4d},{-1024:4d},{0:4d};" for _ in range(n)]
    path = tmp_path / "D07_SA99_R01.txt"
    path.write_text("\r\n".join(rows) + "\r\n")
    recording = read_sensor_file(path)
    assert recording.meta["format"] == "sisfall"
    assert recording.meta["activity_code"] == "D07"
    assert recording.sample_rate_hz == pytest.approx(200.0)
    # ADXL345: 32 g / 2^13 counts, so -256 counts = -1 g.
    # ITG3200: 4000 deg/s / 2^16 counts, so 16 counts = 0.977 deg/s.
    np.testing.assert_allclose(recording.acc_ms2[0, 0], [0, -GRAVITY_MS2, 0])
    deg_s = 16 * 4000 / 65536
    np.testing.assert_allclose(recording.gyro_rad_s[0, 0], np.deg2rad([deg_s, 0, -deg_s]))


def test_sisfall_bad_row(tmp_path):
    rows = ["  1,-256, 0, 0, 0, 0, 0,-1024, 0;"] * 700 + ["  1,-256, 0, 0, 0;"]
    path = tmp_path / "F01_SA01_R09.txt"
    path.write_text("\n".join(rows))
    with pytest.raises(InputError, match="line 701 is not a SisFall row"):
        read_sensor_file(path)


@pytest.mark.shared
def test_real_sisfall_fall(shared_data):
    recording = read_sensor_file(shared_data / "falls/sisfall/F01_SA01_R01.txt")
    assert recording.sample_rate_hz == pytest.approx(200.0)
    assert recording.duration_s == pytest.approx(15.0, abs=0.01)
    peak_g = np.linalg.norm(recording.acc_ms2[:, 0], axis=1).max() / GRAVITY_MS2
    assert peak_g == pytest.approx(13.8, abs=0.1)


# ---------------------------------------------------------------------------------------------- UMAFall

UMAFALL_HEADER = """% Universidad de Malaga - ETSI de Telecomunicacion (Spain)
% ID: Subject_99_ADL_test_1
% MAC Address; Sensor_ID; Position; Device Model
%f8:95:c7:f3:ba:82; 0; RIGHTPOCKET; lge-LG-H815-5.1
%C4:BE:84:71:A5:02; 2; WAIST; SensorTag
%C4:BE:84:70:0E:80; 3; WRIST; SensorTag

% Sensor_Type:
% Accelerometer = 0
% Gyroscope = 1
% Magnetometer = 2
% TimeStamp; Sample No; X-Axis; Y-Axis; Z-Axis; Sensor Type; Sensor ID;
"""


def write_umafall(path, seconds: float = 5.0) -> None:
    rows = []
    for k, t in enumerate(np.arange(0, seconds, 0.05)):
        ms = int(100 + t * 1000)
        rows.append(f"{ms};{k};0.98;0.02;0.3;0;2")  # waist acc (g)
        rows.append(f"{ms + 2};{k};-4.0;0.5;0.1;1;2")  # waist gyro (deg/s)
        rows.append(f"{ms + 3};{k};30;-130;40;2;2")  # waist mag (uT)
        rows.append(f"{ms + 1};{k};-0.9;-0.3;0.1;0;3")  # wrist acc
    for k, t in enumerate(np.arange(0, seconds, 0.005)):
        ms = int(100 + t * 1000)
        rows.append(f"{ms};{k};0.0;-1.0;0.0;0;0")  # phone: repeated millisecond stamps
        rows.append(f"{ms};{k};0.0;-1.02;0.0;0;0")
    path.write_text(UMAFALL_HEADER + "\n".join(rows) + "\n")


def test_umafall_reads_the_chosen_body_position(tmp_path):
    path = tmp_path / "UMAFall_Subject_99_ADL_test_1_2016-01-01_00-00-00.csv"
    write_umafall(path)
    waist = read_sensor_file(path)
    assert waist.meta["format"] == "umafall" and waist.segments == ("Waist",)
    assert waist.sample_rate_hz == pytest.approx(20.0)
    np.testing.assert_allclose(waist.acc_ms2[0, 0], np.array([0.98, 0.02, 0.3]) * GRAVITY_MS2)
    np.testing.assert_allclose(waist.gyro_rad_s[0, 0], np.deg2rad([-4.0, 0.5, 0.1]))
    assert np.linalg.norm(waist.mag[0, 0]) == pytest.approx(1.0)  # normalised field
    wrist = read_sensor_file(path, device="wrist")
    assert wrist.segments == ("Wrist",) and wrist.gyro_rad_s is None
    phone = read_sensor_file(path, device="RIGHTPOCKET")
    # Samples sharing a millisecond stamp are averaged rather than refused as "time repeats".
    assert phone.acc_ms2[0, 0, 1] == pytest.approx(-1.01 * GRAVITY_MS2)


def test_umafall_unknown_position_lists_the_available_ones(tmp_path):
    path = tmp_path / "UMAFall_Subject_99_ADL_test_1_2016-01-01_00-00-00.csv"
    write_umafall(path)
    with pytest.raises(InputError, match="no sensor at 'ANKLE'; it has RIGHTPOCKET, WAIST, WRIST"):
        read_sensor_file(path, device="ankle")


@pytest.mark.shared
def test_real_umafall_positions(shared_data):
    path = next((shared_data / "falls/umafall").glob("*forwardFall*.csv"))
    recording = read_sensor_file(path)
    assert recording.meta["positions"] == ["ANKLE", "CHEST", "RIGHTPOCKET", "WAIST", "WRIST"]
    assert recording.sample_rate_hz == pytest.approx(20.4, abs=0.5)
    assert recording.duration_s == pytest.approx(14.9, abs=0.2)
    assert recording.gyro_rad_s is not None and recording.mag is not None


# ---------------------------------------------------------------------------------------------- MVNX


@pytest.mark.shared
def test_real_xsens_mvnx(shared_data):
    path = shared_data / "imu/xsens/blender-mvnx-io_test_mocap.mvnx"
    with pytest.raises(InputError, match=r"lasts 1\.85 s"):
        read_sensor_file(path)
    recording = read_sensor_file(path, min_duration_s=1.0)
    assert recording.meta["format"] == "mvnx"
    assert recording.sample_rate_hz == pytest.approx(60.0)
    # Upper-body suit: the AIHub segments that carry a sensor, named the AIHub way.
    assert set(recording.segments) == {
        "Pelvis",
        "Head",
        "Right Shoulder",
        "Left Shoulder",
        "Right Upper Arm",
        "Left Upper Arm",
        "Right Forearm",
        "Left Forearm",
    }
    # Segment acceleration comes without gravity; it is added back so a standing body reads ~1 g.
    magnitude = np.linalg.norm(recording.acc_ms2[:, recording.segments.index("Pelvis")], axis=1)
    assert np.median(magnitude) == pytest.approx(GRAVITY_MS2, abs=0.5)


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_inspect_prints_a_json_summary(tmp_path, capsys):
    path = tmp_path / "aihub.csv"
    write_aihub(path, n=300)
    assert main(["sensors", "inspect", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "aihub"
    assert summary["sample_rate_hz"] == pytest.approx(60.0)
    assert summary["duration_s"] == pytest.approx(299 / 60, abs=1e-3)
    assert len(summary["segments"]) == 12


def test_cli_flags_map_columns_and_bad_input_exits_2(tmp_path, capsys):
    n = 400
    path = tmp_path / "lab.csv"
    write_generic(path, ["clock", "c1", "c2", "c3"], np.arange(n) / 100.0, list(standing_g(n).T))
    argv = [
        "sensors",
        "inspect",
        str(path),
        "--time-col",
        "clock",
        "--acc-cols",
        "c1,c2,c3",
        "--acc-unit",
        "g",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["acc_median_g"] == pytest.approx(1.0, abs=0.02)
    assert main(["sensors", "inspect", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: lab.csv lacks the columns for time")
