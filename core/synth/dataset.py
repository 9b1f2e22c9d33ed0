"""Build a training/evaluation dataset of simulated patients with exact labels, split by subject.

``python -m core synth make --task gait|fall|spine --n N --out DIR [--seed S]`` writes N clips:

- ``gait``: walkers of several clinical presentations (normal, elderly, INPH, hemiparetic, ASD), mostly
  filmed toward/away from the camera in a corridor as in the gait seed, labelled with GAITRite parameters,
  gait events and posture;
- ``fall``: AIHub-like 10 s clips at 60 fps, three falls for every look-alike as in AIHub's data, each with
  the 12-segment sensor CSV and a waist and a wrist accelerometer CSV, labelled ``scene_IsFall``,
  ``fall_start_frame``, ``fall_end_frame``;
- ``spine``: walkers with adult spinal deformity (sagittal/coronal imbalance, crouch, little arm swing)
  or another spinal disorder (milder patterns), labelled ASD or not per subject.

Layout of ``DIR``::

    manifest.json                    task, seed, options, subjects per split, one row per clip, timings
    train/ val/ test/                every clip of a subject lies in one split only
        s0007_c01.npz                SceneClip.arrays(): keypoints_px (T,P,17,2), visible (T,P,17), ...
                                     and keypoints_detected (T,P,17,3): what YOLO11n-pose would report
        s0007_c01.json               labels (and the camera, people and files)
        s0007_c01_sensors.csv        AIHub layout, 60 Hz (fall task, or --sensors)
        s0007_c01_waist.csv          time_s, ax_g, ay_g, az_g (fall task, or --sensors); also _wrist.csv
        s0007_c01.webm               with --video: the rendered scene (core.synth.render), and
        s0007_c01_labels.npz         its patient masks, everyone's boxes and visible fractions

Every clip is drawn from its own generator seeded by ``(seed, subject, clip)``, so a dataset is the same
whatever the number of worker processes, and clip k of a bigger dataset equals clip k of a smaller one.
Person 0 in every scene is the patient.

The pose-detector noise model (:func:`core.synth.noise.detect_keypoints`) and the renderer
(:func:`core.synth.render.render_video`) are the lab's other two parts.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from core.cli import write_json
from core.errors import InputError
from core.synth.body import Body, Motion
from core.synth.camera import VIEWS, camera_for_view
from core.synth.falls import ACTIVITIES, LOOKALIKES, simulate_activity
from core.synth.noise import detect_keypoints
from core.synth.render import render_video
from core.synth.scene import BEHAVIOURS, Person, SceneClip, bystander, film
from core.synth.sensors import body_worn_sensors, single_device, write_aihub_csv, write_device_csv
from core.synth.walker import sample_gait, walk

TASKS = ("gait", "fall", "spine")
SPLITS = ("train", "val", "test")
SPLIT_SHARES = {"val": 0.15, "test": 0.15}  # the rest is train
SENSOR_RATE_HZ = 60.0  # AIHub's rate; the motion is simulated at this rate and the video subsampled
FALLS_PER_LOOKALIKE = 3  # AIHub: 1,704 fall and 568 non-fall clips

GAIT_CONDITIONS = {"normal": 0.35, "elderly": 0.2, "inph": 0.15, "hemiparetic": 0.15, "asd": 0.15}
GAIT_VIEWS = {"toward": 0.35, "away": 0.25, "across": 0.15, "oblique": 0.15, "cctv": 0.1}
OTHER_SPINAL_DISORDERS = ("lumbar_stenosis", "disc_herniation")
FALL_VIEWS = {"cctv": 0.4, "oblique": 0.25, "across": 0.2, "toward": 0.15}


@dataclass(frozen=True)
class BuildOptions:
    """What to build; ``None`` picks the task's default."""

    task: str
    n_clips: int
    out_dir: str
    seed: int = 0
    video: bool = False
    sensors: bool | None = None  # default: on for falls
    workers: int = 1
    clips_per_subject: int | None = None  # default: 2 (gait, spine), 4 (fall)
    duration_s: float | None = None  # default: 8 s (gait, spine), 10 s (fall)
    fps: float | None = None  # default: 30 (gait, spine), 60 (fall)
    max_bystanders: int = 2
    views: tuple[str, ...] | None = None

    def resolved(self) -> BuildOptions:
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.n_clips < 1:
            raise InputError("--n must be at least 1 clip")
        if self.views is not None and (not self.views or set(self.views) - set(VIEWS)):
            raise InputError(f"views must be some of {', '.join(VIEWS)}")
        fall = self.task == "fall"
        fps = self.fps or (60.0 if fall else 30.0)
        if SENSOR_RATE_HZ % fps:
            raise InputError(
                f"--fps must divide the {SENSOR_RATE_HZ:.0f} Hz simulation rate (60, 30, 20, 15, ...)"
            )
        return replace(
            self,
            sensors=fall if self.sensors is None else self.sensors,
            clips_per_subject=self.clips_per_subject or (4 if fall else 2),
            duration_s=self.duration_s or (10.0 if fall else 8.0),
            fps=fps,
            workers=max(1, self.workers),
        )


@dataclass(frozen=True)
class ClipSpec:
    subject: int
    clip: int
    split: str
    options: BuildOptions

    @property
    def name(self) -> str:
        return f"s{self.subject:04d}_c{self.clip:02d}"


def subject_splits(n_subjects: int, seed: int) -> dict[int, str]:
    """Subject -> split; shuffled by the seed, every split non-empty from 3 subjects on."""
    order = np.random.default_rng([seed, 7]).permutation(n_subjects)
    counts = {name: 0 for name in SPLITS}
    if n_subjects >= 3:
        for name, share in SPLIT_SHARES.items():
            counts[name] = max(1, round(share * n_subjects))
    counts["train"] = n_subjects - counts["val"] - counts["test"]
    out, start = {}, 0
    for name in SPLITS:
        for subject in order[start : start + counts[name]]:
            out[int(subject)] = name
        start += counts[name]
    return out


def _choose(
    rng: np.random.Generator, weights: dict[str, float], allowed: tuple[str, ...] | None = None
) -> str:
    names = [n for n in weights if allowed is None or n in allowed] or list(allowed or weights)
    p = np.array([weights.get(n, 1.0) for n in names])
    return str(rng.choice(names, p=p / p.sum()))


def _subject(task: str, seed: int, subject: int) -> dict:
    """Who subject ``subject`` is: the same in every clip of theirs."""
    rng = np.random.default_rng([seed, subject])
    body = Body.sample(rng)
    if task == "gait":
        condition = _choose(rng, GAIT_CONDITIONS)
    elif task == "spine":
        condition = "asd" if rng.random() < 0.5 else str(rng.choice(OTHER_SPINAL_DISORDERS))
    else:
        return {"body": body, "condition": None, "gait": None}
    return {"body": body, "condition": condition, "gait": sample_gait(condition, body, rng)}


def _trial(params, rng: np.random.Generator):
    """The same person on another walk: a few percent faster or slower."""
    return replace(
        params,
        cadence_steps_min=round(params.cadence_steps_min * (1 + rng.normal(0, 0.02)), 2),
        step_length_cm=round(params.step_length_cm * (1 + rng.normal(0, 0.02)), 2),
    )


def make_clip(spec: ClipSpec) -> dict:
    """Simulate, film and write one clip; return its manifest row."""
    opts = spec.options
    started = time.perf_counter()
    who = _subject(opts.task, opts.seed, spec.subject)
    rng = np.random.default_rng([opts.seed, spec.subject, spec.clip])
    body: Body = who["body"]
    labels: dict = {"subject": {"id": spec.subject, "height_cm": body.height_cm, "leg_ratio": body.leg_ratio}}
    step = round(SENSOR_RATE_HZ / opts.fps)

    if opts.task == "fall":
        activity = _fall_activity(spec.clip, rng)
        motion, fall = simulate_activity(activity, body, rng, opts.duration_s, SENSOR_RATE_HZ)
        labels.update(fall.to_dict())
        labels["sensordata"]["rate_hz"] = SENSOR_RATE_HZ
        labels["video_frames"] = {
            "fall_start_frame": None if fall.fall_start_frame is None else fall.fall_start_frame // step,
            "fall_end_frame": None if fall.fall_end_frame is None else fall.fall_end_frame // step,
        }
        views = FALL_VIEWS
        summary = {"activity": activity, "is_fall": fall.is_fall}
    else:
        params = _trial(who["gait"], rng)
        motion, truth = walk(params, body, opts.duration_s, SENSOR_RATE_HZ, rng)
        labels.update(truth.to_dict(opts.fps))
        labels["requested"] = asdict(params)
        views = GAIT_VIEWS
        summary = {"condition": who["condition"], "velocity_cm_s": round(truth.parameters["Velocity"], 2)}
        if opts.task == "spine":
            asd = who["condition"] == "asd"
            labels["asd"] = asd
            labels["diagnosis"] = "adult spinal deformity" if asd else who["condition"].replace("_", " ")
            summary = {"condition": who["condition"], "asd": asd}
    motion = motion.placed((0.0, 0.0), rng.uniform(0, 360))

    video_motion = motion.every(step)
    view = _choose(rng, views, opts.views)
    camera = camera_for_view(view, video_motion, rng)
    people = [Person(video_motion, "patient", motion.activity)]
    for _ in range(int(rng.integers(0, opts.max_bystanders + 1))):
        other = bystander(str(rng.choice(BEHAVIOURS)), video_motion, camera, rng)
        if other is not None:
            people.append(other)
    clip = film(camera, people, seed=int(rng.integers(2**31)))
    files = _write_clip(spec, clip, motion, rng, labels)
    labels.update(
        {
            "clip": spec.name,
            "task": opts.task,
            "split": spec.split,
            "view": view,
            "fps": opts.fps,
            "frames": clip.frames,
            "duration_s": opts.duration_s,
            "camera": camera.to_dict(),
            "people": [
                {"role": p.role, "behaviour": p.behaviour, "height_cm": p.motion.body.height_cm}
                for p in people
            ],
            "files": files,
        }
    )
    folder = Path(opts.out_dir) / spec.split
    write_json(labels, folder / f"{spec.name}.json")
    return {
        "clip": spec.name,
        "subject": spec.subject,
        "split": spec.split,
        "view": view,
        "people": len(people),
        **summary,
        "files": files,
        "seconds": round(time.perf_counter() - started, 4),
    }


def _fall_activity(clip: int, rng: np.random.Generator) -> str:
    falls = [a for a in ACTIVITIES if a.startswith("fall_")]
    if rng.random() < FALLS_PER_LOOKALIKE / (FALLS_PER_LOOKALIKE + 1):
        return str(rng.choice(falls))
    return str(rng.choice(LOOKALIKES))


def _write_clip(spec: ClipSpec, clip: SceneClip, motion: Motion, rng, labels: dict) -> dict[str, str]:
    opts = spec.options
    folder = Path(opts.out_dir) / spec.split
    folder.mkdir(parents=True, exist_ok=True)
    files = {"arrays": f"{spec.split}/{spec.name}.npz", "labels": f"{spec.split}/{spec.name}.json"}
    arrays = clip.arrays()
    arrays["keypoints_detected"] = np.asarray(detect_keypoints(clip), dtype=np.float32)
    np.savez(folder / f"{spec.name}.npz", **arrays)
    if opts.sensors:
        write_aihub_csv(body_worn_sensors(motion, rng), folder / f"{spec.name}_sensors.csv")
        for placement in ("waist", "wrist"):
            write_device_csv(single_device(motion, placement, rng), folder / f"{spec.name}_{placement}.csv")
            files[placement] = f"{spec.split}/{spec.name}_{placement}.csv"
        files["sensors"] = f"{spec.split}/{spec.name}_sensors.csv"
    if opts.video:
        written = render_video(clip, folder / spec.name)
        files["video"] = f"{spec.split}/{written.name}"
    return files


def build_dataset(options: BuildOptions, progress=None) -> dict:
    """Write the dataset described by ``options``; returns the manifest (also written to manifest.json)."""
    opts = options.resolved()
    out = Path(opts.out_dir)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; choose a new folder so no dataset is mixed with another")
    out.mkdir(parents=True, exist_ok=True)

    n_subjects = math.ceil(opts.n_clips / opts.clips_per_subject)
    splits = subject_splits(n_subjects, opts.seed)
    specs = [
        ClipSpec(
            i // opts.clips_per_subject,
            i % opts.clips_per_subject + 1,
            splits[i // opts.clips_per_subject],
            opts,
        )
        for i in range(opts.n_clips)
    ]
    started = time.perf_counter()
    rows = []
    if opts.workers == 1:
        for done, spec in enumerate(specs, start=1):
            rows.append(make_clip(spec))
            if progress:
                progress(done, len(specs))
    else:
        with ProcessPoolExecutor(max_workers=opts.workers) as pool:
            for done, row in enumerate(pool.map(make_clip, specs, chunksize=4), start=1):
                rows.append(row)
                if progress:
                    progress(done, len(specs))
    elapsed = time.perf_counter() - started
    manifest = {
        "task": opts.task,
        "seed": opts.seed,
        "options": {k: v for k, v in asdict(opts).items() if k != "out_dir"},
        "sensor_rate_hz": SENSOR_RATE_HZ if opts.sensors else None,
        "subjects": {name: sorted(s for s, sp in splits.items() if sp == name) for name in SPLITS},
        "clips": rows,
        "timing": {
            "seconds": round(elapsed, 3),
            "clips_per_second": round(len(rows) / elapsed, 3),
            "workers": opts.workers,
            "cpu_count": os.cpu_count(),
        },
    }
    write_json(manifest, out / "manifest.json")
    return manifest
