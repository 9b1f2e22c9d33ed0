"""Did this person fall, judged from one body-worn sensor (waist or wrist), whatever the device?

Clinical question: *a patient wore an inertial sensor - did they fall, when, and were they left lying?*
Users of open fall detectors complain most about false alarms when someone sits, bends or lies down on
purpose. A fall differs from those in three ways at once, and the detector asks for all three:

1. **Velocity change** (:data:`FALL_DELTA_V_MS`): the body drops (acceleration magnitude below 1 g) and is
   stopped by the floor (above 1 g). Integrating ``|1 g - |a||`` over the descent and over the impact gives,
   in m/s, roughly twice the speed at which the body hit the ground. Sitting onto a chair or lying onto a
   bed stays well below it because the seat is close and soft. An integral is used rather than the peak
   because peaks depend on the device's sampling rate and filter (UMAFall's 20 Hz SensorTag sees 1.9 g where
   SisFall's 200 Hz ADXL345 sees 13.8 g for similar falls), while the velocity change does not.
2. **Posture change** (:data:`POSTURE_CHANGE_DEG`): the device's gravity direction once the body is still,
   compared with the one before the event. Walking, stumbling or jumping keep it; a fall to the floor turns
   the trunk 60-110 degrees. Measured relative to the device's own pre-event reading, so no mounting
   orientation has to be known.
3. **Stillness afterwards** (:data:`STILL_STD_G`): within :data:`STILL_SEARCH_S` of the impact the body
   comes to rest for :data:`STILL_WINDOW_S`. Jogging and jumping have impacts but never come to rest.

All signals are resampled to one rate (:data:`ANALYSIS_RATE_HZ`, the lowest rate in the real data), after an
anti-alias low-pass for faster devices, so thresholds mean the same on every device. Multi-segment
recordings (AIHub, Xsens) use one segment as the "waist device" (the pelvis by default); when their
acceleration is in the global frame, the segment's own frame is recovered by integrating the angular
velocity.

A small learned model was not chosen: the real recordings available here are 7 SisFall and 5 UMAFall trials,
too few to train or even tune one honestly, and a rule with physical thresholds transfers across devices
and rates. The synthetic lab's benchmark can call :func:`detect_falls_in_recording` on any
:class:`~core.types.SensorRecording`; :func:`validate_real_recordings` gives the per-trial table on the real
data. Each threshold below states the real values on both sides of it. Decisions on the real trials do not
change between analysis rates of 20, 30 and 50 Hz, nor when SisFall is thinned to 50 or 20 Hz.

The per-sample ``score`` is a fuzzy AND of the three criteria (0.5 exactly at the weakest criterion's
threshold); it orders events and draws a timeline, and is not a calibrated probability.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from core.alarms import LYING_ALARM_S, alarms_in_timeline
from core.errors import InputError
from core.fall.scores import soft_threshold
from core.sensors import GRAVITY_MS2, read_sensor_file
from core.types import SensorRecording

# One rate for every device: 20 Hz is the rate of the slowest real device here (UMAFall SensorTag), and
# falls have their energy below 8 Hz, so a faster device is low-passed at 0.8 x Nyquist and resampled.
ANALYSIS_RATE_HZ = 20.0
ANTIALIAS_FRACTION = 0.8
# Any local maximum of |a| above this is examined as a possible impact; low enough for a 20 Hz device,
# which can miss the true peak (UMAFall forward fall at the waist: 1.89 g).
CANDIDATE_PEAK_G = 1.4
CANDIDATE_SEPARATION_S = 0.5
# Upright reference: the device's gravity direction from 2 s to 1 s before the impact (before the slip or
# trip that starts a fall), at least 0.5 s of it.
REFERENCE_WINDOW_S = (2.0, 1.0)
MIN_REFERENCE_S = 0.5
# The descent (|a| < 1 g) is looked for in the 1.5 s before the impact; the impact spans 0.3 s before to
# 0.5 s after the highest sample.
DESCENT_SEARCH_S = 1.5
IMPACT_WINDOW_S = (0.3, 0.5)
# Velocity change (descent + impact) in m/s. Real falls at the waist and wrist here: 3.7-7.4; daily
# activities: at most 1.6 (sitting down, UMAFall waist). The motion lab's look-alikes reach 2.5-2.7 lying
# down onto the floor on purpose, its falls 3.7 and more (``python -m core bench fall``); 3.0 lies between.
# Physics: a hip hits the floor at 2-3 m/s in a fall from standing (counted twice, descent and stop); a
# seat is met at 0.5-1 m/s.
FALL_DELTA_V_MS = 3.0
# Posture change once still. Real falls here: 58-113 degrees (waist 79-113, wrist 58-112); walking stays
# within 15. Sitting can tilt a belt device by 75 degrees, so posture alone never makes a fall.
POSTURE_CHANGE_DEG = 45.0
# Still: the standard deviation of |a| over a 1 s window below 0.05 g. The calmest second after the real
# falls: 0.001-0.021 g; during walking: 0.106 g and more. 0.05 is about their geometric mean.
STILL_WINDOW_S = 1.0
STILL_STD_G = 0.05
# The body must come to rest between 0.5 s and 5 s after the impact (rolling, a second impact, a bounce).
STILL_SEARCH_S = (0.5, 5.0)
# Width of the score's soft thresholds (the score moves from ~0.12 to ~0.88 across +-2 widths).
DELTA_V_SCALE_MS = 0.4
POSTURE_SCALE_DEG = 8.0
STILL_SCALE_G = 0.02
# Posture smoothing for the lying timeline.
POSTURE_SMOOTHING_S = 1.0
MAX_REPORTED_CANDIDATES = 10


@dataclass(frozen=True)
class SensorFallConfig:
    """The detector's thresholds (defaults: the named constants above, with their reasons)."""

    analysis_rate_hz: float = ANALYSIS_RATE_HZ
    candidate_peak_g: float = CANDIDATE_PEAK_G
    fall_delta_v_ms: float = FALL_DELTA_V_MS
    posture_change_deg: float = POSTURE_CHANGE_DEG
    still_std_g: float = STILL_STD_G
    still_window_s: float = STILL_WINDOW_S
    still_search_s: tuple[float, float] = STILL_SEARCH_S
    lying_alarm_s: float = LYING_ALARM_S

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SensorFallEvent:
    """One examined impact: its measures, the verdict and why.

    Times are seconds from the recording's start. ``start_s`` is where the descent began, ``impact_s`` the
    highest acceleration, ``end_s`` when the body came to rest (or the end of the impact window if it never
    did). ``alarm_s`` is when a lying alarm would be raised (fall followed by :data:`LYING_ALARM_S` lying),
    ``None`` if the recording ends first or the person got up.
    """

    start_s: float
    impact_s: float
    end_s: float
    peak_acc_g: float  # at the device's own rate
    freefall_min_g: float
    descent_velocity_ms: float
    impact_velocity_ms: float
    delta_v_ms: float
    posture_change_deg: float | None
    still_std_g: float | None
    still_from_s: float | None
    score: float
    is_fall: bool
    reason: str
    alarm_s: float | None = None

    @property
    def kind(self) -> str:
        return "fall" if self.is_fall else "impact"

    def to_dict(self) -> dict:
        document = {k: _rounded(v) for k, v in asdict(self).items()}
        document["kind"] = self.kind
        document["alarm"] = self.alarm_s is not None
        return document


@dataclass
class SensorFallResult:
    """The detector's answer for one recording and segment, with a timeline for plots."""

    segment: str
    source: str
    sample_rate_hz: float
    config: SensorFallConfig
    time_s: np.ndarray  # (m,) analysis grid
    acc_g: np.ndarray  # (m,) |a| in g
    tilt_deg: np.ndarray  # (m,) device tilt from the latest upright reference
    down: np.ndarray  # (m,) bool: turned away from upright after a detected fall
    score: np.ndarray  # (m,) 0-1, see the module docstring
    candidates: tuple[SensorFallEvent, ...] = field(default_factory=tuple)

    @property
    def events(self) -> tuple[SensorFallEvent, ...]:
        """The detected falls (one per episode)."""
        return tuple(c for c in self.candidates if c.is_fall)

    @property
    def fall(self) -> bool:
        return bool(self.events)

    @property
    def probability(self) -> float:
        """The highest score (0-1, 0.5 = at threshold); not calibrated."""
        return float(self.score.max()) if len(self.score) else 0.0

    @property
    def alarm(self) -> bool:
        return any(e.alarm_s is not None for e in self.events)

    def to_dict(self, *, series: bool = False) -> dict:
        rejected = sorted((c for c in self.candidates if not c.is_fall), key=lambda c: -c.score)
        document = {
            "modality": "sensor",
            "source": self.source,
            "segment": self.segment,
            "fall": self.fall,
            "probability": round(self.probability, 4),
            "alarm": self.alarm,
            "sample_rate_hz": round(self.sample_rate_hz, 3),
            "events": [e.to_dict() for e in self.events],
            "candidates": [c.to_dict() for c in rejected[:MAX_REPORTED_CANDIDATES]],
            "candidates_examined": len(self.candidates),
            "config": self.config.to_dict(),
        }
        if series:
            document["series"] = {
                "time_s": np.round(self.time_s, 3).tolist(),
                "acc_g": np.round(self.acc_g, 3).tolist(),
                "tilt_deg": np.round(self.tilt_deg, 1).tolist(),
                "down": self.down.astype(bool).tolist(),
                "score": np.round(self.score, 4).tolist(),
            }
        return document


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4) if np.isfinite(value) else None
    return value


# --------------------------------------------------------------------------------------------------------


def choose_segment(recording: SensorRecording, segment: str | None = None) -> str:
    """The segment to treat as the single device: asked for, else the file's device, else the pelvis."""
    names = {s.lower().replace(" ", ""): s for s in recording.segments}
    for wanted in (segment, recording.meta.get("device"), "Pelvis"):
        if wanted and wanted.lower().replace(" ", "") in names:
            return names[wanted.lower().replace(" ", "")]
        if wanted is segment and segment:
            raise InputError(
                f"No body segment '{segment}' in this recording; it has {', '.join(recording.segments)}."
            )
    if len(recording.segments) == 1:
        return recording.segments[0]
    raise InputError(
        f"This recording has {len(recording.segments)} segments ({', '.join(recording.segments)}); "
        "choose the one worn like a waist or wrist device."
    )


def detect_falls_in_recording(
    recording: SensorRecording, segment: str | None = None, config: SensorFallConfig | None = None
) -> SensorFallResult:
    """Find falls in one segment of ``recording`` (see the module docstring for the rule)."""
    config = config or SensorFallConfig()
    name = choose_segment(recording, segment)
    k = recording.segments.index(name)
    acc_ms2 = _segment_frame_acceleration(recording, k)
    fs = config.analysis_rate_hz
    time_s, acc = _resample(recording.time_s, acc_ms2 / GRAVITY_MS2, fs)
    if len(time_s) < 4:
        raise InputError("The recording is too short to look for falls.")
    magnitude = np.linalg.norm(acc, axis=1)
    native_magnitude = np.linalg.norm(acc_ms2, axis=1) / GRAVITY_MS2

    peaks, _ = signal.find_peaks(
        magnitude, height=config.candidate_peak_g, distance=max(1, round(CANDIDATE_SEPARATION_S * fs))
    )
    measured = [
        _measure(i, time_s, acc, magnitude, recording.time_s, native_magnitude, config) for i in peaks
    ]
    candidates = _merge_episodes(measured)

    tilt, down = _posture_timeline(time_s, acc, candidates, config)
    alarms = alarms_in_timeline(
        time_s, down, [c.impact_s for c in candidates if c.is_fall], lying_alarm_s=config.lying_alarm_s
    )
    candidates = _attach_alarms(candidates, [a.recording_time_s for a in alarms])
    score = np.zeros_like(time_s)
    for c in candidates:
        span = (time_s >= c.start_s) & (time_s <= c.end_s)
        score[span] = np.maximum(score[span], c.score)
    return SensorFallResult(
        segment=name,
        source=recording.source,
        sample_rate_hz=recording.sample_rate_hz,
        config=config,
        time_s=time_s,
        acc_g=magnitude,
        tilt_deg=tilt,
        down=down,
        score=score,
        candidates=tuple(candidates),
    )


def _segment_frame_acceleration(recording: SensorRecording, k: int) -> np.ndarray:
    """Acceleration (with gravity) in the segment's own frame, shape (n, 3), m/s^2.

    Global-frame data (Xsens/AIHub segment acceleration) is rotated into the segment frame with the
    orientation integrated from the (global-frame) angular velocity; the unknown starting orientation does
    not matter because only changes of the gravity direction are used.
    """
    acc = recording.acc_ms2[:, k, :]
    if recording.meta.get("acc_frame") != "global":
        return acc
    if recording.gyro_rad_s is None:
        raise InputError(
            "This recording gives acceleration in the room's frame without angular velocity, so the body's "
            "posture cannot be followed; a fall cannot be judged from it."
        )
    omega = recording.gyro_rad_s[:, k, :]
    steps = np.diff(recording.time_s)
    increments = Rotation.from_rotvec(omega[:-1] * steps[:, None])
    orientation = [Rotation.identity()]
    for step in increments:
        orientation.append(step * orientation[-1])  # global angular velocity acts from the left
    orientations = Rotation.concatenate(orientation)
    return orientations.apply(acc, inverse=True)


def _resample(time_s: np.ndarray, values: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Values on a uniform ``rate_hz`` grid, low-passed first when the source is faster."""
    source_rate = 1.0 / float(np.median(np.diff(time_s)))
    uniform = np.arange(time_s[0], time_s[-1] + 1e-9, 1.0 / source_rate)
    values = np.column_stack([np.interp(uniform, time_s, values[:, j]) for j in range(values.shape[1])])
    if source_rate > 1.5 * rate_hz and len(uniform) > 30:
        b, a = signal.butter(4, ANTIALIAS_FRACTION * rate_hz / source_rate)
        values = signal.filtfilt(b, a, values, axis=0)
    grid = np.arange(time_s[0], time_s[-1] + 1e-9, 1.0 / rate_hz)
    return grid, np.column_stack([np.interp(grid, uniform, values[:, j]) for j in range(values.shape[1])])


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    return float(np.degrees(np.arccos(np.clip(u @ v, -1.0, 1.0))))


def _measure(
    i: int,
    time_s: np.ndarray,
    acc: np.ndarray,
    magnitude: np.ndarray,
    native_time_s: np.ndarray,
    native_magnitude: np.ndarray,
    config: SensorFallConfig,
) -> SensorFallEvent:
    dt = 1.0 / config.analysis_rate_hz
    impact_s = float(time_s[i])

    # Descent: the strongest run below 1 g shortly before the impact.
    search = np.flatnonzero((time_s >= impact_s - DESCENT_SEARCH_S) & (time_s <= impact_s))
    descent, start_s, run, run_start = 0.0, impact_s - IMPACT_WINDOW_S[0], 0.0, None
    for j in search:
        if magnitude[j] < 1.0:
            run_start = time_s[j] if run == 0.0 else run_start
            run += (1.0 - magnitude[j]) * dt * GRAVITY_MS2
            if run > descent:
                descent, start_s = run, float(run_start)
        else:
            run = 0.0
    freefall_min = float(magnitude[search].min())
    window = (time_s >= impact_s - IMPACT_WINDOW_S[0]) & (time_s <= impact_s + IMPACT_WINDOW_S[1])
    impact = float(np.sum(np.clip(magnitude[window] - 1.0, 0.0, None)) * dt * GRAVITY_MS2)
    delta_v = descent + impact
    native = (native_time_s >= impact_s - IMPACT_WINDOW_S[0]) & (
        native_time_s <= impact_s + IMPACT_WINDOW_S[1]
    )
    peak = float(native_magnitude[native].max()) if native.any() else float(magnitude[i])

    reference = _reference_direction(time_s, acc, impact_s)
    still_from, still_std, still_mean = _first_still(time_s, acc, magnitude, impact_s, config)
    posture = None
    if reference is not None and still_mean is not None:
        posture = _angle_deg(reference, still_mean)

    fuzzy = (
        soft_threshold(delta_v, config.fall_delta_v_ms, DELTA_V_SCALE_MS),
        soft_threshold(posture, config.posture_change_deg, POSTURE_SCALE_DEG),
        soft_threshold(still_std, config.still_std_g, STILL_SCALE_G, above=False),
    )
    checks = [
        (
            delta_v >= config.fall_delta_v_ms,
            f"velocity change {delta_v:.1f} m/s",
            f"(needs {config.fall_delta_v_ms:g})",
        ),
        (
            posture is not None and posture >= config.posture_change_deg,
            "no upright reference before the impact"
            if reference is None
            else "the recording ends too soon after the impact to see the posture"
            if posture is None
            else f"posture changed {posture:.0f} deg",
            "" if posture is None else f"(needs {config.posture_change_deg:g})",
        ),
        (
            still_from is not None,
            f"still from {still_from:.1f} s"
            if still_from is not None
            else _not_still(still_std, time_s, impact_s, config),
            "",
        ),
    ]
    is_fall = all(ok for ok, _, _ in checks)
    if is_fall:
        reason = "fall: " + ", ".join(text for _, text, _ in checks)
    else:
        reason = "not a fall: " + "; ".join(f"{text} {need}".strip() for ok, text, need in checks if not ok)
    end_s = still_from if still_from is not None else impact_s + IMPACT_WINDOW_S[1]
    return SensorFallEvent(
        start_s=start_s,
        impact_s=impact_s,
        end_s=float(end_s),
        peak_acc_g=peak,
        freefall_min_g=freefall_min,
        descent_velocity_ms=descent,
        impact_velocity_ms=impact,
        delta_v_ms=delta_v,
        posture_change_deg=posture,
        still_std_g=still_std,
        still_from_s=still_from,
        score=min(fuzzy),
        is_fall=is_fall,
        reason=reason,
    )


def _not_still(still_std: float | None, time_s: np.ndarray, impact_s: float, config: SensorFallConfig) -> str:
    if still_std is None:
        return "the recording ends before the body could come to rest"
    lo, hi = config.still_search_s
    return (
        f"never still within {lo:g}-{hi:g} s of the impact (calmest second: |a| SD {still_std:.2f} g, "
        f"needs <= {config.still_std_g:g})"
    )


def _reference_direction(time_s: np.ndarray, acc: np.ndarray, impact_s: float) -> np.ndarray | None:
    """Mean acceleration (gravity direction) before the impact; closer to it only when the recording
    starts too late for the usual window; ``None`` when there is not :data:`MIN_REFERENCE_S` of it."""
    first, last = REFERENCE_WINDOW_S
    dt = float(np.median(np.diff(time_s)))
    for end in (impact_s - last, impact_s - IMPACT_WINDOW_S[0]):
        window = (time_s >= impact_s - first) & (time_s < end)
        if window.sum() * dt >= MIN_REFERENCE_S - 1e-9:
            return acc[window].mean(axis=0)
    return None


def _first_still(
    time_s: np.ndarray, acc: np.ndarray, magnitude: np.ndarray, impact_s: float, config: SensorFallConfig
) -> tuple[float | None, float | None, np.ndarray | None]:
    """When the body came to rest after the impact, and how still and in what posture it rested.

    Returns (start of the first window with SD of |a| <= the limit, or ``None`` if it never rests; SD of
    the calmest window; mean acceleration over the calmest window, i.e. the resting gravity direction).
    All three are ``None`` when the recording ends before any window fits.
    """
    dt = float(np.median(np.diff(time_s)))
    width = max(2, round(config.still_window_s / dt))
    lo, hi = config.still_search_s
    starts = np.flatnonzero((time_s >= impact_s + lo) & (time_s <= impact_s + hi))
    starts = starts[starts + width <= len(time_s)]
    if len(starts) == 0:
        return None, None, None
    stds = np.array([magnitude[s : s + width].std() for s in starts])
    still = np.flatnonzero(stds <= config.still_std_g)
    calmest = int(np.argmin(stds))
    mean = acc[starts[calmest] : starts[calmest] + width].mean(axis=0)
    return (float(time_s[starts[still[0]]]) if len(still) else None), float(stds[calmest]), mean


def _merge_episodes(candidates: Iterable[SensorFallEvent]) -> list[SensorFallEvent]:
    """One fall per episode: falls whose impacts lie within an earlier fall's span are the same fall
    (a stumble, the impact and a bounce); the strongest is kept, starting where the first began."""
    merged: list[SensorFallEvent] = []
    for c in sorted(candidates, key=lambda c: c.impact_s):
        previous = next((m for m in reversed(merged) if m.is_fall), None)
        if c.is_fall and previous is not None and c.impact_s <= previous.end_s:
            best = c if c.score > previous.score else previous
            merged[merged.index(previous)] = _replace(
                best, start_s=min(previous.start_s, c.start_s), end_s=max(previous.end_s, c.end_s)
            )
            continue
        merged.append(c)
    return merged


def _replace(event: SensorFallEvent, **changes) -> SensorFallEvent:
    return SensorFallEvent(**{**asdict(event), **changes})


def _posture_timeline(
    time_s: np.ndarray, acc: np.ndarray, candidates: list[SensorFallEvent], config: SensorFallConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Tilt from the latest upright reference, and whether the person is down after a detected fall.

    Before the first fall the reference is the recording's first seconds; from each fall's impact on it is
    that fall's pre-impact reference. ``down`` is only claimed after a detected fall, because a posture is
    judged relative to the upright posture seen just before it.
    """
    width = max(1, round(POSTURE_SMOOTHING_S * config.analysis_rate_hz))
    kernel = np.ones(width) / width
    smooth = np.column_stack([np.convolve(acc[:, j], kernel, mode="same") for j in range(3)])
    direction = smooth / np.maximum(np.linalg.norm(smooth, axis=1, keepdims=True), 1e-9)
    tilt = np.zeros(len(time_s))
    down = np.zeros(len(time_s), dtype=bool)
    segments = [(time_s[0], acc[: max(1, width)].mean(axis=0), False)]
    for c in candidates:
        if c.is_fall:
            reference = _reference_direction(time_s, acc, c.impact_s)
            if reference is not None:
                segments.append((c.impact_s, reference, True))
    for n, (start, reference, after_fall) in enumerate(segments):
        stop = segments[n + 1][0] if n + 1 < len(segments) else np.inf
        span = (time_s >= start) & (time_s < stop)
        ref = reference / np.linalg.norm(reference)
        tilt[span] = np.degrees(np.arccos(np.clip(direction[span] @ ref, -1.0, 1.0)))
        if after_fall:
            down[span] = tilt[span] >= config.posture_change_deg
    return tilt, down


def _attach_alarms(
    candidates: list[SensorFallEvent], alarm_times: list[float | None]
) -> list[SensorFallEvent]:
    falls = [c for c in candidates if c.is_fall]
    out = []
    for c in candidates:
        if not c.is_fall:
            out.append(c)
            continue
        following = [f.impact_s for f in falls if f.impact_s > c.impact_s]
        until = following[0] if following else np.inf
        mine = [t for t in alarm_times if t is not None and c.impact_s <= t < until]
        out.append(_replace(c, alarm_s=mine[0]) if mine else c)
    return out


# --------------------------------------------------------------------------------------------------------
# Validation on the real recordings in ../shared/data/falls

SISFALL_ACTIVITIES = {
    "D01": "Walking slowly",
    "D02": "Walking quickly",
    "D03": "Jogging slowly",
    "D04": "Jogging quickly",
    "D05": "Walking upstairs and downstairs slowly",
    "D06": "Walking upstairs and downstairs quickly",
    "D07": "Slowly sit in a half height chair, wait a moment, and up slowly",
    "D08": "Quickly sit in a half height chair, wait a moment, and up quickly",
    "D09": "Slowly sit in a low height chair, wait a moment, and up slowly",
    "D10": "Quickly sit in a low height chair, wait a moment, and up quickly",
    "D11": "Sitting a moment, trying to get up, and collapse into a chair",
    "D12": "Sitting a moment, lying slowly, wait a moment, and sit again",
    "D13": "Sitting a moment, lying quickly, wait a moment, and sit again",
    "D14": "Being on one's back change to lateral position, wait a moment, and change to one's back",
    "D15": "Standing, slowly bending at knees, and getting up",
    "D16": "Standing, slowly bending without bending knees, and getting up",
    "D17": "Standing, get into a car, remain seated and get out of the car",
    "D18": "Stumble while walking",
    "D19": "Gently jump without falling (trying to reach a high object)",
    "F01": "Fall forward while walking caused by a slip",
    "F02": "Fall backward while walking caused by a slip",
    "F03": "Lateral fall while walking caused by a slip",
    "F04": "Fall forward while walking caused by a trip",
    "F05": "Fall forward while jogging caused by a trip",
    "F06": "Vertical fall while walking caused by fainting",
    "F07": "Fall while walking, with use of hands in a table to dampen fall, caused by fainting",
    "F08": "Fall forward when trying to get up",
    "F09": "Lateral fall when trying to get up",
    "F10": "Fall forward when trying to sit down",
    "F11": "Fall backward when trying to sit down",
    "F12": "Lateral fall when trying to sit down",
    "F13": "Fall forward while sitting, caused by fainting or falling asleep",
    "F14": "Fall backward while sitting, caused by fainting or falling asleep",
    "F15": "Lateral fall while sitting, caused by fainting or falling asleep",
}
# Positions the detector is meant for (waist: SisFall, UMAFall WAIST; wrist: UMAFall WRIST). The other
# UMAFall positions are reported for information.
SUPPORTED_POSITIONS = ("WAIST", "WRIST")
_SISFALL_NAME = re.compile(r"^([DF]\d\d)_(S[AE]\d\d)_(R\d\d)\.txt$")
_UMAFALL_NAME = re.compile(r"^UMAFall_Subject_(\d+)_(ADL|Fall)_(.+?)_(\d+)_\d{4}-\d\d-\d\d")


def validate_real_recordings(
    shared_dir: str | Path, config: SensorFallConfig | None = None, *, all_positions: bool = True
) -> list[dict]:
    """The decision per real trial in ``shared_dir`` (``.../shared/data`` or its ``falls`` folder).

    One row per SisFall file and per UMAFall file and body position (all five with ``all_positions``,
    else waist and wrist): file, dataset, subject, activity, position, expected fall, decision, whether it
    is correct, whether the position is one the detector supports, and the measures behind the decision.
    """
    root = Path(shared_dir)
    falls_dir = root / "falls" if (root / "falls").is_dir() else root
    if not falls_dir.is_dir():
        raise InputError(f"No fall recordings folder at {falls_dir}.")
    rows = []
    for path in sorted((falls_dir / "sisfall").glob("*.txt")):
        match = _SISFALL_NAME.match(path.name)
        if not match:
            continue
        code, subject, _ = match.groups()
        recording = read_sensor_file(path)
        rows.append(
            _row(
                path,
                "SisFall",
                subject,
                SISFALL_ACTIVITIES.get(code, code),
                "WAIST",
                code.startswith("F"),
                recording,
                config,
            )
        )
    for path in sorted((falls_dir / "umafall").glob("*.csv")):
        match = _UMAFALL_NAME.match(path.name)
        if not match:
            continue
        subject, kind, activity, _ = match.groups()
        positions = read_sensor_file(path).meta["positions"] if all_positions else list(SUPPORTED_POSITIONS)
        ordered = [p for p in SUPPORTED_POSITIONS if p in positions] + [
            p for p in positions if p not in SUPPORTED_POSITIONS
        ]
        for position in ordered:
            recording = read_sensor_file(path, device=position)
            rows.append(
                _row(path, "UMAFall", f"S{subject}", activity, position, kind == "Fall", recording, config)
            )
    return rows


def _row(
    path: Path,
    dataset: str,
    subject: str,
    activity: str,
    position: str,
    expected: bool,
    recording: SensorRecording,
    config: SensorFallConfig | None,
) -> dict:
    result = detect_falls_in_recording(recording, config=config)
    best = max(result.candidates, key=lambda c: (c.is_fall, c.score), default=None)
    return {
        "file": path.name,
        "dataset": dataset,
        "subject": subject,
        "activity": activity,
        "position": position,
        "supported_position": position in SUPPORTED_POSITIONS,
        "rate_hz": round(recording.sample_rate_hz, 1),
        "expected_fall": expected,
        "decision": result.fall,
        "correct": result.fall == expected,
        "alarm": result.alarm,
        "impact_s": None if best is None else round(best.impact_s, 2),
        "peak_acc_g": None if best is None else round(best.peak_acc_g, 2),
        "delta_v_ms": None if best is None else round(best.delta_v_ms, 2),
        "posture_change_deg": None
        if best is None or best.posture_change_deg is None
        else round(best.posture_change_deg, 1),
        "still_std_g": None if best is None or best.still_std_g is None else round(best.still_std_g, 3),
        "score": round(result.probability, 3),
        "reason": "no impact above the candidate threshold" if best is None else best.reason,
    }


def format_validation_table(rows: list[dict]) -> str:
    """The validation rows as a fixed-width text table (for the CLI and reports)."""
    header = (
        "file",
        "pos",
        "Hz",
        "expect",
        "decision",
        "ok",
        "peak g",
        "dv m/s",
        "posture",
        "still g",
        "alarm",
    )
    lines = [header]
    for r in rows:
        lines.append(
            (
                r["file"][:52],
                r["position"] + ("" if r["supported_position"] else "*"),
                f"{r['rate_hz']:g}",
                "fall" if r["expected_fall"] else "ADL",
                "FALL" if r["decision"] else "no fall",
                "ok" if r["correct"] else "WRONG",
                "-" if r["peak_acc_g"] is None else f"{r['peak_acc_g']:.2f}",
                "-" if r["delta_v_ms"] is None else f"{r['delta_v_ms']:.2f}",
                "-" if r["posture_change_deg"] is None else f"{r['posture_change_deg']:.0f}",
                "-" if r["still_std_g"] is None else f"{r['still_std_g']:.3f}",
                "yes" if r["alarm"] else "no",
            )
        )
    widths = [max(len(str(line[c])) for line in lines) for c in range(len(header))]
    text = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines]
    text.append("* position not targeted by the detector (reported for information)")
    return "\n".join(text)
