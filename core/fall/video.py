"""Has someone on camera fallen, and are they still on the floor? Body state per tracked person and frame.

Clinical question: *did anyone in this ward video fall - not sit, bend, kneel or lie down on purpose - and
are they still down?* The CCTV seed's rule was the body axis (vertical upright, horizontal fallen) and the
number of joints seen; users of open detectors complain most about false alarms when someone sits, bends
or lies down deliberately. What separates a fall from those is not where the body ends up but how it got
there: fast and uncontrolled. Per tracked person (YOLO11n-pose keypoints, :mod:`core.tracking`):

**Measures per frame** (:func:`body_measures`, scale-free, robust to missing joints): the body axis from the
shoulders (else the head) to the ankles (else the knees, else the hips); its angle from the person's own
*vertical* (a running direction learnt from frames where the body stands straight and still, so the
perspective of a ceiling camera, which tilts standing people near the image edges, is not read as a fall);
the *span* (top-bottom extent along the vertical divided by the same extent standing: 1 standing, ~0.5
sitting, ~0 lying across the view); the hips' span above the feet; how straight the legs are; the number of
joints seen. The person's stature in pixels comes from the trunk, thigh and shank lengths (Winter's
proportions, as :mod:`core.gait.signals`) while the body is straight, and is frozen while it is down.

**States** (:data:`BODY_STATES`): ``upright`` (axis within :data:`UPRIGHT_ANGLE_DEG`, span and hip span
high, legs straight, not swinging), ``sitting`` (anything in between: sitting, crouching, bending,
kneeling), ``lying`` (axis past :data:`DOWN_ANGLE_DEG` or span below :data:`DOWN_SPAN`, with hysteresis),
``falling`` (the frames from the last upright frame to a fall's down moment) and ``unknown`` (fewer than
:data:`MIN_VISIBLE_JOINTS` joints). Frames where a down body cannot be measured keep it down for
:data:`DOWN_LOST_S`; a body first seen down after a while unmeasured went down when it was last seen; tracks
the tracker broke while the box changed shape are joined (:func:`stitch_tracks`).

**The fall rule** (:class:`BodyStateMachine`, streaming, so it can run on a live camera): a period down is
judged once it has lasted :data:`CONFIRM_DOWN_S` and the body is then clearly down (past
:data:`DOWN_ANGLE_DEG` or below :data:`DOWN_SPAN`, or not measured): a body already rising again - kneeling,
crouching - is not judged. It is a fall when all four hold within :data:`FALL_LOOKBACK_S` before (or
:data:`FALL_LOOKAHEAD_S` after) the body went down:

1. the shoulders moved relative to the feet at >= :data:`FALL_AXIS_SPEED_H_S` statures/s (rotation or
   collapse of the whole body; displacement over :data:`SPEED_WINDOW_S`);
2. the hips moved down at >= :data:`FALL_HIP_SPEED_H_S` statures/s (sitting onto a bed or bending keeps the
   hips slow; the literature's pelvis speed in falls is 2-4 m/s, 1.2-2.4 statures/s, against well under
   1 m/s sitting or lying down deliberately; the image shows only part of it: a fall toward or away from
   the camera barely turns the axis, a ceiling camera sees the hips' drop foreshortened);
3. the body was upright at most :data:`FALL_MAX_DESCENT_S` before it was down (falls take 0.5-1.5 s from
   loss of balance to impact, most of it slow at first; lying down on purpose goes through intermediate
   postures over several seconds);
4. the body was upright for at least :data:`STOOD_MIN_S` of the :data:`FALL_LOOKBACK_S` before it went down
   (or for :data:`STOOD_SHARE` of the time it was measured there, where that was less), counting only time
   after any earlier down period: the person stood or walked. Someone rising from the floor passes through
   upright-looking postures only for moments before turning fast onto hands and knees, and someone lying
   back onto a bed sat on it first.

The thresholds were chosen on the synthetic lab (:mod:`core.synth.falls`, all six falls and eight
look-alikes, views cctv/oblique/across/toward, development seeds 30000-43305, 6 per activity and view,
exact joints and pose-noise detections at imgsz 320, 640 and auto; ``python -m core bench fall`` evaluates
on other seeds). Over 531 falls' down periods the 5th percentiles were 1.12 statures/s (axis), 0.56 (hips)
and 0.89 s upright before, and the 95th percentile time from upright to down 0.67 s; the slowest falls
found (straight toward or away from the camera, or seen from the ceiling) had axis 0.88 and hips 0.34. Over
238 look-alike down periods, the fast ones (axis >= 0.8, hips >= 0.25) that came within 1.2 s of upright had
stood at most 0.37 s (getting up from the floor), the fast ones after standing took at least 1.33 s from
upright (lying down on the floor), and the quick ones after standing moved the hips at most 0.19 statures/s
(lying back onto a bed, sitting down). Checked on more scenes: of 320 getting up from the floor (seeds
50000-50039, exact joints and auto), judging only a body still clearly down left one false fall (a
bystander walking out of the picture under the ceiling camera; 34 before these rules); of 560 other
look-alikes (seeds 50000-50019, auto), two people lying back onto a bed moved the hips at 0.33-0.40
statures/s but had stood only 0.07 and 0.30 s. The per-frame probability
(0-1, for the timeline) is the fuzzy AND of the four criteria (0.5 at the thresholds) times how "down" the
posture looks.

Alarm: a fall followed by lying for ``lying_alarm_s`` (default :data:`core.alarms.LYING_ALARM_S`, the seed's
10 s), through :func:`core.alarms.alarms_in_timeline`; deliberate lying raises none. The pose model finds
lying people less often than upright ones, so a fallen person it loses is presumed to lie on until someone
is seen near the spot again or the video ends (:func:`presumed_lying_until`; not at the image border), and
a body it loses once down is judged as if still down (:meth:`BodyStateMachine.unseen`).

Limits (seen in the lab): a single 2D view is ambiguous - from a ceiling camera a crouch can look upright
and a fall straight away from the camera shortens the body without turning it (the body then looks like
someone sitting: missed); seen from the front, someone sitting on the floor with the legs toward the camera
looks like someone standing; lying down on the floor quickly (crouching to the floor in about a second)
can pass for a fall (5 of those 560 more look-alikes raised an alarm, before these rules too); people lying
far from a ceiling camera are small and the pose model misses many of them, and a person it loses while
still falling, before the body read as down, is not presumed fallen (someone sitting down fast and then
hidden would raise an alarm) - see the bench.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from core.alarms import LYING_ALARM_S, alarms_in_timeline
from core.fall.scores import soft_threshold
from core.gait.signals import SHANK_SHARE, THIGH_SHARE, TRUNK_SHARE
from core.types import KP, Track

# --- what the pose model must see ----------------------------------------------------------------------
KEYPOINT_MIN_CONFIDENCE = 0.5  # the noise model's and the gait stage's "missing" limit for YOLO11n-pose
MIN_VISIBLE_JOINTS = 6  # of 17: fewer and the person is half hidden or not a person; the state is unknown

# Heights of body landmarks as a share of stature (Winter 2009, as core.gait.signals): the body's upright
# span between two landmarks scales every posture measure to the person's own size.
EAR_SHARE = 0.936  # head (ears/eyes level)
SHOULDER_SHARE = 0.818
HIP_SHARE = SHOULDER_SHARE - TRUNK_SHARE
KNEE_SHARE = HIP_SHARE - THIGH_SHARE
ANKLE_SHARE = KNEE_SHARE - SHANK_SHARE

HEAD = tuple(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
SHOULDERS = (KP["left_shoulder"], KP["right_shoulder"])
HIPS = (KP["left_hip"], KP["right_hip"])
KNEES = (KP["left_knee"], KP["right_knee"])
ANKLES = (KP["left_ankle"], KP["right_ankle"])
# Upper and lower end of the body axis, best first, with the landmark's height share.
TOPS = ((SHOULDERS, SHOULDER_SHARE), (HEAD, EAR_SHARE))
BOTTOMS = ((ANKLES, ANKLE_SHARE), (KNEES, KNEE_SHARE), (HIPS, HIP_SHARE))

BODY_STATES = ("upright", "sitting", "falling", "lying", "unknown")
STATE_CODE = {name: i for i, name in enumerate(BODY_STATES)}

# --- thresholds (justified in the module docstring) -----------------------------------------------------
REFERENCE_WINDOW_S = 1.5  # the person's stature in px: the largest straight-body estimate this recent
STRAIGHT_TOLERANCE = 0.08  # a limb chain is straight when its end-to-end length is within 8 % of its sum
VERTICAL_MIN_LENGTH = 0.85  # a straight body this long (share of stature) shows where "up" is in the image
VERTICAL_MAX_TURN_DEG = 30.0  # ... if it is within this of the current vertical (a lying body is not)
VERTICAL_MAX_SPEED_H_S = 0.3  # ... and not turning (a body on its way down is straight too)
VERTICAL_TAU_S = 2.0  # time constant of the running vertical (perspective changes as people cross a view)
UPRIGHT_ANGLE_DEG = 30.0
UPRIGHT_SPAN = 0.75
UPRIGHT_HIP_SPAN = 0.7
UPRIGHT_GAP_S = 0.25  # a measured frame counts for the time since the previous one, at most this long
UPRIGHT_MAX_AXIS_SPEED_H_S = 0.6  # ... and is steady (walking ~0.2-0.4; a body swinging up or down is not)
UPRIGHT_LEG_EXTENSION = 0.85  # hip-ankle distance / thigh + shank: kneeling or sitting on the floor ~0.7
DOWN_ANGLE_DEG = 55.0
DOWN_SPAN = 0.45
STAY_DOWN_ANGLE_DEG = 40.0  # hysteresis: once down, the body must clearly rise to be up again
STAY_DOWN_SPAN = 0.6
DOWN_GAP_S = 0.5  # shorter interruptions of the down posture (a limb moving, a bad pose) are ignored
DOWN_LOST_S = 3.0  # frames where the body cannot be measured keep it down, for at most this long
SPEED_WINDOW_S = 0.2  # speeds: displacement over this long, causal
FALL_AXIS_SPEED_H_S = 0.8  # peak speed of the shoulders relative to the feet in a fall, statures/s
AXIS_SPEED_SCALE_H_S = 0.15
FALL_HIP_SPEED_H_S = 0.25  # peak downward speed of the hips in a fall, statures/s
HIP_SPEED_SCALE_H_S = 0.08
FALL_MAX_DESCENT_S = 1.2  # from the last upright frame to down
DESCENT_SCALE_S = 0.2
STOOD_MIN_S = 0.4  # upright this long in total in the FALL_LOOKBACK_S before going down (see the docstring)
STOOD_SHARE = 0.5  # ... or for this share of that time, where the body was measured for less of it
STOOD_SCALE_S = 0.1
FALL_START_AXIS_SPEED_H_S = 0.3  # without an upright frame, the fall starts when the axis moves this fast
FALL_LOOKBACK_S = 2.0  # the speeds must peak within this long before the body is down ...
FALL_LOOKAHEAD_S = 0.5  # ... or just after (the posture can read "down" before the body stops)
# A track that ends and one that starts this soon after, where it ended, are one person: the pose model often
# loses a falling body for a moment (motion blur, an unusual posture), and the box changes shape too fast
# for IoU matching.
STITCH_GAP_S = 1.5
STITCH_MAX_DISTANCE = 0.75  # ... if the new box's centre is this close (share of the old box's larger side)
EDGE_MARGIN = 0.02  # a box this close to the image border (share of its larger side) may be leaving it
CONFIRM_DOWN_S = 1.5  # the body must stay down this long for a fall to count (not a stumble)
DOWN_ANGLE_SCALE_DEG = 6.0
DOWN_SPAN_SCALE = 0.05


# Who decides that a down period was a fall: the state machine's rules, the learned detector
# (core.fall.learned), or either of them; "auto" is AUTO_METHOD when the learned weights are installed,
# else the rules.
FALL_METHODS = ("auto", "rules", "learned", "either")
AUTO_METHOD = "learned"  # development scenes: falls found as often as with "either", fewer false falls
MERGE_S = 3.0  # a learned fall this close to a rule fall of the same track is the same fall


def resolve_method(method: str) -> str:
    """The method ``method`` stands for here (``auto``: depends on the installed weights)."""
    if method != "auto":
        return method
    from core.fall import learned

    return AUTO_METHOD if learned.available() else "rules"


@dataclass(frozen=True)
class VideoFallConfig:
    """The video detector's thresholds (defaults: the named constants above)."""

    upright_angle_deg: float = UPRIGHT_ANGLE_DEG
    upright_span: float = UPRIGHT_SPAN
    down_angle_deg: float = DOWN_ANGLE_DEG
    down_span: float = DOWN_SPAN
    fall_axis_speed_h_s: float = FALL_AXIS_SPEED_H_S
    fall_hip_speed_h_s: float = FALL_HIP_SPEED_H_S
    fall_max_descent_s: float = FALL_MAX_DESCENT_S
    confirm_down_s: float = CONFIRM_DOWN_S
    min_visible_joints: int = MIN_VISIBLE_JOINTS
    lying_alarm_s: float = LYING_ALARM_S
    method: str = "auto"  # see FALL_METHODS

    def __post_init__(self) -> None:
        if self.method not in FALL_METHODS:
            raise ValueError(f"fall method must be one of {FALL_METHODS}, got {self.method!r}")

    def to_dict(self) -> dict:
        return asdict(self)


# --- per-frame measures -----------------------------------------------------------------------------------


def _landmark(keypoints: np.ndarray, joints: tuple[int, ...]) -> np.ndarray:
    """(m, 2) mean position of the confident joints of ``joints``; NaN where none is confident."""
    seen = keypoints[:, joints, 2] >= KEYPOINT_MIN_CONFIDENCE
    count = seen.sum(axis=1)
    total = (keypoints[:, joints, :2] * seen[..., None]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)


def _first_available(landmarks: dict, options) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the first landmark of ``options`` that is seen, and its stature share (NaN if none)."""
    n = len(next(iter(landmarks.values())))
    point = np.full((n, 2), np.nan)
    share = np.full(n, np.nan)
    for joints, height_share in options:
        candidate = landmarks[joints]
        fill = np.isnan(point[:, 0]) & np.isfinite(candidate[:, 0])
        point[fill] = candidate[fill]
        share[fill] = height_share
    return point, share


@dataclass
class BodyMeasures:
    """A track's landmarks and size per track frame (px; NaN where the pose model did not see them)."""

    time_s: np.ndarray
    top_px: np.ndarray  # (m, 2) shoulders (or head)
    bottom_px: np.ndarray  # (m, 2) ankles (or knees, hips)
    span_share: np.ndarray  # (m,) share of stature between top and bottom when standing
    hips_px: np.ndarray  # (m, 2)
    hip_span_share: np.ndarray  # (m,) share of stature between hips and bottom when standing (NaN: none)
    straight_stature_px: np.ndarray  # (m,) stature from segment lengths where the body is straight, else NaN
    leg_extension: np.ndarray  # (m,) hip-ankle distance / (thigh + shank): 1 straight legs, NaN unseen
    visible_joints: np.ndarray  # (m,)


def body_measures(track: Track, fps: float) -> BodyMeasures:
    """Landmarks, visible joints and a stature estimate of ``track`` (robust to missing joints)."""
    kp = track.keypoints
    landmarks = {joints: _landmark(kp, joints) for joints in (HEAD, SHOULDERS, HIPS, KNEES, ANKLES)}
    top, top_share = _first_available(landmarks, TOPS)
    bottom, bottom_share = _first_available(landmarks, BOTTOMS)
    shoulders, hips, knees, ankles = (landmarks[j] for j in (SHOULDERS, HIPS, KNEES, ANKLES))
    segments = [np.linalg.norm(a - b, axis=1) for a, b in ((shoulders, hips), (hips, knees), (knees, ankles))]
    chain = sum(segments)
    # Straight: shoulders-knees and hips-ankles nearly as long as their segments (standing, walking at
    # mid-stance, lying stretched out); a bent body's segments are foreshortened or folded.
    straight = (
        np.linalg.norm(shoulders - knees, axis=1) >= (1 - STRAIGHT_TOLERANCE) * (segments[0] + segments[1])
    ) & (np.linalg.norm(hips - ankles, axis=1) >= (1 - STRAIGHT_TOLERANCE) * (segments[1] + segments[2]))
    hip_span_share = np.where(bottom_share < HIP_SHARE, HIP_SHARE - bottom_share, np.nan)
    return BodyMeasures(
        time_s=np.asarray(track.frames, float) / fps,
        top_px=top,
        bottom_px=bottom,
        span_share=top_share - bottom_share,
        hips_px=hips,
        hip_span_share=hip_span_share,
        straight_stature_px=np.where(straight, chain / (TRUNK_SHARE + THIGH_SHARE + SHANK_SHARE), np.nan),
        leg_extension=np.linalg.norm(hips - ankles, axis=1) / np.maximum(segments[1] + segments[2], 1e-9),
        visible_joints=(kp[:, :, 2] >= KEYPOINT_MIN_CONFIDENCE).sum(axis=1),
    )


def stitch_tracks(tracks: list[Track], fps: float) -> list[Track]:
    """Join tracks the tracker broke at a fall: the box changes shape too fast for IoU matching.

    A track that starts within :data:`STITCH_GAP_S` after another ended, with its first box centred near
    that track's last box, continues it (keeping the earlier id). Each track is continued at most once.
    """
    ordered = sorted(tracks, key=lambda t: int(t.frames[0]))
    merged: list[Track] = []
    for track in ordered:
        best, best_distance = None, np.inf
        for i, earlier in enumerate(merged):
            gap_s = (int(track.frames[0]) - int(earlier.frames[-1])) / fps
            if not 0 < gap_s <= STITCH_GAP_S:
                continue
            last, first = earlier.boxes[-1], track.boxes[0]
            size = max(last[2] - last[0], last[3] - last[1])
            distance = np.hypot(*((first[:2] + first[2:]) / 2 - (last[:2] + last[2:]) / 2)) / max(size, 1.0)
            if distance <= STITCH_MAX_DISTANCE and distance < best_distance:
                best, best_distance = i, distance
        if best is None:
            merged.append(track)
            continue
        earlier = merged[best]
        merged[best] = Track(
            earlier.id,
            np.concatenate([earlier.frames, track.frames]),
            np.concatenate([earlier.boxes, track.boxes]),
            np.concatenate([earlier.scores, track.scores]),
            np.concatenate([earlier.keypoints, track.keypoints]),
        )
    return sorted(merged, key=lambda t: t.id)


# --- the state machine ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameState:
    """What the state machine says about one frame."""

    state: str
    angle_deg: float = np.nan  # body axis from the person's own vertical: 0 upright, 90 flat
    span: float = np.nan  # top-bottom extent along the vertical / the standing one (1 standing, 0 flat)
    axis_speed_h_s: float = np.nan  # shoulders relative to feet, statures per second
    hip_speed_h_s: float = np.nan  # hips downwards, statures per second


@dataclass
class _Episode:
    """One period of the body being down, from its onset on."""

    onset_s: float
    onset_index: int
    seen_down_s: float  # first seen down: the onset, or later if the body went down while unmeasured
    last_down_s: float
    last_upright_s: float | None
    stood_s: float = 0.0  # time upright in the FALL_LOOKBACK_S before the onset (after any earlier episode)
    measured_s: float = 0.0  # time the body was measured in the same window
    judged: bool = False
    fall: bool = False
    score: float = 0.0
    start_s: float | None = None
    axis_speed: float = np.nan
    hip_speed: float = np.nan


class BodyStateMachine:
    """``upright -> falling -> lying`` (or ``sitting``) for one person, frame by frame (usable live).

    :meth:`update` takes a frame's measures and returns its :class:`FrameState` as known at that moment. A
    down episode is judged once it has lasted :data:`CONFIRM_DOWN_S` with the body still clearly down: it is
    a fall when the body got down fast (axis and hip speeds), soon after it was last upright, and had stood
    or walked before. Judged episodes are collected in :attr:`episodes` when they end (or at :meth:`finish`).
    :meth:`unseen` advances it over moments without a measurement (a track the pose model lost).
    """

    def __init__(self, config: VideoFallConfig | None = None) -> None:
        self.config = config or VideoFallConfig()
        self._statures: deque[tuple[float, float]] = deque()
        self._stature: float | None = None
        self._vertical = np.array([0.0, 1.0])  # image direction from head to feet of a standing person
        self._vertical_s: float | None = None
        self._axes: deque[tuple[float, np.ndarray, float]] = deque()
        self._hips: deque[tuple[float, np.ndarray]] = deque()
        self._speeds: deque[tuple[float, float, float]] = deque()
        self._last_upright_s: float | None = None
        self._last_t: float | None = None  # the previous frame, measured or not
        self._last_measured_s: float | None = None
        # (time, duration, upright) of the frames measured since the last down period, for STOOD_MIN_S
        self._measured: deque[tuple[float, float, bool]] = deque()
        self._episode: _Episode | None = None
        self.episodes: list[_Episode] = []

    def _update_stature(self, t: float, stature: float) -> None:
        """Take a straight body's size as the stature (not while down: a lying body is foreshortened)."""
        if np.isfinite(stature) and self._episode is None:
            self._statures.append((t, stature))
            while t - self._statures[0][0] > REFERENCE_WINDOW_S:
                self._statures.popleft()
            self._stature = max(s for _, s in self._statures)

    def update(
        self,
        t: float,
        index: int,
        top: np.ndarray,
        bottom: np.ndarray,
        span_share: float,
        hips: np.ndarray,
        hip_span_share: float,
        stature_px: float,
        leg_extension: float,
        visible: int,
    ) -> FrameState:
        c = self.config
        if self._stature is None:
            self._update_stature(t, stature_px)
        measurable = visible >= c.min_visible_joints and np.isfinite(top).all() and np.isfinite(bottom).all()
        if self._stature is None or not measurable:
            return self.unseen(t)

        axis = bottom - top
        scale = span_share * self._stature
        length = float(np.linalg.norm(axis))
        cos = float(axis @ self._vertical) / max(length, 1e-9)
        angle = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        span = float(axis @ self._vertical) / scale
        hip_span = np.nan
        if np.isfinite(hips).all() and np.isfinite(hip_span_share):
            hip_span = float((bottom - hips) @ self._vertical) / (hip_span_share * self._stature)
        axis_speed, hip_speed = self._speeds_at(t, axis, span_share, hips)

        down_before = self._episode is not None
        if down_before:
            down = angle >= STAY_DOWN_ANGLE_DEG or span <= STAY_DOWN_SPAN
        else:
            down = angle >= c.down_angle_deg or span <= c.down_span
        upright = (
            not down
            and angle <= c.upright_angle_deg
            and span >= c.upright_span
            and not hip_span < UPRIGHT_HIP_SPAN
            and not leg_extension < UPRIGHT_LEG_EXTENSION
            and not axis_speed > UPRIGHT_MAX_AXIS_SPEED_H_S
        )
        if upright:
            self._last_upright_s = t
        if self._episode is None:  # not while still down: the body must have got up first
            dt = min(t - self._last_t, UPRIGHT_GAP_S) if self._last_t is not None else 0.0
            # kept from FALL_LOOKBACK_S before the previous measurement: a body first seen down after a gap
            # went down when last seen (see below)
            since = self._last_measured_s if self._last_measured_s is not None else t
            while self._measured and self._measured[0][0] < since - FALL_LOOKBACK_S:
                self._measured.popleft()
            self._measured.append((t, dt, upright))
        steady = np.isfinite(axis_speed) and axis_speed <= VERTICAL_MAX_SPEED_H_S
        if (
            steady
            and np.isfinite(stature_px)
            and length >= VERTICAL_MIN_LENGTH * scale
            and angle <= VERTICAL_MAX_TURN_DEG
        ):
            weight = (
                min(1.0, (t - self._vertical_s) / VERTICAL_TAU_S) if self._vertical_s is not None else 1.0
            )
            turned = (1 - weight) * self._vertical + weight * axis / length
            self._vertical = turned / np.linalg.norm(turned)
            self._vertical_s = t

        if down:
            if self._episode is None:
                onset = t
                if self._last_measured_s is not None and t - self._last_measured_s > DOWN_GAP_S:
                    # first seen down after a while unmeasured: it went down some time since last seen
                    onset = self._last_measured_s
                self._begin_episode(onset, index, t)
            self._episode.last_down_s = t
        self._judge(t, still_down=angle >= c.down_angle_deg or span <= c.down_span)
        self._close_if_up(t)
        if not axis_speed > UPRIGHT_MAX_AXIS_SPEED_H_S:
            # not while the body swings: one on its way down is straight too, and its apparent length
            # changes with the perspective
            self._update_stature(t, stature_px)
        self._last_t = self._last_measured_s = t
        name = "lying" if self._episode is not None else "upright" if upright else "sitting"
        return FrameState(name, angle, span, axis_speed, hip_speed)

    def _begin_episode(self, onset: float, index: int, t: float) -> None:
        """A down period starts (first seen down at ``t``): how long the body stood before ``onset``."""
        recent = [(dt, up) for s, dt, up in self._measured if onset - FALL_LOOKBACK_S <= s <= onset]
        stood = sum(dt for dt, up in recent if up)
        measured = sum(dt for dt, _ in recent)
        self._episode = _Episode(onset, index, t, t, self._last_upright_s, stood, measured)
        self._measured.clear()

    def unseen(self, t: float) -> FrameState:
        """A moment at which the body cannot be measured (too few joints seen, or not detected at all).

        Not seeing the body does not mean it got up: a lying person's joints are often hidden, and the pose
        model misses lying people more often than upright ones. A down body stays down for
        :data:`DOWN_LOST_S` without being seen, and its fall can be judged meanwhile.
        """
        self._last_t = t
        if self._episode is not None and t - self._episode.last_down_s > DOWN_LOST_S:
            self._end_episode()
        self._judge(t)
        return FrameState("lying" if self._episode is not None else "unknown")

    def _speeds_at(self, t: float, axis: np.ndarray, share: float, hips: np.ndarray) -> tuple[float, float]:
        """Causal speeds over :data:`SPEED_WINDOW_S`, in statures per second."""
        self._axes.append((t, axis, share))
        while len(self._axes) > 1 and t - self._axes[1][0] >= SPEED_WINDOW_S:
            self._axes.popleft()
        t0, axis0, share0 = self._axes[0]
        axis_speed = np.nan
        if t - t0 >= 0.5 * SPEED_WINDOW_S and share0 == share:  # the same landmarks at both ends
            axis_speed = float(np.linalg.norm(axis - axis0)) / (t - t0) / self._stature
        hip_speed = np.nan
        if np.isfinite(hips).all():
            self._hips.append((t, hips))
            while len(self._hips) > 1 and t - self._hips[1][0] >= SPEED_WINDOW_S:
                self._hips.popleft()
            h0, hips0 = self._hips[0]
            if t - h0 >= 0.5 * SPEED_WINDOW_S:
                hip_speed = float((hips - hips0) @ self._vertical) / (t - h0) / self._stature
        self._speeds.append((t, axis_speed, hip_speed))
        # keep what the judgement of the open down period will look at (FALL_LOOKBACK_S before its onset)
        e = self._episode
        since = e.onset_s if e is not None and not e.judged else t
        while self._speeds[0][0] < since - FALL_LOOKBACK_S:
            self._speeds.popleft()
        return axis_speed, hip_speed

    def _judge(self, t: float, still_down: bool = True) -> None:
        """Once the body has been down long enough, decide whether it got there by falling.

        ``still_down``: the body is clearly down at ``t`` (past the entry thresholds, not only the hysteresis
        ones), or not measured. A body already rising again (kneeling, crouching) is not judged: the down
        period must last :data:`CONFIRM_DOWN_S`, not merely have begun that long ago.
        """
        e, c = self._episode, self.config
        if e is None or e.judged or not still_down or t - e.onset_s < c.confirm_down_s:
            return
        e.judged = True
        window = [
            s for s in self._speeds if e.onset_s - FALL_LOOKBACK_S <= s[0] <= e.seen_down_s + FALL_LOOKAHEAD_S
        ]
        axis = np.array([s[1] for s in window], float)
        hips = np.array([s[2] for s in window], float)
        e.axis_speed = float(np.nanmax(axis)) if np.isfinite(axis).any() else np.nan
        e.hip_speed = float(np.nanmax(hips)) if np.isfinite(hips).any() else np.nan
        descent_s = e.onset_s - e.last_upright_s if e.last_upright_s is not None else np.inf
        stood_needed = min(STOOD_MIN_S, STOOD_SHARE * e.measured_s)
        e.score = min(
            soft_threshold(e.axis_speed, c.fall_axis_speed_h_s, AXIS_SPEED_SCALE_H_S),
            soft_threshold(e.hip_speed, c.fall_hip_speed_h_s, HIP_SPEED_SCALE_H_S),
            soft_threshold(descent_s, c.fall_max_descent_s, DESCENT_SCALE_S, above=False)
            if np.isfinite(descent_s)
            else 0.0,
            soft_threshold(e.stood_s, stood_needed, STOOD_SCALE_S) if e.stood_s > 0 else 0.0,
        )
        e.fall = (
            e.axis_speed >= c.fall_axis_speed_h_s
            and e.hip_speed >= c.fall_hip_speed_h_s
            and descent_s <= c.fall_max_descent_s
            and e.stood_s > 0
            and e.stood_s >= stood_needed
        )
        if e.fall:
            e.start_s = e.last_upright_s

    def _close_if_up(self, t: float) -> None:
        if self._episode is not None and t - self._episode.last_down_s > DOWN_GAP_S:
            self._end_episode()

    def _end_episode(self) -> None:
        e, self._episode = self._episode, None
        if e is not None and e.judged:
            self.episodes.append(e)

    @property
    def awaiting_judgement(self) -> bool:
        """The body is down, but not yet long enough to judge how it got there."""
        return self._episode is not None and not self._episode.judged

    def finish(self) -> None:
        """Close the episode still open at the end of the video (judged if it lasted long enough)."""
        self._end_episode()


# --- one track, one video ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoFallEvent:
    """One fall of one tracked person: when it began, when the body was down, how long it stayed there."""

    track_id: int
    start_s: float  # last upright
    end_s: float  # the body is down (impact)
    lying_until_s: float  # last time seen down in this episode
    axis_speed_h_s: float  # peak, statures per second
    hip_speed_h_s: float
    score: float  # 0-1, above 0.5 when every criterion is met
    frame: int  # video frame at end_s (for the snapshot)
    box: tuple[float, float, float, float]  # the person's box at ``frame``
    alarm_s: float | None = None
    kind: str = "fall"
    detector: str = "rules"  # "rules" (the state machine) or "learned" (core.fall.learned)

    @property
    def lying_s(self) -> float:
        return self.lying_until_s - self.end_s

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "track_id": self.track_id,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "lying_s": round(self.lying_s, 2),
            "axis_speed_h_s": round(self.axis_speed_h_s, 3),
            "hip_speed_h_s": round(self.hip_speed_h_s, 3),
            "score": round(self.score, 4),
            "frame": self.frame,
            "box": [round(v, 1) for v in self.box],
            "alarm": self.alarm_s is not None,
            "alarm_s": None if self.alarm_s is None else round(self.alarm_s, 3),
            "detector": self.detector,
        }


@dataclass
class BodyTimeline:
    """One track's body state, measures and fall probability per analysed frame."""

    track_id: int
    frames: np.ndarray
    time_s: np.ndarray
    state: np.ndarray  # (m,) int codes into BODY_STATES
    angle_deg: np.ndarray
    span: np.ndarray
    axis_speed_h_s: np.ndarray
    hip_speed_h_s: np.ndarray
    visible_joints: np.ndarray
    probability: np.ndarray  # (m,) 0-1
    impact: np.ndarray | None = None  # (m,) the learned detector's impact probability, when it ran
    down: np.ndarray | None = None  # (m,) ... and its "on the floor" probability

    def states(self) -> list[str]:
        return [BODY_STATES[int(c)] for c in self.state]

    def state_at(self, frame: int) -> str | None:
        i = int(np.searchsorted(self.frames, frame))
        if i < len(self.frames) and self.frames[i] == frame:
            return BODY_STATES[int(self.state[i])]
        return None


def _probability(state, span, angle, episodes: list[_Episode], time_s, config: VideoFallConfig) -> np.ndarray:
    """Per frame: how down the body looks, times how much its way down looked like a fall."""
    down = np.maximum(
        soft_threshold(angle, config.down_angle_deg, DOWN_ANGLE_SCALE_DEG),
        soft_threshold(span, config.down_span, DOWN_SPAN_SCALE, above=False),
    )
    down = np.where(np.isfinite(angle), down, 1.0)  # unmeasured frames inside an episode keep its score
    out = np.zeros(len(time_s))
    for e in episodes:
        lying = (time_s >= e.onset_s) & (time_s <= e.last_down_s)
        out[lying] = np.maximum(out[lying], e.score * down[lying])
        if e.start_s is not None:
            falling = (time_s >= e.start_s) & (time_s < e.onset_s)
            out[falling] = np.maximum(out[falling], e.score)
    out[state == STATE_CODE["unknown"]] = 0.0
    return out


@dataclass
class MachineRun:
    """The state machine run over one track: its measures, per-frame states (before any fall's frames are
    marked ``falling``) and values (angle, span, axis speed, hip speed), and the judged episodes."""

    measures: BodyMeasures
    machine: BodyStateMachine
    state: np.ndarray  # (m,) int codes into BODY_STATES
    values: np.ndarray  # (m, 4)


def run_state_machine(
    track: Track, fps: float, config: VideoFallConfig | None = None, presumed_until_s: float | None = None
) -> MachineRun:
    """Run :class:`BodyStateMachine` over ``track`` (see :func:`analyse_track` for ``presumed_until_s``)."""
    config = config or VideoFallConfig()
    m = body_measures(track, fps)
    machine = BodyStateMachine(config)
    n = len(track)
    state = np.zeros(n, dtype=np.int8)
    values = np.full((n, 4), np.nan)
    for i in range(n):
        frame = machine.update(
            float(m.time_s[i]),
            i,
            m.top_px[i],
            m.bottom_px[i],
            float(m.span_share[i]),
            m.hips_px[i],
            float(m.hip_span_share[i]),
            float(m.straight_stature_px[i]),
            float(m.leg_extension[i]),
            int(m.visible_joints[i]),
        )
        state[i] = STATE_CODE[frame.state]
        values[i] = (frame.angle_deg, frame.span, frame.axis_speed_h_s, frame.hip_speed_h_s)
    if presumed_until_s is not None and n:
        # The pose model lost the person while down: they are presumed down, so the fall is judged as if the
        # frames after the track's end showed too little of the body to measure.
        t = float(m.time_s[-1]) + 1.0 / fps
        while machine.awaiting_judgement and t <= presumed_until_s + 1e-9:
            machine.unseen(t)
            t += 1.0 / fps
    machine.finish()
    return MachineRun(m, machine, state, values)


def analyse_track(
    track: Track, fps: float, config: VideoFallConfig | None = None, presumed_until_s: float | None = None
) -> tuple[BodyTimeline, list[VideoFallEvent]]:
    """Run the state machine over one track; returns its timeline and its falls (with alarms).

    ``presumed_until_s``: if the track ends lying, the person is taken to lie on until then (for the alarm;
    a down period too young to judge when the track ends is judged meanwhile).
    """
    config = config or VideoFallConfig()
    run = run_state_machine(track, fps, config, presumed_until_s)
    m, machine, values, n = run.measures, run.machine, run.values, len(track)
    state = run.state.copy()
    method = resolve_method(config.method)
    falls = [
        _Fall(e.start_s, e.onset_s, e.onset_index, e.last_down_s, e.axis_speed, e.hip_speed, e.score)
        for e in machine.episodes
        if e.fall and method != "learned"
    ]
    for f in falls:
        state[(m.time_s >= f.start_s) & (m.time_s < f.end_s)] = STATE_CODE["falling"]
    probability = _probability(state, values[:, 1], values[:, 0], machine.episodes, m.time_s, config)
    times, lying = m.time_s, state == STATE_CODE["lying"]
    if falls and presumed_until_s is not None and n and lying[-1] and presumed_until_s > times[-1]:
        unseen = np.arange(times[-1] + 1.0 / fps, presumed_until_s + 1e-9, 1.0 / fps)
        times, lying = np.concatenate([times, unseen]), np.concatenate([lying, np.ones(len(unseen), bool)])
    alarm_times = [
        a.recording_time_s
        for a in alarms_in_timeline(
            times, lying, [f.end_s for f in falls], lying_alarm_s=config.lying_alarm_s
        )
    ]
    learned_p = None
    if method in ("learned", "either") and n:
        learned_p, found, learned_alarms = _learned_falls(track, fps, run, config, presumed_until_s)
        found = [f for f in found if not any(abs(f.end_s - r.end_s) <= MERGE_S for r in falls)]
        for f in found:
            state[(m.time_s >= f.start_s) & (m.time_s < f.end_s)] = STATE_CODE["falling"]
            down = (m.time_s >= f.end_s) & (m.time_s <= f.lying_until_s)
            state[down] = STATE_CODE["lying"]
            during = (m.time_s >= f.start_s) & (m.time_s <= f.lying_until_s)
            probability[during] = np.maximum(
                probability[during], f.score * np.where(down[during], learned_p[1][during], 1.0)
            )
        falls = sorted(falls + found, key=lambda f: f.end_s)
        alarm_times += [a for a in learned_alarms if any(f.end_s <= a for f in found)]
    alarm_times.sort()
    events = []
    for k, f in enumerate(falls):
        until = falls[k + 1].end_s if k + 1 < len(falls) else np.inf
        alarm = next((a for a in alarm_times if f.end_s <= a < until), None)
        events.append(
            VideoFallEvent(
                track_id=track.id,
                start_s=float(f.start_s),
                end_s=float(f.end_s),
                lying_until_s=float(f.lying_until_s),
                axis_speed_h_s=float(f.axis_speed),
                hip_speed_h_s=float(f.hip_speed),
                score=float(f.score),
                frame=int(track.frames[f.end_index]),
                box=tuple(float(v) for v in track.boxes[f.end_index]),
                alarm_s=alarm,
                detector=f.detector,
            )
        )
    timeline = BodyTimeline(
        track_id=track.id,
        frames=np.asarray(track.frames),
        time_s=m.time_s,
        state=state,
        angle_deg=values[:, 0],
        span=values[:, 1],
        axis_speed_h_s=values[:, 2],
        hip_speed_h_s=values[:, 3],
        visible_joints=m.visible_joints,
        probability=probability,
        impact=None if learned_p is None else learned_p[0],
        down=None if learned_p is None else learned_p[1],
    )
    return timeline, events


@dataclass(frozen=True)
class _Fall:
    """A fall found on one track, by either detector (times in the video; ``end_index`` into the track)."""

    start_s: float
    end_s: float
    end_index: int
    lying_until_s: float
    axis_speed: float
    hip_speed: float
    score: float
    detector: str = "rules"


def _learned_falls(track: Track, fps: float, run: MachineRun, config: VideoFallConfig, presumed_until_s):
    """The learned detector on one track: (its probabilities, its falls, its alarm times)."""
    from core.fall import learned

    m, values = run.measures, run.values
    p = learned.probabilities(track, fps, run)
    found = []
    for f in learned.falls_from_probabilities(
        m.time_s, p, run.state, config.confirm_down_s, presumed_until_s
    ):
        window = (m.time_s >= f.start_s - FALL_LOOKBACK_S) & (m.time_s <= f.end_s + FALL_LOOKAHEAD_S)
        speeds = values[window, 2:4]
        peak = [float(np.nanmax(v)) if np.isfinite(v).any() else np.nan for v in speeds.T]
        found.append(_Fall(f.start_s, f.end_s, f.end_index, f.lying_until_s, *peak, f.score, "learned"))
    times, lying = learned.down_mask(m.time_s, p[1], presumed_until_s)
    alarms = alarms_in_timeline(times, lying, [f.end_s for f in found], lying_alarm_s=config.lying_alarm_s)
    return p, found, [a.recording_time_s for a in alarms]


@dataclass
class VideoFallResult:
    """Everyone's body states and falls in one video."""

    fps: float
    frames: int
    config: VideoFallConfig
    timelines: list[BodyTimeline]
    events: list[VideoFallEvent] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)  # as judged: broken tracks stitched together

    def timeline_of(self, track_id: int) -> BodyTimeline | None:
        return next((t for t in self.timelines if t.track_id == track_id), None)

    @property
    def fall(self) -> bool:
        return bool(self.events)

    @property
    def probability(self) -> float:
        return max((float(t.probability.max()) for t in self.timelines if len(t.probability)), default=0.0)

    @property
    def alarm(self) -> bool:
        return any(e.alarm_s is not None for e in self.events)


def presumed_lying_until(
    track: Track, tracks: list[Track], fps: float, frames: int, image_size=None
) -> float | None:
    """Until when a person whose track ends is presumed to be where it ended (None: they may have left).

    Lying people are harder for the pose model to find than upright ones, so a fallen person who is no
    longer detected has not necessarily got up. They are presumed to lie on until someone is seen again
    near the spot, or the video ends; not if their last box touched the image border (they may have left).
    """
    last = track.boxes[-1]
    if image_size is not None:
        width, height = image_size
        margin = EDGE_MARGIN * max(width, height)
        if last[0] <= margin or last[1] <= margin or last[2] >= width - margin or last[3] >= height - margin:
            return None
    size = max(last[2] - last[0], last[3] - last[1], 1.0)
    centre = (last[:2] + last[2:]) / 2
    end = int(track.frames[-1])
    starts = [
        int(other.frames[0])
        for other in tracks
        if other.id != track.id
        and int(other.frames[0]) > end
        and np.hypot(*((other.boxes[0, :2] + other.boxes[0, 2:]) / 2 - centre)) <= STITCH_MAX_DISTANCE * size
    ]
    return (min(starts) if starts else frames) / fps


def detect_falls_in_tracks(
    tracks: list[Track],
    fps: float,
    frames: int,
    config: VideoFallConfig | None = None,
    image_size: tuple[int, int] | None = None,
) -> VideoFallResult:
    """Body states and falls of every tracked person (``image_size``: width, height of the video)."""
    config = config or VideoFallConfig()
    timelines, events = [], []
    stitched = stitch_tracks(tracks, fps)
    for track in stitched:
        presumed = presumed_lying_until(track, stitched, fps, frames, image_size)
        timeline, found = analyse_track(track, fps, config, presumed)
        timelines.append(timeline)
        events.extend(found)
    events.sort(key=lambda e: e.end_s)
    return VideoFallResult(fps, frames, config, timelines, events, stitched)
