"""When does each foot land and leave the ground? Heel strikes and toe offs from 2D keypoints.

Two detectors, chosen from the walking direction (:func:`choose_method`), or by the user:

- ``"sagittal"``, for side views: the ankle's position relative to the pelvis along the walking direction
  peaks at heel strike (the foot is furthest ahead) and bottoms at toe off (furthest behind) - the
  coordinate-based method of Zeni et al. (Gait Posture 2008;27:710-714), with the ankle standing in for
  heel and toe markers, which COCO keypoints do not have.
- ``"frontal"``, for views toward or away from the camera (the gait seed's hospital corridor): a foot
  bearing weight does not move on the floor. Seen from the front, a foot's movement is mostly in depth,
  which the image shows as a change of the row where the foot is. For points on a level floor the row
  satisfies ``y - y0 = f * Hc / Z`` (horizon row ``y0``, camera height ``Hc``, depth ``Z``) while the
  body's height in pixels is ``h = f * H / Z``; fitting ``y_ankles = y0 + k * h`` over the clip gives the
  horizon, and ``k / (y_ankle - y0)`` is the ankle's depth in units of ``f * H``. The foot is in stance
  while that depth stands still: below a threshold :data:`STILLNESS_LEVEL` of the way from the foot's
  typical stance speed to its typical swing speed.
- ``"stillness"``, the same idea in the image plane (ankle speed in body heights per second), for oblique
  views and as a cross-check.

Both refine events below the frame interval (parabolic peak, or linear threshold crossing) and keep only
alternating heel strike / toe off sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from core.gait.signals import JointSignals

METHODS = ("auto", "learned", "sagittal", "frontal", "stillness")
SIDES = ("left", "right")
MIN_CYCLE_S, MAX_CYCLE_S = 0.6, 3.0  # from brisk walking to very slow, shuffling gait
PEAK_PROMINENCE = 0.25  # of the signal's robust range: smaller bumps are jitter, not steps
STILLNESS_LEVEL = 0.25  # threshold between stance (0) and swing (1) speed
MIN_PHASE_S = 0.12  # a stance or swing phase shorter than this is noise...
MIN_PHASE_SHARE = 0.15  # ...and so is one shorter than this share of the gait cycle
MIN_EVENT_SPACING = 0.6  # cycles between two heel strikes (or toe offs) of the same foot, at least
DEFAULT_CYCLE_S = 1.1
MIN_PERIODICITY = 0.15  # autocorrelation a gait-cycle peak needs


@dataclass
class FootEvents:
    heel_strike_s: np.ndarray
    toe_off_s: np.ndarray


@dataclass
class GaitEvents:
    """Events per foot, the method that found them and the signal it used (for plots)."""

    method: str
    feet: dict[str, FootEvents]
    signal_name: str
    signal: dict[str, np.ndarray] = field(default_factory=dict)  # side -> (n,) detector signal

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            **{
                f"{side}_{kind}": [round(float(t), 4) for t in getattr(ev, f"{kind}_s")]
                for side, ev in self.feet.items()
                for kind in ("heel_strike", "toe_off")
            },
        }


def choose_method(direction: str) -> str:
    """The detector for a walking direction as :mod:`core.selection` names it."""
    return "frontal" if direction in ("toward", "away") else "sagittal"


def dominant_cycle_s(signal: np.ndarray, rate_hz: float) -> float | None:
    """The gait cycle from a periodic leg signal's autocorrelation (None if nothing periodic).

    The autocorrelation is normalised by the overlap at each lag (unbiased), so a clip of only a few cycles
    still shows its period; the first clear peak is taken, not the highest, which may be a multiple.
    """
    x = signal[np.isfinite(signal)]
    if len(x) < 2 * MIN_CYCLE_S * rate_hz:
        return None
    x = x - x.mean()
    if not np.any(x):
        return None
    overlap = np.arange(len(x), 0, -1)
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :] / overlap
    ac /= ac[0]
    lo = int(MIN_CYCLE_S * rate_hz)
    hi = min(len(ac) - 1, int(MAX_CYCLE_S * rate_hz), int(0.75 * len(x)))  # keep lags with enough overlap
    if hi <= lo:
        return None
    peaks, _ = find_peaks(ac[lo : hi + 1])
    peaks = lo + peaks
    strong = [p for p in peaks if ac[p] >= max(MIN_PERIODICITY, 0.5 * ac[peaks].max())]
    return float(strong[0] / rate_hz) if strong else None


def _parabolic(y: np.ndarray, i: int) -> float:
    """Sub-sample position of the extremum at sample ``i``."""
    if i <= 0 or i >= len(y) - 1 or not np.all(np.isfinite(y[i - 1 : i + 2])):
        return float(i)
    a, b, c = y[i - 1], y[i], y[i + 1]
    denom = a - 2 * b + c
    return float(i) if denom == 0 else float(i + 0.5 * (a - c) / denom)


def _extrema(y: np.ndarray, cycle_samples: float, maxima: bool) -> np.ndarray:
    finite = np.isfinite(y)
    if finite.sum() < 3:
        return np.array([])
    spread = np.subtract(*np.nanpercentile(y, [95, 5]))
    signal = np.where(finite, y if maxima else -y, np.nan)
    peaks, _ = find_peaks(
        np.nan_to_num(signal, nan=np.nanmin(signal)),
        distance=max(1, int(0.6 * cycle_samples)),
        prominence=PEAK_PROMINENCE * spread,
    )
    peaks = [p for p in peaks if finite[max(0, p - 1) : p + 2].all()]
    return np.array([_parabolic(signal, p) for p in peaks])


def alternate(heel_strikes: np.ndarray, toe_offs: np.ndarray) -> FootEvents:
    """Keep a clean heel strike, toe off, heel strike... sequence (drop doubles, keep the first of each)."""
    events = sorted([(t, "hs") for t in heel_strikes] + [(t, "to") for t in toe_offs])
    kept: list[tuple[float, str]] = []
    for t, kind in events:
        if kept and kept[-1][1] == kind:
            continue
        if kept and t - kept[-1][0] < MIN_PHASE_S:
            continue
        kept.append((t, kind))
    return FootEvents(
        np.array([t for t, k in kept if k == "hs"]), np.array([t for t, k in kept if k == "to"])
    )


def _to_seconds(samples: np.ndarray, signals: JointSignals) -> np.ndarray:
    return signals.time_s[0] + samples / signals.rate_hz


def sagittal_events(signals: JointSignals) -> GaitEvents:
    """Zeni's method with ankles: heel strike at the ankle's most anterior position relative to the pelvis."""
    pelvis = signals.pelvis
    velocity = np.nanmedian(np.diff(pelvis[:, 0]))
    forward = 1.0 if not np.isfinite(velocity) or velocity >= 0 else -1.0
    # in body heights, so a patient whose size in the picture changes (oblique walk) keeps one scale
    relative = {
        side: (signals.joint(f"{side}_ankle")[:, 0] - pelvis[:, 0]) * forward / signals.stature_px
        for side in SIDES
    }
    cycles = [c for side in SIDES if (c := dominant_cycle_s(relative[side], signals.rate_hz))]
    cycle = float(np.median(cycles)) if cycles else DEFAULT_CYCLE_S
    feet = {}
    for side in SIDES:
        hs = _extrema(relative[side], cycle * signals.rate_hz, maxima=True)
        to = _extrema(relative[side], cycle * signals.rate_hz, maxima=False)
        feet[side] = alternate(_to_seconds(hs, signals), _to_seconds(to, signals))
    return GaitEvents("sagittal", feet, "ankle ahead of pelvis (body heights)", relative)


def _crossings(values: np.ndarray, level: float, downward: bool) -> np.ndarray:
    """Sub-sample positions where ``values`` crosses ``level`` (downward: from above to below)."""
    a, b = values[:-1], values[1:]
    hit = (a > level) & (b <= level) if downward else (a < level) & (b >= level)
    idx = np.flatnonzero(hit & np.isfinite(a) & np.isfinite(b))
    return idx + (a[idx] - level) / (a[idx] - b[idx])


def ground_plane(signals: JointSignals) -> tuple[float, float] | None:
    """Horizon row ``y0`` and ``k`` of ``mean ankle row = y0 + k * body height`` (None if not estimable)."""
    ankles_y = (signals.joint("left_ankle")[:, 1] + signals.joint("right_ankle")[:, 1]) / 2
    h = signals.stature_px
    ok = np.isfinite(ankles_y) & np.isfinite(h)
    if ok.sum() < 10 or np.ptp(h[ok]) < 0.1 * np.median(h[ok]):
        return None  # the body's size hardly changes: not a walk in depth
    k, y0 = np.polyfit(h[ok], ankles_y[ok], 1)
    return (float(y0), float(k)) if k > 0 else None


def ankle_depth(signals: JointSignals, side: str, plane: tuple[float, float]) -> np.ndarray:
    """The ankle's depth in units of ``f * H`` (focal length times stature), from its image row."""
    y0, k = plane
    below_horizon = signals.joint(f"{side}_ankle")[:, 1] - y0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(below_horizon > 1.0, k / below_horizon, np.nan)


def _clean_runs(mask: np.ndarray, min_true: int, min_false: int) -> np.ndarray:
    """Drop ``True`` runs shorter than ``min_true`` samples, then ``False`` runs below ``min_false``."""
    mask = mask.copy()
    for value, shortest in ((True, min_true), (False, min_false)):
        start = None
        for i in range(len(mask) + 1):
            inside = i < len(mask) and mask[i] == value
            if inside and start is None:
                start = i
            elif not inside and start is not None:
                if i - start < shortest and start > 0 and i < len(mask):
                    mask[start:i] = not value
                start = None
    return mask


def _stance_from_speed(speed: np.ndarray, signals: JointSignals, cycle_s: float) -> FootEvents:
    """Heel strike where the foot comes to rest, toe off where it leaves; brief dips and bumps ignored
    (a slow, shuffling swing can pause: :func:`stance_events`)."""
    finite = np.isfinite(speed)
    if finite.sum() < 3:
        return FootEvents(np.array([]), np.array([]))
    stance_speed, swing_speed = np.nanpercentile(speed, [10, 90])
    level = stance_speed + STILLNESS_LEVEL * (swing_speed - stance_speed)
    return stance_events(speed, np.where(finite, speed < level, False), level, signals, cycle_s)


def stance_events(
    values: np.ndarray,
    stance: np.ndarray,
    level: float,
    signals: JointSignals,
    cycle_s: float,
    skip: np.ndarray | None = None,
) -> FootEvents:
    """Heel strike where the per-sample ``stance`` mask begins, toe off where it ends.

    Stance or swing phases shorter than :data:`MIN_PHASE_SHARE` of the gait cycle (at least
    :data:`MIN_PHASE_S`) are dips or bumps, not phases, and are removed first. Each change is refined to
    where ``values`` crosses ``level`` between the two samples; changes touching a sample marked in ``skip``
    are dropped.
    """
    shortest = max(1, round(max(MIN_PHASE_S, MIN_PHASE_SHARE * cycle_s) * signals.rate_hz))
    stance = _clean_runs(stance, shortest, shortest)
    hs, to = [], []
    for i in np.flatnonzero(np.diff(stance.astype(int))):
        if skip is not None and (skip[i] or skip[i + 1]):
            continue
        a, b = values[i], values[i + 1]
        fraction = (a - level) / (a - b) if np.isfinite(a) and np.isfinite(b) and a != b else 0.5
        (hs if stance[i + 1] else to).append(i + float(np.clip(fraction, 0.0, 1.0)))
    foot = alternate(_to_seconds(np.array(hs), signals), _to_seconds(np.array(to), signals))
    return FootEvents(_spaced(foot.heel_strike_s, cycle_s), _spaced(foot.toe_off_s, cycle_s))


def _spaced(times: np.ndarray, cycle_s: float) -> np.ndarray:
    """Drop events of one kind that follow the previous one within :data:`MIN_EVENT_SPACING` cycles."""
    kept: list[float] = []
    for t in times:
        if not kept or t - kept[-1] >= MIN_EVENT_SPACING * cycle_s:
            kept.append(float(t))
    return np.array(kept)


def _cycle_of(speeds: dict[str, np.ndarray], rate_hz: float) -> float:
    cycles = [c for side in SIDES if (c := dominant_cycle_s(speeds[side], rate_hz))]
    return float(np.median(cycles)) if cycles else DEFAULT_CYCLE_S


def frontal_events(signals: JointSignals) -> GaitEvents:
    """Stance = the ankle's depth stands still (views toward or away from the camera)."""
    plane = ground_plane(signals)
    if plane is None:
        return stillness_events(signals)
    body_depth = 1.0 / signals.stature_px  # in units of 1/(f*H) too
    toward = np.nanmedian(np.diff(body_depth)) < 0
    speeds = {}
    for side in SIDES:
        depth = ankle_depth(signals, side, plane)
        forward = -np.gradient(depth) if toward else np.gradient(depth)
        # only motion along the walk counts: the heel rising before toe off moves the ankle's image row
        # the other way, and the foot is still on the floor then
        speeds[side] = np.clip(forward, 0.0, None) * signals.rate_hz
    cycle = _cycle_of(speeds, signals.rate_hz)
    feet = {side: _stance_from_speed(speeds[side], signals, cycle) for side in SIDES}
    return GaitEvents("frontal", feet, "ankle forward speed in depth (f*H/s)", speeds)


def stillness_events(signals: JointSignals) -> GaitEvents:
    """Stance = the ankle stands still in the image (fixed camera), in any walking direction."""
    speeds = {}
    for side in SIDES:
        ankle = signals.joint(f"{side}_ankle")
        speeds[side] = (
            np.linalg.norm(np.gradient(ankle, axis=0), axis=1) * signals.rate_hz / signals.stature_px
        )
    cycle = _cycle_of(speeds, signals.rate_hz)
    feet = {side: _stance_from_speed(speeds[side], signals, cycle) for side in SIDES}
    return GaitEvents("stillness", feet, "ankle speed (body heights/s)", speeds)


def fuse_heel_strikes(primary: GaitEvents, other: GaitEvents, max_gap_s: float) -> GaitEvents:
    """Average each heel strike of ``primary`` with ``other``'s nearest one when they agree within
    ``max_gap_s``: two detectors with independent errors halve the timing noise. Toe offs stay
    ``primary``'s. Both must already be corrected for their offsets."""
    feet = {}
    for side, foot in primary.feet.items():
        theirs = other.feet[side].heel_strike_s
        fused = []
        for t in foot.heel_strike_s:
            nearest = theirs[np.argmin(np.abs(theirs - t))] if len(theirs) else None
            fused.append((t + nearest) / 2 if nearest is not None and abs(nearest - t) <= max_gap_s else t)
        feet[side] = FootEvents(np.array(fused), foot.toe_off_s)
    return GaitEvents(f"{primary.method}+{other.method}", feet, primary.signal_name, primary.signal)


def detect_events(signals: JointSignals, method: str) -> GaitEvents:
    if method == "sagittal":
        return sagittal_events(signals)
    if method == "frontal":
        return frontal_events(signals)
    if method == "stillness":
        return stillness_events(signals)
    if method == "learned":
        from core.gait.learned import learned_events

        return learned_events(signals)
    raise ValueError(f"unknown gait event method {method!r}; choose one of {', '.join(METHODS)}")
