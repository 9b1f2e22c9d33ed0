"""The walkway's numbers for the patient: GAITRite-named gait parameters from a tracked walking video.

``analyse_gait`` takes the patient's :class:`~core.types.Track` and returns a :class:`GaitResult`:

1. joint signals are cleaned (:mod:`core.gait.signals`);
2. gait events come from the learned detector (:mod:`core.gait.learned`) when its weights are installed,
   else from the rule-based detector the walking direction picks (side view: ``sagittal``; toward or
   away: ``frontal``; :mod:`core.gait.events`), unless the user chose one; the view's rule-based detector
   also supplies the geometry (the ground plane toward the camera) and the check that the legs step.
   Detected events are shifted by the detector's systematic offset (:data:`EVENT_OFFSETS`, a share of the
   gait cycle measured on the synthetic lab);
3. the longest straight pass is kept (a turn splits the walk);
4. every complete gait cycle becomes a :class:`Stride`; parameters are means over strides (a stride whose
   value is an outlier among the trial's strides - a misplaced event - is left out of that mean), each
   with the standard deviation over strides as its uncertainty and the number of strides it rests on;
5. lengths need a calibration (:mod:`core.gait.calibration`) and a side view or a walk toward or away from
   the camera; otherwise (no calibration, or an oblique walk) only temporal parameters are reported;
6. the quality gate (:func:`quality_of`) refuses an analysis the video cannot support, with the reason.

Definitions follow the GAITRite manual as the synthetic lab's ground truth does (``core.synth.walker``):
a step ends with the named foot's heel strike; a cycle runs from a heel strike of the named foot to its
next; double support is the initial plus terminal double-support time of the cycle; cadence is 120 / mean
cycle time. Toe in/out is not reported: COCO keypoints have no toes.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from core.errors import InputError
from core.gait import learned
from core.gait.calibration import (
    Calibration,
    DepthScale,
    PlaneScale,
    depth_scale,
    focal_from_fov,
    plane_scale,
)
from core.gait.events import (
    METHODS,
    SIDES,
    GaitEvents,
    choose_method,
    detect_events,
    fuse_heel_strikes,
    ground_plane,
)
from core.gait.signals import CUTOFF_HZ, JointSignals, joint_signals
from core.series import true_runs
from core.types import KP, Track, VideoInfo

SIDE_CODE = {"left": "L", "right": "R"}

# Systematic offsets of each detector, as a share of the gait cycle, added to detected (heel strike,
# toe off) times. Measured on the synthetic lab's calibration subjects, who never appear in the validation
# benchmark: python -m core bench gait-offsets (see core/gait/bench.py). Real feet may differ.
# Measured 2026-11-21 (medians over 465 side-view, 231 toward, 151 away and 814 stillness heel strikes of 80
# simulated subjects seen through the YOLO noise model; the validation benchmark uses other subjects).
EVENT_OFFSETS: dict[str, tuple[float, float]] = {
    "sagittal": (0.025, -0.002),
    "frontal-toward": (-0.007, -0.063),
    "frontal-away": (0.174, 0.163),
    "stillness": (0.017, 0.082),
    # trained on the true event times: measured -0.001 / +0.002 of a cycle (970 heel strikes), left at 0
    "learned": (0.0, 0.0),
}

# Quality gate: named thresholds ("rather no result than a bad result").
MIN_CYCLES_PER_SIDE = 3  # GAITRite practice: at least three strides per foot on the walkway
MIN_LEG_CONFIDENCE = 0.5  # mean keypoint confidence of hips, knees and ankles
MAX_MISSING_LEG_SHARE = 0.25  # leg keypoints missing in more than this share of frames: refused
WARN_MISSING_LEG_SHARE = 0.10
MAX_CV_STRIDE_TIME = 20.0  # %: above this, steps are irregular or events unreliable (flagged)
EDGE_MARGIN_PX = 3  # a box this close to the image edge means the patient is (partly) out of frame
MAX_EDGE_SHARE = 0.15  # share of frames at the image edge above which leaving the frame is flagged
MIN_PASS_S = 2.0  # a straight pass shorter than this is not analysed
FUSE_WITHIN_CYCLE = 0.15  # two detectors' heel strikes this close (share of the cycle) are the same event
OUTLIER_MADS = 3.0  # a stride value this many robust SDs from the trial's median is an event outlier
CYCLE_RANGE = (0.7, 1.4)  # a cycle outside this share of the median cycle hides a missed or false event
STANCE_RANGE_PCT = (40.0, 90.0)  # stance outside this is not walking: an event was misplaced
TURN_SPEED_SHARE = 0.2  # walking speed below this share of the median marks a stop or turn
# Walking angle to the image plane: up to this a side view (lengths foreshortened by < 1 - cos 20 = 6 %),
# from FRONTAL_VIEW_MIN_DEG a walk toward or away from the camera; in between, oblique (no lengths).
SIDE_VIEW_MAX_DEG = 20.0
# The legs must step. Side view: the ankle's excursion relative to the pelvis (5th-95th percentile, body
# heights) is >= 0.17 for every simulated gait (0.45 on the real sports2d walk) and 0.04 for photographs of
# people slid across a picture; seen from the front, the swinging foot moves >= 3.9x faster in depth than
# the body when walking and about as fast as the body without steps.
MIN_LEG_EXCURSION = 0.10
MIN_SWING_SPEED_RATIO = 2.0
FRONTAL_VIEW_MIN_DEG = 65.0

LEG_KEYPOINTS = [KP[f"{s}_{j}"] for s in SIDES for j in ("hip", "knee", "ankle")]


@dataclass(frozen=True)
class GaitSettings:
    method: str = "auto"
    calibration: Calibration = field(default_factory=Calibration)
    cutoff_hz: float = CUTOFF_HZ

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown gait event method {self.method!r}; choose one of {', '.join(METHODS)}")

    def to_dict(self) -> dict:
        return {"method": self.method, "calibration": self.calibration.to_dict(), "cutoff_hz": self.cutoff_hz}


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float | None
    unit: str
    uncertainty: float | None = None  # standard deviation over strides
    n: int = 0  # strides (or steps) it rests on

    def to_dict(self) -> dict:
        def r(v):
            return None if v is None or not np.isfinite(v) else round(float(v), 4)

        return {"value": r(self.value), "unit": self.unit, "uncertainty": r(self.uncertainty), "n": self.n}


@dataclass(frozen=True)
class Stride:
    """One gait cycle of one foot."""

    side: str  # "L" or "R"
    heel_strike_s: float
    toe_off_s: float
    next_heel_strike_s: float
    cycle_s: float
    stance_pct: float
    double_support_pct: float | None
    step_time_s: float | None  # from the other foot's heel strike to this one
    stride_length_cm: float | None
    step_length_cm: float | None
    base_support_cm: float | None

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Quality:
    usable: bool
    reasons: tuple[str, ...]  # why the result is refused
    warnings: tuple[str, ...]  # what to be careful with, the result is still reported

    def to_dict(self) -> dict:
        return {"usable": self.usable, "reasons": list(self.reasons), "warnings": list(self.warnings)}


@dataclass
class GaitResult:
    parameters: dict[str, Parameter]
    strides: list[Stride]
    events: GaitEvents
    signals: JointSignals
    view: str  # walking direction: across, toward, away, oblique
    method: str
    calibration: str  # how lengths were obtained, in words, or why they are missing
    pass_s: tuple[float, float]  # the analysed straight pass
    quality: Quality
    walk_angle_deg: float = 0.0  # the walk's angle to the image plane (0 = side view, 90 = toward/away)
    strides_rejected: int = 0
    angles: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # side -> joint -> (cycles, 101)

    def to_dict(self) -> dict:
        usable = self.quality.usable
        return {
            "parameters": {name: p.to_dict() for name, p in self.parameters.items()} if usable else {},
            "quality": self.quality.to_dict(),
            "gait": {
                "view": self.view,
                "walk_angle_deg": round(self.walk_angle_deg, 1),
                "method": self.method,
                "calibration": self.calibration,
                "pass_s": [round(self.pass_s[0], 3), round(self.pass_s[1], 3)],
                "events": self.events.to_dict(),
                "strides": [s.to_dict() for s in self.strides],
                "strides_rejected": self.strides_rejected,
            },
        }


def walking_view(signals: JointSignals, video: VideoInfo, hfov_deg: float) -> tuple[str, float]:
    """The walk's direction relative to the camera, from the pinhole model: ("across" | "oblique" | "toward"
    | "away", angle in degrees from the image plane).

    With body height ``h`` px and focal length ``f``, the pelvis is ``(x - cx) / h`` body heights to the side
    and ``f / h`` body heights deep; the angle of the travelled line in that ground plane is the walk's
    angle. ``f`` comes from the field of view; an error of a few degrees in it shifts the angle little.
    """
    focal = focal_from_fov(video.width, hfov_deg)
    h = signals.stature_px
    lateral = (signals.pelvis[:, 0] - video.width / 2) / h
    depth = focal / h
    ok = np.isfinite(lateral) & np.isfinite(depth)
    if ok.sum() < 3:
        return "across", 0.0
    # speeds, not net travel, so a walk there and back is still a side view; smoothed over about a
    # gait cycle so that step-by-step sway does not count
    window = max(1, round(signals.rate_hz))
    kernel = np.ones(window) / window
    speed_lateral = np.gradient(np.convolve(lateral[ok], kernel, mode="valid"))
    speed_depth = np.gradient(np.convolve(depth[ok], kernel, mode="valid"))
    if len(speed_lateral) < 2:
        return "across", 0.0
    d_lateral = float(np.median(np.abs(speed_lateral)))
    d_depth = float(np.median(np.abs(speed_depth))) * np.sign(np.median(speed_depth))
    angle = float(np.degrees(np.arctan2(abs(d_depth), d_lateral)))
    if angle <= SIDE_VIEW_MAX_DEG:
        return "across", angle
    if angle >= FRONTAL_VIEW_MIN_DEG:
        return ("toward" if d_depth < 0 else "away"), angle
    return "oblique", angle


def _offset_key(method: str, view: str) -> str:
    if method == "frontal":
        return "frontal-away" if view == "away" else "frontal-toward"
    return method


def shift_events(events: GaitEvents, offsets: tuple[float, float], cycle_s: float) -> GaitEvents:
    """Correct a detector's known timing offsets (given as shares of the gait cycle)."""
    feet = {
        side: type(foot)(foot.heel_strike_s + offsets[0] * cycle_s, foot.toe_off_s + offsets[1] * cycle_s)
        for side, foot in events.feet.items()
    }
    return GaitEvents(events.method, feet, events.signal_name, events.signal)


def median_cycle_s(events: GaitEvents) -> float | None:
    cycles = np.concatenate([np.diff(foot.heel_strike_s) for foot in events.feet.values()])
    return float(np.median(cycles)) if len(cycles) else None


def straight_pass(signals: JointSignals, view: str) -> tuple[float, float, bool]:
    """The longest stretch walked in one direction (start s, end s, whether a turn or stop split the walk)."""
    if view in ("toward", "away"):
        progress = 1.0 / signals.stature_px  # proportional to depth
    else:
        progress = signals.pelvis[:, 0] / np.nanmedian(signals.stature_px)
    velocity = np.gradient(progress) * signals.rate_hz
    finite = np.isfinite(velocity)
    if finite.sum() < 3:
        return float(signals.time_s[0]), float(signals.time_s[-1]), False
    # smooth over a gait cycle: steps make the pelvis surge and slow within each cycle
    window = max(1, min(round(signals.rate_hz), len(velocity)))  # "same" output is the longer input's length
    smooth = np.convolve(np.where(finite, velocity, 0.0), np.ones(window) / window, mode="same")
    typical = float(np.nanmedian(np.abs(smooth)))
    # walking one way, or the other: a turn starts a run in the opposite direction
    runs = true_runs(smooth > TURN_SPEED_SHARE * typical) + true_runs(smooth < -TURN_SPEED_SHARE * typical)
    if not runs:
        return float(signals.time_s[0]), float(signals.time_s[-1]), False
    best = max(runs, key=lambda run: run[1] - run[0])
    split = any((b - a) / signals.rate_hz >= MIN_PASS_S / 2 for a, b in runs if (a, b) != best)
    t = signals.time_s
    return float(t[best[0]]), float(t[best[1] - 1]), split


def _positions_cm(
    signals: JointSignals, side: str, times: np.ndarray, scale, plane, video: VideoInfo
) -> tuple[np.ndarray, np.ndarray | None]:
    """Where a foot was at ``times``: (position along the walk in cm, lateral position in cm or None)."""
    ankle = signals.joint(f"{side}_ankle")
    at = lambda values: np.interp(times, signals.time_s, values, left=np.nan, right=np.nan)  # noqa: E731
    if isinstance(scale, PlaneScale):
        return at(ankle[:, 0]) * scale.cm_per_px, None
    y0, k = plane
    depth = scale.fh_cm * k / (at(ankle[:, 1]) - y0)
    lateral = None
    if scale.focal_px:
        lateral = (at(ankle[:, 0]) - video.width / 2) * depth / scale.focal_px
    return depth, lateral


def build_strides(
    events: GaitEvents, window: tuple[float, float], signals: JointSignals, scale, plane, video: VideoInfo
) -> list[Stride]:
    """Every complete cycle of each foot inside the analysed pass."""
    lo, hi = window
    strides: list[Stride] = []
    feet = events.feet
    for side in SIDES:
        other = "right" if side == "left" else "left"
        hs, to = feet[side].heel_strike_s, feet[side].toe_off_s
        other_hs, other_to = feet[other].heel_strike_s, feet[other].toe_off_s
        for a, b in itertools.pairwise(hs):
            if a < lo or b > hi:
                continue
            cycle = b - a
            toe = to[(to > a) & (to < b)]
            if len(toe) != 1:
                continue  # a missed or doubled toe off: not a clean cycle
            stance = 100 * (toe[0] - a) / cycle
            o_to_after = other_to[(other_to > a) & (other_to < toe[0])]
            o_hs_before = other_hs[(other_hs > a) & (other_hs < toe[0])]
            double = None
            if len(o_to_after) == 1 and len(o_hs_before) == 1:
                double = 100 * ((o_to_after[0] - a) + (toe[0] - o_hs_before[0])) / cycle
            previous_other = other_hs[other_hs < a]
            step_time = (
                float(a - previous_other[-1])
                if len(previous_other) and a - previous_other[-1] < cycle
                else None
            )
            stride_cm = step_cm = base_cm = None
            if scale is not None:
                along, lateral = _positions_cm(signals, side, np.array([a, b]), scale, plane, video)
                stride_cm = float(abs(along[1] - along[0]))
                if step_time is not None:
                    o_along, o_lateral = _positions_cm(
                        signals, other, np.array([previous_other[-1]]), scale, plane, video
                    )
                    step_cm = float(abs(along[0] - o_along[0]))
                    if lateral is not None and o_lateral is not None:
                        base_cm = float(abs(lateral[0] - o_lateral[0]))
            strides.append(
                Stride(
                    SIDE_CODE[side],
                    float(a),
                    float(toe[0]),
                    float(b),
                    float(cycle),
                    float(stance),
                    double,
                    step_time,
                    stride_cm if stride_cm is None or np.isfinite(stride_cm) else None,
                    step_cm if step_cm is None or np.isfinite(step_cm) else None,
                    base_cm if base_cm is None or np.isfinite(base_cm) else None,
                )
            )
    return sorted(strides, key=lambda s: s.heel_strike_s)


def plausible_strides(strides: list[Stride]) -> tuple[list[Stride], int]:
    """Drop strides whose timing betrays a missed or misplaced event (returns those kept, count dropped)."""
    if not strides:
        return strides, 0
    median = float(np.median([s.cycle_s for s in strides]))
    kept = [
        s
        for s in strides
        if CYCLE_RANGE[0] * median <= s.cycle_s <= CYCLE_RANGE[1] * median
        and STANCE_RANGE_PCT[0] <= s.stance_pct <= STANCE_RANGE_PCT[1]
    ]
    return kept, len(strides) - len(kept)


def _without_outliers(values: np.ndarray) -> np.ndarray:
    """Drop values more than :data:`OUTLIER_MADS` robust SDs (1.4826 MAD) from the median (4+ values)."""
    if len(values) < 4:
        return values
    median = np.median(values)
    spread = 1.4826 * np.median(np.abs(values - median))
    return values[np.abs(values - median) <= OUTLIER_MADS * spread] if spread > 0 else values


def _mean_parameter(name: str, values, unit: str) -> Parameter:
    """Mean over strides (after :func:`_without_outliers`), its SD as uncertainty, and the strides used."""
    values = _without_outliers(np.array([v for v in values if v is not None and np.isfinite(v)], float))
    if len(values) == 0:
        return Parameter(name, None, unit, None, 0)
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return Parameter(name, float(np.mean(values)), unit, sd, len(values))


def _cv(name: str, values) -> Parameter:
    values = np.array([v for v in values if v is not None and np.isfinite(v)], float)
    if len(values) < 3:
        return Parameter(name, None, "%", None, len(values))
    return Parameter(name, float(100 * np.std(values, ddof=1) / np.mean(values)), "%", None, len(values))


def _symmetry(name: str, left: Parameter, right: Parameter) -> Parameter:
    """Symmetry index 100 * |L - R| / ((L + R) / 2) (Robinson et al. 1987): 0 = perfectly symmetric."""
    if left.value is None or right.value is None or left.value + right.value == 0:
        return Parameter(name, None, "%", None, 0)
    value = 100 * abs(left.value - right.value) / ((left.value + right.value) / 2)
    return Parameter(name, value, "%", None, min(left.n, right.n))


def gait_parameters(strides: list[Stride], velocity_cm_s: Parameter | None) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    if velocity_cm_s is not None:
        out["Velocity"] = velocity_cm_s
    cycles = [s.cycle_s for s in strides]
    cadence = _mean_parameter("Cadence", [120 / c for c in cycles], "steps/min")
    if cycles:
        cadence = Parameter(
            "Cadence", 120 / float(np.mean(cycles)), "steps/min", cadence.uncertainty, len(cycles)
        )
    out["Cadence"] = cadence
    for code in ("L", "R"):
        own = [s for s in strides if s.side == code]
        rows = {
            "Cycle Time(sec)": ([s.cycle_s for s in own], "s"),
            "Stride Length(cm)": ([s.stride_length_cm for s in own], "cm"),
            "Step Length(cm)": ([s.step_length_cm for s in own], "cm"),
            "Step Time(sec)": ([s.step_time_s for s in own], "s"),
            "HH Base Support(cm)": ([s.base_support_cm for s in own], "cm"),
            "Swing % of Cycle": ([100 - s.stance_pct for s in own], "%"),
            "Stance % of Cycle": ([s.stance_pct for s in own], "%"),
            "Double Supp % Cycle": ([s.double_support_pct for s in own], "%"),
        }
        for base, (values, unit) in rows.items():
            out[f"{base}/{code}"] = _mean_parameter(f"{base}/{code}", values, unit)
        out[f"CV Stride Length/{code}"] = _cv(f"CV Stride Length/{code}", [s.stride_length_cm for s in own])
        out[f"CV Stride Time/{code}"] = _cv(f"CV Stride Time/{code}", [s.cycle_s for s in own])
    for label, base in (
        ("Step Length", "Step Length(cm)"),
        ("Step Time", "Step Time(sec)"),
        ("Stance", "Stance % of Cycle"),
        ("Swing", "Swing % of Cycle"),
    ):
        out[f"Symmetry Index {label}"] = _symmetry(
            f"Symmetry Index {label}", out[f"{base}/L"], out[f"{base}/R"]
        )
    return {name: p for name, p in out.items() if p.value is not None}


def _velocity(signals: JointSignals, window, view: str, scale, strides: list[Stride]) -> Parameter | None:
    """Walking speed from the pelvis's travel over the pass (uncertainty: spread of per-stride speeds)."""
    if scale is None:
        return None
    t = signals.time_s
    inside = (t >= window[0]) & (t <= window[1])
    if isinstance(scale, PlaneScale):
        position = signals.pelvis[:, 0] * scale.cm_per_px
    else:
        position = scale.fh_cm / signals.stature_px
    ok = inside & np.isfinite(position)
    if ok.sum() < 3:
        return None
    slope = abs(np.polyfit(t[ok], position[ok], 1)[0])
    per_stride = [s.stride_length_cm / s.cycle_s for s in strides if s.stride_length_cm]
    sd = float(np.std(per_stride, ddof=1)) if len(per_stride) > 1 else None
    return Parameter("Velocity", float(slope), "cm/s", sd, len(per_stride))


def joint_angle_cycles(signals: JointSignals, strides: list[Stride]) -> dict[str, dict[str, np.ndarray]]:
    """Sagittal hip and knee flexion (degrees) over each cycle, resampled to 0-100 % of the cycle."""

    def flexion(a: str, b: str, c: str) -> np.ndarray:
        u, v = signals.joint(a) - signals.joint(b), signals.joint(c) - signals.joint(b)
        cos = np.sum(u * v, axis=1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        return 180.0 - np.degrees(np.arccos(np.clip(cos, -1, 1)))

    out: dict[str, dict[str, np.ndarray]] = {}
    grid = np.linspace(0, 1, 101)
    for side in SIDES:
        code = SIDE_CODE[side]
        curves = {
            "hip": flexion(f"{side}_shoulder", f"{side}_hip", f"{side}_knee"),
            "knee": flexion(f"{side}_hip", f"{side}_knee", f"{side}_ankle"),
        }
        out[side] = {}
        for joint, values in curves.items():
            rows = []
            for s in (s for s in strides if s.side == code):
                times = s.heel_strike_s + grid * s.cycle_s
                rows.append(np.interp(times, signals.time_s, values, left=np.nan, right=np.nan))
            out[side][joint] = np.array(rows) if rows else np.zeros((0, 101))
    return out


def stepping(signals: JointSignals, events: GaitEvents, method: str) -> tuple[float, float, str]:
    """How clearly the legs step: (measure, threshold, what the measure is)."""
    sides = [s for s in SIDES if np.isfinite(events.signal[s]).sum() > 3]
    if not sides:
        return 0.0, 1.0, "leg movement"
    if method == "sagittal":
        excursion = [
            np.nanpercentile(events.signal[s], 95) - np.nanpercentile(events.signal[s], 5) for s in sides
        ]
        return float(np.median(excursion)), MIN_LEG_EXCURSION, "ankle excursion (body heights)"
    body_speed = np.nanmedian(np.abs(np.gradient(1.0 / signals.stature_px))) * signals.rate_hz
    swing = np.median([np.nanpercentile(events.signal[s], 90) for s in sides])
    ratio = float(swing / body_speed) if body_speed > 0 else 0.0
    return ratio, MIN_SWING_SPEED_RATIO, "swing speed / body speed"


def quality_of(
    track: Track,
    signals: JointSignals,
    video: VideoInfo,
    strides: list[Stride],
    turned: bool,
    window,
    params,
    rejected: int = 0,
    stepping_measure: tuple[float, float, str] | None = None,
) -> Quality:
    reasons, warnings = [], []
    if stepping_measure is not None and stepping_measure[0] < stepping_measure[1]:
        value, threshold, what = stepping_measure
        reasons.append(
            f"the legs do not step ({what} {value:.2f}, walking shows at least {threshold:g}): there is no "
            "walk to measure - the person may be standing, carried or wheeled, or the keypoints miss the legs"
        )
    if rejected:
        warnings.append(
            f"{rejected} stride(s) with implausible timing were left out (missed or misplaced events)"
        )
    per_side = {code: sum(s.side == code for s in strides) for code in ("L", "R")}
    if min(per_side.values()) < MIN_CYCLES_PER_SIDE:
        what = f"{per_side['L']} left and {per_side['R']} right"
        span = f"{window[0]:.1f}-{window[1]:.1f} s"
        where = (
            f"the patient turned back or stopped, and the longest straight pass ({span}) has "
            if turned
            else ""
        )
        reasons.append(
            f"{where}too few complete strides ({what}); at least {MIN_CYCLES_PER_SIDE} per foot are needed - "
            "film a longer straight walk"
        )
    legs = track.keypoints[:, LEG_KEYPOINTS, 2]
    missing = float(np.mean(np.any(legs < 0.3, axis=1)))
    if missing > MAX_MISSING_LEG_SHARE:
        reasons.append(f"the legs are hidden or out of view in {missing:.0%} of the frames (occlusion?)")
    elif missing > WARN_MISSING_LEG_SHARE:
        warnings.append(f"the legs are hidden or out of view in {missing:.0%} of the frames")
    confidence = float(np.mean(legs))
    if confidence < MIN_LEG_CONFIDENCE:
        reasons.append(
            f"the pose model is unsure of the legs (mean confidence {confidence:.2f}, needs "
            f"{MIN_LEG_CONFIDENCE}); the video may be too dark or blurred, or the patient too small"
        )
    box = track.boxes
    at_edge = (
        (box[:, 0] <= EDGE_MARGIN_PX)
        | (box[:, 1] <= EDGE_MARGIN_PX)
        | (box[:, 2] >= video.width - EDGE_MARGIN_PX)
        | (box[:, 3] >= video.height - EDGE_MARGIN_PX)
    )
    frames_s = track.frames / video.fps
    inside = (frames_s >= window[0]) & (frames_s <= window[1])
    edge_share = float(np.mean(at_edge[inside])) if inside.any() else 0.0
    if edge_share > MAX_EDGE_SHARE:
        warnings.append(
            f"the patient touches the edge of the picture in {edge_share:.0%} of the analysed frames"
        )
    if turned and not reasons:
        warnings.append(
            f"the patient turned or stopped; only the straight pass from {window[0]:.1f} s to "
            f"{window[1]:.1f} s was analysed"
        )
    for code in ("L", "R"):
        cv = params.get(f"CV Stride Time/{code}")
        if cv is not None and cv.value > MAX_CV_STRIDE_TIME:
            warnings.append(
                f"stride times vary by {cv.value:.0f}% ({code}): irregular gait or unreliable events"
            )
    return Quality(not reasons, tuple(reasons), tuple(warnings))


def analyse_gait(track: Track, video: VideoInfo, settings: GaitSettings | None = None) -> GaitResult:
    """Gait events and GAITRite parameters of the patient's track (see the module docstring)."""
    settings = settings or GaitSettings()
    signals = joint_signals(track, video.fps, settings.cutoff_hz)
    view, walk_angle = walking_view(signals, video, settings.calibration.hfov_deg)
    method = settings.method
    if method == "auto":
        method = "learned" if learned.available() else choose_method(view)
    # the rule-based detector for the view also tells the geometry (ground plane toward the camera) and
    # whether the legs step at all, whichever detector times the events
    rules = detect_events(signals, choose_method(view) if method == "learned" else method)
    raw = learned.learned_events(signals) if method == "learned" else rules
    cycle = median_cycle_s(raw) or 1.1
    events = shift_events(raw, EVENT_OFFSETS[_offset_key(raw.method, view)], cycle)
    if raw.method == "sagittal":
        # heel strikes from the ankle's stillness are as unbiased across gait patterns and independent of
        # the ankle-pelvis signal: fusing them halves the heel-strike timing noise (core/gait/bench.py)
        still = shift_events(detect_events(signals, "stillness"), EVENT_OFFSETS["stillness"], cycle)
        events = fuse_heel_strikes(events, still, FUSE_WITHIN_CYCLE * cycle)

    start, end, turned = straight_pass(signals, view)
    window = (start, end)
    plane = ground_plane(signals) if rules.method == "frontal" else None
    scale: PlaneScale | DepthScale | None = None
    calibration = "not calibrated: lengths and speed are not reported"
    cal = settings.calibration
    if cal.spatial and view == "oblique":
        # a diagonal walk is foreshortened by an unknown angle: lengths came out ~15 % short on the
        # synthetic benchmark, so none are reported
        calibration = (
            "walking obliquely to the camera: lengths and speed are not reported "
            "(film from the side, or along the walk)"
        )
    elif cal.spatial:
        if rules.method == "frontal":
            scale = depth_scale(cal, video.width, plane)
        else:
            scale = plane_scale(cal, float(np.nanmedian(signals.stature_px)))
        calibration = scale.describe() if scale else f"the {cal.kind} calibration does not apply to this view"
    strides, rejected = plausible_strides(build_strides(events, window, signals, scale, plane, video))
    parameters = gait_parameters(strides, _velocity(signals, window, view, scale, strides))
    steps = stepping(signals, rules, rules.method) if rules.method in ("sagittal", "frontal") else None
    quality = quality_of(track, signals, video, strides, turned, window, parameters, rejected, steps)
    angles = joint_angle_cycles(signals, strides) if rules.method == "sagittal" else {}
    return GaitResult(
        parameters,
        strides,
        events,
        signals,
        view,
        raw.method,
        calibration,
        window,
        quality,
        walk_angle,
        rejected,
        angles,
    )
