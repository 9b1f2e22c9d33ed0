"""Read body-worn sensor recordings a clinician brings, and say plainly what is wrong with a bad one.

Clinical question: *can this file be analysed, and what is in it?* Fall detection and gait measures need
acceleration (with gravity) and, where present, angular velocity on a known time base. Files arrive in
many layouts; this module turns each one into the single :class:`~core.types.SensorRecording` the rest of
MoveScope uses, and rejects unusable files with one clear sentence (:class:`~core.errors.InputError`).

Formats, detected from the file's content (not its name):

- ``aihub``: the AIHub fall-sensor CSV: ``Frame`` plus 108 columns ``<quantity>_<segment> x|y|z`` for the
  12 segments of :data:`core.synth.skeleton.SENSOR_SEGMENTS` and the quantities of
  :data:`AIHUB_QUANTITIES`, 60 Hz (:func:`aihub_columns` gives the exact names to writers).
- ``sisfall``: SisFall ``.txt``: 9 columns of raw counts per row, rows end with ``;``, 200 Hz, waist device.
- ``umafall``: UMAFall long CSV ``TimeStamp;Sample;X;Y;Z;SensorType;SensorID`` with ``%`` header lines
  naming each sensor's body position; one position is read (``device``, default ``WAIST``).
- ``mvnx``: an Xsens MVN XML export, which carries the AIHub quantities per segment.
- ``generic``: any table with a time column (s or ms) and three acceleration columns (g or m/s^2),
  optionally three gyroscope columns; names are recognised (``time``, ``timestamp``, ``ax``, ``acc_x``,
  ``accX``, ``x`` ...) or mapped with ``column_map``; units are read from the column names, given, or guessed
  from the data (gravity at rest is ~1 g or ~9.81 m/s^2; a sample step is ~0.01 s or ~10 ms).

Validation common to all: too few seconds (:data:`MIN_RECORDING_S`), time that goes backwards or repeats,
missing values (gaps up to :data:`MAX_GAP_S` are interpolated linearly; longer ones are refused, because
filling them could invent or erase an impact), unknown units, unreadable or empty files.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.series import true_runs
from core.synth.skeleton import SENSOR_SEGMENTS
from core.types import SensorRecording

GRAVITY_MS2 = 9.80665

# Shortest recording accepted: a fall detector needs about a second before an impact and two after it.
MIN_RECORDING_S = 3.0
# Longest run of missing samples that is filled by linear interpolation. An impact lasts 0.1-0.2 s; a
# longer filled gap could hide one or draw a straight line where the body moved.
MAX_GAP_S = 0.2

AIHUB_RATE_HZ = 60.0
AIHUB_FRAME_COLUMN = "Frame"
AIHUB_QUANTITIES: tuple[str, ...] = (
    "Segment Acceleration",  # m/s^2
    "Segment Angular Velocity",  # rad/s
    "Sensor Magnetic Field",  # normalised (a.u., ~1)
)
AXES = ("x", "y", "z")

SISFALL_RATE_HZ = 200.0
# Readme: value = (2 * range) / 2**resolution * counts.
# ADXL345: 13 bit, +-16 g; ITG3200: 16 bit, +-2000 deg/s.
SISFALL_ACC_G_PER_COUNT = (2 * 16) / 2**13
SISFALL_GYRO_DEG_S_PER_COUNT = (2 * 2000) / 2**16

UMAFALL_DEFAULT_POSITION = "WAIST"
UMAFALL_SENSOR_TYPES = {0: "acc", 1: "gyro", 2: "mag"}

# Unit guessing for acceleration from its typical magnitude (the median of |a|, dominated by gravity).
G_BAND = (0.7, 1.3)  # median |a| in g for a worn device
MS2_BAND = (7.0, 12.5)  # the same in m/s^2
# A time-averaged acceleration below this (m/s^2) means the exporter removed gravity (Xsens "Segment
# Acceleration"): kinematic acceleration averages out, gravity does not.
GRAVITY_FREE_MAX_MS2 = 3.0
# Time unit guessing from the median sample step: plausible device rates are 5 Hz to 2 kHz.
STEP_S_BAND = (1 / 2000, 1 / 5)
STEP_MS_BAND = (1000 / 2000, 1000 / 5)
# 35 rad/s = 2000 deg/s, the full range of common MEMS gyroscopes: a larger value must be in deg/s.
GYRO_RAD_S_MAX = 35.0

ACC_UNITS = {"g": 1.0 * GRAVITY_MS2, "mg": GRAVITY_MS2 / 1000, "m/s^2": 1.0}
GYRO_UNITS = {"rad/s": 1.0, "deg/s": np.pi / 180}
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_UNIT_ALIASES = {
    "g": "g",
    "gs": "g",
    "mg": "mg",
    "m/s^2": "m/s^2",
    "m/s2": "m/s^2",
    "m/s/s": "m/s^2",
    "ms2": "m/s^2",
    "ms-2": "m/s^2",
    "m.s-2": "m/s^2",
    "mps2": "m/s^2",
    "m/s²": "m/s^2",
    "rad/s": "rad/s",
    "rads": "rad/s",
    "rad": "rad/s",
    "rps": "rad/s",
    "deg/s": "deg/s",
    "degs": "deg/s",
    "dps": "deg/s",
    "°/s": "deg/s",
    "deg": "deg/s",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "ms": "ms",
    "msec": "ms",
    "millis": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "us": "us",
    "µs": "us",
    "microseconds": "us",
}

FORMATS = ("aihub", "generic", "sisfall", "umafall", "mvnx")
ROLES = ("time", "ax", "ay", "az", "gx", "gy", "gz")
DEFAULT_DEVICE = "Waist"


def aihub_column(quantity: str, segment: str, axis: str) -> str:
    """One AIHub sensor column name, e.g. ``Segment Acceleration_Right Forearm x``."""
    return f"{quantity}_{segment} {axis}"


def aihub_columns(segments: Sequence[str] | None = None) -> list[str]:
    """The 108 AIHub sensor column names (quantity, then segment, then axis), without ``Frame``.

    A writer puts :data:`AIHUB_FRAME_COLUMN` first, then these; the reader accepts them in any order.
    """
    names = tuple(SENSOR_SEGMENTS) if segments is None else tuple(segments)
    return [aihub_column(q, s, a) for q in AIHUB_QUANTITIES for s in names for a in AXES]


# --------------------------------------------------------------------------------------------------------
# Entry point


def read_sensor_file(
    path: str | Path,
    *,
    column_map: Mapping[str, str | Sequence[str]] | None = None,
    time_unit: str | None = None,
    acc_unit: str | None = None,
    gyro_unit: str | None = None,
    device: str | None = None,
    min_duration_s: float = MIN_RECORDING_S,
) -> SensorRecording:
    """Read any supported sensor file into a validated :class:`SensorRecording` (acceleration in m/s^2).

    ``column_map`` maps roles (``time``, ``ax``, ``ay``, ``az``, ``gx``, ``gy``, ``gz``; or ``acc`` / ``gyro``
    with three names) to column names of a generic CSV. ``time_unit`` (``s``, ``ms``), ``acc_unit``
    (``g``, ``mg``, ``m/s^2``) and ``gyro_unit`` (``rad/s``, ``deg/s``) override what the file's names and
    values suggest. ``device`` names the body position: the UMAFall position to read (default ``WAIST``),
    the segment label of a single-device CSV (default ``Waist``), or, for multi-segment files, the segment a
    detector should use by default. ``meta["format"]`` tells which reader was used.
    """
    path = Path(path)
    time_unit = _canonical_unit(time_unit, TIME_UNITS, "time") if time_unit else None
    acc_unit = _canonical_unit(acc_unit, ACC_UNITS, "acceleration") if acc_unit else None
    gyro_unit = _canonical_unit(gyro_unit, GYRO_UNITS, "gyroscope") if gyro_unit else None
    text = _read_text(path)
    fmt = detect_format(text)
    if fmt == "mvnx":
        recording = _read_mvnx(text, path)
    elif fmt == "umafall":
        recording = _read_umafall(text, path, device or UMAFALL_DEFAULT_POSITION)
    elif fmt == "sisfall":
        recording = _read_sisfall(text, path, device or DEFAULT_DEVICE)
    else:
        table = _read_table(text, path)
        if _looks_like_aihub(table.columns):
            recording = _read_aihub(table, path, acc_unit=acc_unit)
        else:
            recording = _read_generic(
                table,
                path,
                column_map=column_map,
                time_unit=time_unit,
                acc_unit=acc_unit,
                gyro_unit=gyro_unit,
                device=device or DEFAULT_DEVICE,
            )
    if device and recording.meta["format"] in ("aihub", "mvnx"):
        recording.meta["device"] = _match_segment(device, recording.segments)
    _check_duration(recording, path, min_duration_s)
    return recording


def detect_format(text: str) -> str:
    """Which reader a file's text needs: one of :data:`FORMATS` (``generic`` covers AIHub until parsed)."""
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    if head.startswith("<?xml") or "<mvnx" in head:
        return "mvnx"
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if lines and lines[0].startswith("%") and any("SensorType" in ln.replace(" ", "") for ln in lines):
        return "umafall"
    if lines and lines[0].startswith("%") and "Malaga" in head:
        return "umafall"
    if lines and _SISFALL_ROW.match(lines[0]):
        return "sisfall"
    return "generic"


def recording_summary(recording: SensorRecording) -> dict:
    """What a recording contains, as a JSON-able document (the ``sensors inspect`` output)."""
    acc_g = np.linalg.norm(recording.acc_ms2, axis=2) / GRAVITY_MS2
    return {
        "source": recording.source,
        "format": recording.meta.get("format"),
        "samples": len(recording.time_s),
        "sample_rate_hz": round(recording.sample_rate_hz, 3),
        "duration_s": round(recording.duration_s, 3),
        "segments": list(recording.segments),
        "device": recording.meta.get("device"),
        "quantities": [
            name
            for name, value in (
                ("acc_ms2", recording.acc_ms2),
                ("gyro_rad_s", recording.gyro_rad_s),
                ("mag", recording.mag),
            )
            if value is not None
        ],
        "acc_median_g": round(float(np.median(acc_g)), 3),
        "acc_max_g": round(float(acc_g.max()), 3),
        "meta": {k: v for k, v in recording.meta.items() if k not in ("format", "device")},
    }


# --------------------------------------------------------------------------------------------------------
# File access and shared validation


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"The sensor file {path.name} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"{path.name} is a folder, not a sensor file.") from None
    except OSError as error:
        raise InputError(
            f"The sensor file {path.name} could not be read ({error.strerror or error})."
        ) from None
    if not data.strip():
        raise InputError(f"The sensor file {path.name} is empty.")
    if b"\x00" in data[:4096]:
        raise InputError(f"{path.name} is not a text sensor file (it looks like a binary file).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older exports (SisFall's Readme, Windows tools) are Latin-1; numbers read the same either way.
        return data.decode("latin-1")


def _canonical_unit(unit: str, known: Mapping[str, float], what: str) -> str:
    key = unit.strip().lower().replace(" ", "")
    canonical = _UNIT_ALIASES.get(key, key)
    if canonical not in known:
        raise InputError(f"Unknown {what} unit '{unit}': use one of {', '.join(known)}.")
    return canonical


def _check_time(time_s: np.ndarray, path: Path) -> None:
    if len(time_s) == 0:
        raise InputError(f"{path.name} has a header but no samples.")
    if not np.all(np.isfinite(time_s)):
        row = int(np.flatnonzero(~np.isfinite(time_s))[0])
        raise InputError(f"{path.name}: the time column is empty or not a number at sample {row + 1}.")
    steps = np.diff(time_s)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        what = "repeats" if steps[row - 1] == 0 else "goes backwards"
        raise InputError(
            f"{path.name}: time {what} at sample {row + 1} ({time_s[row - 1]:g} s then {time_s[row]:g} s); "
            "samples must be in recording order."
        )


def _check_duration(recording: SensorRecording, path: Path, min_duration_s: float) -> None:
    if recording.duration_s < min_duration_s:
        raise InputError(
            f"{path.name} lasts {recording.duration_s:.2f} s; at least {min_duration_s:g} s are needed "
            "to see a movement and what follows it."
        )


def fill_short_gaps(
    values: np.ndarray, time_s: np.ndarray, names: Sequence[str], source: str, max_gap_s: float = MAX_GAP_S
) -> tuple[np.ndarray, int]:
    """Interpolate runs of missing values up to ``max_gap_s`` long; refuse longer runs.

    ``values`` is ``(n, k)`` with column names ``names``. Returns the filled array and how many values were
    filled. Raises :class:`InputError` naming the first column whose gap is too long.
    """
    values = np.array(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    if not missing.any():
        return values, 0
    for k, name in enumerate(names):
        col = missing[:, k]
        if not col.any():
            continue
        if col.all():
            raise InputError(f"{source}: column '{name}' has no values at all.")
        for start, stop in true_runs(col):
            # A run spans from the last good sample before it to the first good one after it.
            t0 = time_s[start - 1] if start > 0 else time_s[start]
            t1 = time_s[stop] if stop < len(time_s) else time_s[stop - 1]
            if t1 - t0 > max_gap_s:
                raise InputError(
                    f"{source}: column '{name}' has {stop - start} missing values in a row "
                    f"({t1 - t0:.2f} s from {time_s[start]:.2f} s); gaps up to {max_gap_s:g} s are filled, "
                    "longer ones cannot be."
                )
        good = ~col
        values[col, k] = np.interp(time_s[col], time_s[good], values[good, k])
    return values, int(missing.sum())


def _guess_acc_unit(acc: np.ndarray, source: str) -> str:
    """g or m/s^2 from the typical magnitude, which gravity dominates for a worn device."""
    median = float(np.median(np.linalg.norm(acc, axis=-1)))
    if G_BAND[0] <= median <= G_BAND[1]:
        return "g"
    if MS2_BAND[0] <= median <= MS2_BAND[1]:
        return "m/s^2"
    if 700 <= median <= 1300:
        return "mg"
    raise InputError(
        f"{source}: the acceleration unit cannot be told from the data (typical magnitude {median:.3g}, "
        "neither ~1 as in g nor ~9.8 as in m/s^2); give the unit (g or m/s^2)."
    )


def _guess_time_unit(time_raw: np.ndarray, source: str) -> str:
    steps = np.diff(time_raw)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    if len(steps) == 0:
        raise InputError(f"{source}: the time column does not advance.")
    step = float(np.median(steps))
    if STEP_S_BAND[0] <= step <= STEP_S_BAND[1]:
        return "s"
    if STEP_MS_BAND[0] <= step <= STEP_MS_BAND[1]:
        return "ms"
    raise InputError(
        f"{source}: the time unit cannot be told from the sample step ({step:g}, neither seconds nor "
        "milliseconds of a 5-2000 Hz device); give the time unit (s or ms)."
    )


def _guess_gyro_unit(gyro: np.ndarray) -> str:
    # Human movement stays well below 35 rad/s; anything above must be deg/s. Below it, rad/s is assumed
    # and the guess is recorded in ``meta`` (the fall detector uses acceleration only).
    return "deg/s" if float(np.nanmax(np.abs(gyro))) > GYRO_RAD_S_MAX else "rad/s"


# --------------------------------------------------------------------------------------------------------
# Tables (AIHub and generic CSV)


def _read_table(text: str, path: Path) -> pd.DataFrame:
    first_lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    sample = "\n".join(first_lines)
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = next((d for d in (",", ";", "\t") if d in first_lines[0]), ",")
    try:
        table = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise InputError(f"{path.name} is not a readable table ({str(error).splitlines()[0]}).") from None
    table.columns = [str(c).strip() for c in table.columns]
    if table.shape[1] < 2:
        raise InputError(
            f"{path.name} has a single column; a sensor table needs a time column and acceleration columns "
            "separated by commas, semicolons or tabs."
        )
    table = table.dropna(how="all")
    if len(table) == 0:
        raise InputError(f"{path.name} has a header but no samples.")
    return table


def _numeric(table: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    """Columns as floats; blanks become NaN (gaps), text that is not a number is refused."""
    out = np.empty((len(table), len(columns)), dtype=np.float64)
    for k, name in enumerate(columns):
        raw = table[name].astype("string").str.strip()
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = (
            numbers.isna() & raw.notna() & (raw != "") & ~raw.str.lower().isin(["nan", "na", "null", "none"])
        )
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: column '{name}' holds '{raw.iloc[row]}' at data row {row + 1}, "
                "which is not a number."
            )
        out[:, k] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _looks_like_aihub(columns: Sequence[str]) -> bool:
    return any(str(c).startswith(f"{AIHUB_QUANTITIES[0]}_") for c in columns)


def _read_aihub(table: pd.DataFrame, path: Path, *, acc_unit: str | None) -> SensorRecording:
    expected = [AIHUB_FRAME_COLUMN, *aihub_columns()]
    missing = [c for c in expected if c not in table.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise InputError(
            f"{path.name} looks like an AIHub sensor file but lacks {len(missing)} of its 109 columns: "
            f"{shown}."
        )
    source = path.name
    frames = _numeric(table, [AIHUB_FRAME_COLUMN], source)[:, 0]
    time_s = (frames - frames[0]) / AIHUB_RATE_HZ if np.isfinite(frames[0]) else frames
    _check_time(time_s, path)
    segments = tuple(SENSOR_SEGMENTS)
    names = aihub_columns()
    values, filled = fill_short_gaps(_numeric(table, names, source), time_s, names, source)
    per_quantity = values.reshape(len(time_s), len(AIHUB_QUANTITIES), len(segments), 3)
    acc, gyro, mag = (per_quantity[:, q] for q in range(len(AIHUB_QUANTITIES)))
    meta = {"format": "aihub", "filled_values": filled, "device": "Pelvis"}
    acc, acc_meta = _aihub_acceleration(acc, acc_unit, source)
    meta.update(acc_meta)
    return SensorRecording(
        time_s=time_s, segments=segments, acc_ms2=acc, gyro_rad_s=gyro, mag=mag, source=str(path), meta=meta
    )


def _aihub_acceleration(acc: np.ndarray, acc_unit: str | None, source: str) -> tuple[np.ndarray, dict]:
    """AIHub/Xsens acceleration to the recording convention (m/s^2, gravity included).

    Xsens "Segment Acceleration" is the segment's kinematic acceleration in the global frame (z up) without
    gravity; a synthetic or device export may instead carry sensor-frame acceleration with gravity. The
    time-average tells which: kinematic acceleration averages to ~0 over a recording (the body ends about
    as fast as it started), while gravity averages to ~9.8 m/s^2 whatever the movement. Removed gravity is
    added back along global z, so that magnitudes mean what they mean for a worn accelerometer;
    ``meta["acc_frame"]`` records the frame.
    """
    scale = ACC_UNITS[acc_unit] if acc_unit else 1.0
    acc = acc * scale
    mean_per_segment = np.linalg.norm(acc.mean(axis=0), axis=-1)
    if float(np.median(mean_per_segment)) < GRAVITY_FREE_MAX_MS2:
        acc = acc.copy()
        acc[..., 2] += GRAVITY_MS2
        return acc, {"acc_frame": "global", "gravity_added": True}
    median = float(np.median(np.linalg.norm(acc, axis=-1)))
    if acc_unit is None and not MS2_BAND[0] <= median <= MS2_BAND[1]:
        raise InputError(
            f"{source}: AIHub acceleration should be in m/s^2, but its typical magnitude is {median:.3g}; "
            "give the acceleration unit if the file was exported differently."
        )
    return acc, {"acc_frame": "sensor", "gravity_added": False}


# Generic CSV: names are compared after lower-casing and dropping everything but letters and digits.
_TIME_NAMES = {
    "time",
    "times",
    "timestamp",
    "timestamps",
    "t",
    "ms",
    "millis",
    "milliseconds",
    "sec",
    "seconds",
    "timems",
    "timesec",
    "elapsed",
    "elapsedtime",
    "timeelapsed",
}
_MS_TIME_NAMES = ("ms", "millis", "milliseconds", "timems", "timestampms")
_ACC_PREFIXES = ("a", "acc", "accel", "accelerometer", "acceleration", "accelerometers")
_GYRO_PREFIXES = (
    "g",
    "gyr",
    "gyro",
    "gyroscope",
    "w",
    "omega",
    "angvel",
    "angularvelocity",
    "rot",
    "rotationrate",
)
_UNIT_SUFFIX = re.compile(
    r"[\s_\-]+(ms\^?-?2|m/s\^?2|m/s²|mps2|mg|g|ms|s|sec|us|dps|deg/s|rad/s|rads|degs)$", re.IGNORECASE
)
_BRACKET_UNIT = re.compile(r"\s*[\[(]([^\])]*)[\])]\s*$")


def _split_name(name: str) -> tuple[str, str | None]:
    """``'Acc X (m/s^2)'`` -> ``('accx', 'm/s^2')``; ``'time_ms'`` -> ``('time', 'ms')``."""
    unit = None
    match = _BRACKET_UNIT.search(name)
    if match:
        unit, name = match.group(1).strip(), name[: match.start()]
    else:
        match = _UNIT_SUFFIX.search(name)
        if match and len(name[: match.start()].strip(" _-")) > 0:
            unit, name = match.group(1), name[: match.start()]
    key = re.sub(r"[^0-9a-z]", "", name.lower())
    if unit is not None:
        unit = _UNIT_ALIASES.get(unit.lower().replace(" ", ""), unit.lower())
    return key, unit


def _role_candidates(columns: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {role: [] for role in ROLES}
    bare: dict[str, list[str]] = {axis: [] for axis in AXES}
    for column in columns:
        key, _unit = _split_name(column)
        if key in _TIME_NAMES or key.startswith("timestamp"):
            found["time"].append(column)
            continue
        for axis in AXES:
            acc_keys = {f"{p}{axis}" for p in _ACC_PREFIXES} | {
                f"{axis}acc",
                f"{axis}accel",
                f"acc{axis}axis",
            }
            gyro_keys = {f"{p}{axis}" for p in _GYRO_PREFIXES} | {f"{axis}gyro", f"gyro{axis}axis"}
            if key in acc_keys:
                found[f"a{axis}"].append(column)
            elif key in gyro_keys:
                found[f"g{axis}"].append(column)
            elif key in (axis, f"{axis}axis"):
                bare[axis].append(column)
    # Bare x/y/z count as acceleration only when nothing more specific names it.
    for axis in AXES:
        if not found[f"a{axis}"]:
            found[f"a{axis}"] = bare[axis]
    return found


def _resolve_columns(
    columns: Sequence[str], column_map: Mapping[str, str | Sequence[str]] | None, source: str
) -> dict[str, str]:
    mapped: dict[str, str] = {}
    for role, value in (column_map or {}).items():
        if role in ("acc", "gyro"):
            names = [value] if isinstance(value, str) else list(value)
            names = [n.strip() for part in names for n in part.split(",")] if len(names) == 1 else names
            if len(names) != 3:
                raise InputError(f"Map {role} to three column names (x, y, z), got {len(names)}.")
            prefix = "a" if role == "acc" else "g"
            mapped.update({f"{prefix}{axis}": name for axis, name in zip(AXES, names, strict=True)})
        elif role in ROLES:
            mapped[role] = str(value)
        else:
            raise InputError(f"Unknown column role '{role}': use {', '.join((*ROLES, 'acc', 'gyro'))}.")
    absent = [name for name in mapped.values() if name not in columns]
    if absent:
        raise InputError(
            f"{source} has no column named {', '.join(repr(n) for n in absent)}; its columns are "
            f"{', '.join(repr(str(c)) for c in columns)}."
        )
    candidates = _role_candidates(columns)
    resolved = dict(mapped)
    for role in ROLES:
        if role in resolved:
            continue
        options = [c for c in candidates[role] if c not in resolved.values()]
        if len(options) > 1:
            raise InputError(
                f"{source}: several columns could be {_ROLE_WORDS[role]} ({', '.join(options)}); "
                "say which one to use (column map)."
            )
        if options:
            resolved[role] = options[0]
    missing = [role for role in ("time", "ax", "ay", "az") if role not in resolved]
    if missing:
        raise InputError(
            f"{source} lacks the columns for {', '.join(_ROLE_WORDS[r] for r in missing)} (looked for names "
            f"like time/timestamp/ms and ax/acc_x/accX/x; found {', '.join(map(str, columns))}); "
            "map them (column map or --time-col / --acc-cols)."
        )
    gyro = [role for role in ("gx", "gy", "gz") if role in resolved]
    if 0 < len(gyro) < 3:
        lacking = [_ROLE_WORDS[r] for r in ("gx", "gy", "gz") if r not in resolved]
        raise InputError(f"{source} has only part of the gyroscope: {', '.join(lacking)} missing.")
    return resolved


_ROLE_WORDS = {
    "time": "time",
    "ax": "acceleration x",
    "ay": "acceleration y",
    "az": "acceleration z",
    "gx": "gyroscope x",
    "gy": "gyroscope y",
    "gz": "gyroscope z",
}


def _read_generic(
    table: pd.DataFrame,
    path: Path,
    *,
    column_map: Mapping[str, str | Sequence[str]] | None,
    time_unit: str | None,
    acc_unit: str | None,
    gyro_unit: str | None,
    device: str,
) -> SensorRecording:
    source = path.name
    roles = _resolve_columns(list(table.columns), column_map, source)
    meta: dict = {"format": "generic", "columns": dict(roles), "device": device}

    time_raw = _numeric(table, [roles["time"]], source)[:, 0]
    if np.isnan(time_raw).any():
        row = int(np.flatnonzero(np.isnan(time_raw))[0])
        raise InputError(f"{source}: the time column '{roles['time']}' is empty at data row {row + 1}.")
    name_unit = _split_name(roles["time"])[1]
    if time_unit is None and name_unit in TIME_UNITS:
        time_unit, meta["time_unit_source"] = name_unit, "column name"
    elif time_unit is None and _split_name(roles["time"])[0] in _MS_TIME_NAMES:
        time_unit, meta["time_unit_source"] = "ms", "column name"
    elif time_unit is None:
        time_unit, meta["time_unit_source"] = _guess_time_unit(time_raw, source), "sample step"
    else:
        meta["time_unit_source"] = "given"
    meta["time_unit"] = time_unit
    time_s = (time_raw - time_raw[0]) * TIME_UNITS[time_unit]
    _check_time(time_s, path)

    acc_names = [roles[f"a{axis}"] for axis in AXES]
    acc, filled = fill_short_gaps(_numeric(table, acc_names, source), time_s, acc_names, source)
    acc_unit, meta["acc_unit_source"] = _pick_unit(
        acc_unit, acc_names, ACC_UNITS, lambda: _guess_acc_unit(acc, source)
    )
    meta["acc_unit"] = acc_unit
    acc_ms2 = acc * ACC_UNITS[acc_unit]

    gyro_rad_s = None
    if "gx" in roles:
        gyro_names = [roles[f"g{axis}"] for axis in AXES]
        gyro, filled_gyro = fill_short_gaps(_numeric(table, gyro_names, source), time_s, gyro_names, source)
        filled += filled_gyro
        gyro_unit, meta["gyro_unit_source"] = _pick_unit(
            gyro_unit, gyro_names, GYRO_UNITS, lambda: _guess_gyro_unit(gyro)
        )
        meta["gyro_unit"] = gyro_unit
        gyro_rad_s = (gyro * GYRO_UNITS[gyro_unit])[:, None, :]
    meta["filled_values"] = filled
    return SensorRecording(
        time_s=time_s,
        segments=(device,),
        acc_ms2=acc_ms2[:, None, :],
        gyro_rad_s=gyro_rad_s,
        source=str(path),
        meta=meta,
    )


def _pick_unit(given: str | None, names: Sequence[str], known: Mapping[str, float], guess) -> tuple[str, str]:
    """The unit to use and where it came from: given > column names > guessed from the values."""
    if given:
        return given, "given"
    hinted = {_split_name(n)[1] for n in names} - {None}
    if len(hinted) == 1 and next(iter(hinted)) in known:
        return next(iter(hinted)), "column name"
    return guess(), "guessed from values"


# --------------------------------------------------------------------------------------------------------
# SisFall


_SISFALL_ROW = re.compile(r"^\s*-?\d+(\s*,\s*-?\d+){8}\s*;?\s*$")


def _read_sisfall(text: str, path: Path, device: str) -> SensorRecording:
    rows = [line.strip().rstrip(";").strip() for line in text.splitlines() if line.strip()]
    bad = next((i for i, row in enumerate(rows) if not _SISFALL_ROW.match(row)), None)
    if bad is not None:
        raise InputError(
            f"{path.name}: line {bad + 1} is not a SisFall row of 9 whole numbers ('{rows[bad][:60]}')."
        )
    counts = np.array([row.split(",") for row in rows], dtype=np.float64)
    time_s = np.arange(len(counts)) / SISFALL_RATE_HZ
    acc = counts[:, 0:3] * SISFALL_ACC_G_PER_COUNT * GRAVITY_MS2
    gyro = np.deg2rad(counts[:, 3:6] * SISFALL_GYRO_DEG_S_PER_COUNT)
    name = path.stem.split("_")
    meta = {
        "format": "sisfall",
        "device": device,
        "accelerometer": "ADXL345 (the MMA8451Q columns 7-9 are not used)",
        "activity_code": name[0] if len(name) == 3 else None,
        "subject": name[1] if len(name) == 3 else None,
    }
    return SensorRecording(
        time_s=time_s,
        segments=(device,),
        acc_ms2=acc[:, None, :],
        gyro_rad_s=gyro[:, None, :],
        source=str(path),
        meta=meta,
    )


# --------------------------------------------------------------------------------------------------------
# UMAFall

_UMAFALL_POSITION = re.compile(
    r"^%\s*([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\s*;\s*(\d+)\s*;\s*([A-Za-z_]+)\s*;"
)


def umafall_positions(text: str) -> dict[str, int]:
    """Body position -> sensor id, from a UMAFall file's ``%`` header."""
    positions = {}
    for line in text.splitlines():
        match = _UMAFALL_POSITION.match(line.strip())
        if match:
            positions[match.group(3).upper()] = int(match.group(2))
    return positions


def _read_umafall(text: str, path: Path, position: str) -> SensorRecording:
    positions = umafall_positions(text)
    if not positions:
        raise InputError(f"{path.name}: the UMAFall header does not say which sensor is worn where.")
    position = position.upper()
    if position not in positions:
        raise InputError(f"{path.name} has no sensor at '{position}'; it has {', '.join(sorted(positions))}.")
    sensor_id = positions[position]
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("%")]
    try:
        data = np.array([line.split(";")[:7] for line in rows], dtype=np.float64)
    except ValueError:
        raise InputError(f"{path.name}: a UMAFall data row is not 7 numbers separated by ';'.") from None
    mine = data[data[:, 6] == sensor_id]
    streams = {}
    for type_id, name in UMAFALL_SENSOR_TYPES.items():
        block = mine[mine[:, 5] == type_id]
        if len(block):
            streams[name] = _merge_equal_times(block[:, 0] / 1000.0, block[:, 2:5])
    if "acc" not in streams:
        raise InputError(f"{path.name} has no accelerometer samples for '{position}'.")
    time_abs, acc_g = streams["acc"]
    t0 = time_abs[0]
    time_s = time_abs - t0
    _check_time(time_s, path)

    def on_acc_times(name: str) -> np.ndarray | None:
        if name not in streams or len(streams[name][0]) < 2:
            return None
        t, v = streams[name]
        return np.column_stack([np.interp(time_abs, t, v[:, k]) for k in range(3)])

    gyro = on_acc_times("gyro")
    mag = on_acc_times("mag")
    if mag is not None:
        # UMAFall stores microtesla; MoveScope keeps the field normalised to its typical strength (~1).
        mag = mag / max(float(np.median(np.linalg.norm(mag, axis=1))), 1e-9)
    label = position.capitalize()
    meta = {
        "format": "umafall",
        "device": label,
        "position": position,
        "positions": sorted(positions),
        "sensor_id": sensor_id,
        "start_ms": float(t0 * 1000),
    }
    return SensorRecording(
        time_s=time_s,
        segments=(label,),
        acc_ms2=(acc_g * GRAVITY_MS2)[:, None, :],
        gyro_rad_s=None if gyro is None else np.deg2rad(gyro)[:, None, :],
        mag=None if mag is None else mag[:, None, :],
        source=str(path),
        meta=meta,
    )


def _merge_equal_times(time_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average samples that share a timestamp (the UMAFall phone logs several per millisecond tick)."""
    order = np.argsort(time_s, kind="stable")
    time_s, values = time_s[order], values[order]
    unique, index, counts = np.unique(time_s, return_index=True, return_counts=True)
    if len(unique) == len(time_s):
        return time_s, values
    sums = np.add.reduceat(values, index, axis=0)
    return unique, sums / counts[:, None]


# --------------------------------------------------------------------------------------------------------
# Xsens MVNX

# MVN segment label -> AIHub segment name (MVN has 23 segments; AIHub keeps 12 of them).
MVN_TO_AIHUB = {
    "Head": "Head",
    "Pelvis": "Pelvis",
    "RightShoulder": "Right Shoulder",
    "LeftShoulder": "Left Shoulder",
    "RightUpperArm": "Right Upper Arm",
    "LeftUpperArm": "Left Upper Arm",
    "RightForeArm": "Right Forearm",
    "LeftForeArm": "Left Forearm",
    "RightUpperLeg": "Right Upper Leg",
    "LeftUpperLeg": "Left Upper Leg",
    "RightLowerLeg": "Right Lower Leg",
    "LeftLowerLeg": "Left Lower Leg",
}


def _read_mvnx(text: str, path: Path) -> SensorRecording:
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as error:
        raise InputError(f"{path.name} is not a readable MVNX (XML) file ({error}).") from None
    ns = {"m": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {"m": ""}
    q = (lambda tag: f"m:{tag}") if ns["m"] else (lambda tag: tag)
    subject = root.find(q("subject"), ns)
    if subject is None:
        raise InputError(f"{path.name}: the MVNX file has no subject (no recorded body).")
    segment_labels = [s.get("label") for s in subject.findall(f"{q('segments')}/{q('segment')}", ns)]
    sensor_labels = [s.get("label") for s in subject.findall(f"{q('sensors')}/{q('sensor')}", ns)]
    frames = [f for f in subject.findall(f"{q('frames')}/{q('frame')}", ns) if f.get("type") == "normal"]
    if not frames:
        raise InputError(f"{path.name}: the MVNX file has no recorded frames.")
    # AIHub segments that carry a real sensor (an upper-body suit computes leg segments without sensors).
    chosen = [
        (label, MVN_TO_AIHUB[label])
        for label in segment_labels
        if label in MVN_TO_AIHUB and label in sensor_labels
    ]
    if not chosen:
        raise InputError(f"{path.name}: no MVNX sensor sits on one of the AIHub body segments.")
    seg_index = [segment_labels.index(label) for label, _ in chosen]
    sen_index = [sensor_labels.index(label) for label, _ in chosen]

    def block(frame: ET.Element, tag: str, width: int) -> np.ndarray:
        element = frame.find(q(tag), ns)
        if element is None or not element.text:
            raise InputError(f"{path.name}: frame {frame.get('index')} has no {tag}.")
        return np.array(element.text.split(), dtype=np.float64).reshape(width, 3)

    rate_hz = float(subject.get("frameRate") or "nan")
    if np.isfinite(rate_hz) and rate_hz > 0 and all(f.get("index") is not None for f in frames):
        # Frame indices at the declared rate; the "time" attribute is rounded to whole milliseconds.
        time_s = np.array([int(f.get("index")) for f in frames], dtype=np.float64) / rate_hz
    else:
        time_s = np.array([float(f.get("time", "nan")) for f in frames]) / 1000.0
    time_s = time_s - time_s[0]
    _check_time(time_s, path)
    acc = np.stack([block(f, "acceleration", len(segment_labels))[seg_index] for f in frames])
    gyro = np.stack([block(f, "angularVelocity", len(segment_labels))[seg_index] for f in frames])
    mag = np.stack([block(f, "sensorMagneticField", len(sensor_labels))[sen_index] for f in frames])
    # MVN segment acceleration is kinematic (global frame, z up, no gravity): add gravity back.
    acc[..., 2] += GRAVITY_MS2
    meta = {
        "format": "mvnx",
        "device": "Pelvis" if "Pelvis" in [a for _, a in chosen] else chosen[0][1],
        "acc_frame": "global",
        "gyro_frame": "global",
        "gravity_added": True,
        "frame_rate_hz": rate_hz,
        "configuration": subject.get("configuration"),
    }
    return SensorRecording(
        time_s=time_s,
        segments=tuple(a for _, a in chosen),
        acc_ms2=acc,
        gyro_rad_s=gyro,
        mag=mag,
        source=str(path),
        meta=meta,
    )


def _match_segment(name: str, segments: Sequence[str]) -> str:
    for segment in segments:
        if segment.lower().replace(" ", "") == name.lower().replace(" ", ""):
            return segment
    raise InputError(f"No body segment '{name}' in this recording; it has {', '.join(segments)}.")


# --------------------------------------------------------------------------------------------------------
# Command line


def add_cli(subparsers) -> None:
    """``python -m core sensors inspect FILE``: what a sensor file contains, as JSON."""
    parser = subparsers.add_parser("sensors", help="body-worn sensor recordings")
    commands = parser.add_subparsers(dest="sensors_command", required=True)
    inspect = commands.add_parser("inspect", help="read and validate a sensor file; print its summary")
    inspect.add_argument(
        "path", help="sensor file: AIHub CSV, generic IMU CSV, SisFall .txt, UMAFall CSV, MVNX"
    )
    add_reading_options(inspect)
    inspect.add_argument("--json", help="write the summary here instead of standard output")
    inspect.set_defaults(func=_cli_inspect)
    validate = commands.add_parser(
        "validate", help="fall decision per real SisFall/UMAFall trial (the sensor detector's check)"
    )
    validate.add_argument("shared_dir", nargs="?", default="../shared/data", help="folder holding falls/")
    validate.add_argument("--json", help="also write the rows as JSON here")
    validate.set_defaults(func=_cli_validate)


def add_reading_options(parser) -> None:
    """The flags that steer :func:`read_sensor_file`; other commands (``fall --sensor``) can reuse them."""
    parser.add_argument("--time-col", help="name of the time column")
    parser.add_argument("--acc-cols", help="acceleration columns x,y,z (comma separated)")
    parser.add_argument("--gyro-cols", help="gyroscope columns x,y,z (comma separated)")
    parser.add_argument("--time-unit", help="s or ms (default: from the column name or the sample step)")
    parser.add_argument("--acc-unit", help="g, mg or m/s^2 (default: from the name or the magnitude at rest)")
    parser.add_argument("--gyro-unit", help="rad/s or deg/s")
    parser.add_argument(
        "--device", help="body position: UMAFall position (default WAIST) or the device's label"
    )


def reading_options(args) -> dict:
    """:func:`read_sensor_file` keyword arguments from the flags of :func:`add_reading_options`."""
    column_map: dict[str, str] = {}
    if args.time_col:
        column_map["time"] = args.time_col
    if args.acc_cols:
        column_map["acc"] = args.acc_cols
    if args.gyro_cols:
        column_map["gyro"] = args.gyro_cols
    return {
        "column_map": column_map or None,
        "time_unit": args.time_unit,
        "acc_unit": args.acc_unit,
        "gyro_unit": args.gyro_unit,
        "device": args.device,
    }


def _cli_inspect(args) -> dict:
    return recording_summary(read_sensor_file(args.path, **reading_options(args)))


def _cli_validate(args) -> int:
    from core.cli import write_json
    from core.fall.sensor import format_validation_table, validate_real_recordings

    rows = validate_real_recordings(args.shared_dir)
    print(format_validation_table(rows))
    supported = [r for r in rows if r["supported_position"]]
    wrong = [r for r in supported if not r["correct"]]
    print(f"{len(supported) - len(wrong)}/{len(supported)} decisions correct at the waist and wrist.")
    if args.json:
        write_json({"rows": rows}, args.json)
    return 0
