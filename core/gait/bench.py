"""How accurate are MoveScope's gait parameters? Validation against the synthetic lab's exact truth.

``python -m core bench gait`` simulates held-out walkers (normal, elderly, INPH-like, hemiparetic,
ASD-like gait; 150-195 cm tall) filmed from the side, toward and away from the camera and obliquely, with
bystanders who stand, walk, cross and step between camera and patient. The keypoints the pipeline sees are
not the exact joints but what YOLO11n-pose would report, from the calibrated pose-detector noise model
(:mod:`core.synth.noise`: jitter, missed joints, left/right swaps, missed and false detections) at the
image size the pose stage's "auto" setting would choose. Every
trial then goes through the product's own stages - tracking, patient selection, gait analysis with a height
calibration - and each reported parameter is compared with the walkway truth: MAE, bias, ICC(A,1),
ICC(C,1) and Bland-Altman limits per view group, plus how often the quality gate refused and how often the
right person was chosen. Events come from the default (learned) detector; the same trials are also
measured with the rule-based detectors (``rules_given_the_patient``) for comparison. The learned detector
never saw these walkers: it is trained on another random stream (:mod:`core.gait.training`). The real
sports2d clip (walker 165 cm) is analysed too and reported as is.

``python -m core bench gait-offsets`` measures the event detectors' systematic timing offsets on other
simulated subjects (a separate random stream, never used for validation) and prints the table to copy into
:data:`core.gait.analysis.EVENT_OFFSETS`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from core.agreement import bland_altman, icc_table
from core.bench import SPORTS2D, machine, suite
from core.gait import learned
from core.gait.analysis import GaitSettings, analyse_gait, median_cycle_s, walking_view
from core.gait.calibration import Calibration
from core.gait.events import choose_method, detect_events
from core.gait.signals import joint_signals
from core.pose import AUTO_PROBE_FRAMES, choose_imgsz
from core.selection import select_patient
from core.synth.body import Body
from core.synth.camera import camera_for_view
from core.synth.noise import detect_scene
from core.synth.scene import Person, bystander, film
from core.synth.walker import GaitTruth, sample_gait, walk
from core.tracking import track_people
from core.types import Track, VideoInfo

VALIDATION_STREAM = 0x47414954  # "GAIT"
OFFSET_STREAM = 0x4F464653  # "OFFS": calibration subjects for the event offsets, never validated on
CONDITIONS = ("normal", "elderly", "inph", "hemiparetic", "asd")
VIEW_GROUPS = {"side": ("across",), "toward/away": ("toward", "away"), "oblique": ("oblique",)}
TRIALS_PER_VIEW = {"across": 60, "toward": 40, "away": 30, "oblique": 30}
DURATION_S, FPS = 10.0, 30.0
REPORTED = (
    "Velocity",
    "Cadence",
    "Stride Length(cm)/L",
    "Stride Length(cm)/R",
    "Step Length(cm)/L",
    "Cycle Time(sec)/L",
    "Stance % of Cycle/L",
    "Stance % of Cycle/R",
    "Double Supp % Cycle/L",
    "Step Time(sec)/L",
)
MAE_TARGETS = {
    "Velocity": 5.0,
    "Cadence": 2.0,
    "Stride Length(cm)/L": 5.0,
    "Stance % of Cycle/L": 2.0,
    "Stance % of Cycle/R": 2.0,
}
TARGETS = {  # issue 4: ICC(A,1) per view; the MAE targets hold in every view lengths are reported in
    "side": {"icc": 0.95, **MAE_TARGETS},
    "toward/away": {"icc": 0.90, **MAE_TARGETS},
}
ICC_PARAMETERS = ("Velocity", "Cadence", "Stride Length(cm)/L")


@dataclass(frozen=True)
class TrialSpec:
    index: int
    view: str
    condition: str
    bystanders: int
    stream: int = VALIDATION_STREAM


@dataclass
class Trial:
    spec: TrialSpec
    truth: GaitTruth
    tracks: list[Track]
    patient_track: Track | None
    right_person: bool
    video: VideoInfo
    hfov_deg: float
    true_track_ids: set[int]


def simulate(spec: TrialSpec) -> Trial:
    """One simulated walk, filmed and 'detected' as YOLO11n-pose would, then tracked and selected."""
    rng = np.random.default_rng([spec.stream, spec.index])
    body = Body.sample(rng)
    params = sample_gait(spec.condition, body, rng)
    motion, truth = walk(params, body, duration_s=DURATION_S, fps=FPS, rng=rng)
    camera = camera_for_view(spec.view, motion, rng)
    people = [Person(motion, "patient", "walk")]
    for _ in range(spec.bystanders):
        behaviour = rng.choice(["stand", "walk", "cross", "occlude"])
        extra = bystander(str(behaviour), motion, camera, rng)
        if extra is not None:
            people.append(extra)
    clip = film(camera, people, seed=int(rng.integers(2**31)))
    detected = detect_scene(clip, auto_imgsz(clip), rng)
    video = VideoInfo(
        f"synthetic:{spec.view}:{spec.index}", FPS, clip.frames, camera.width_px, camera.height_px, "-", 0
    )
    tracks = track_people(detected.frames, fps=FPS)
    selection = select_patient(tracks, FPS, len(detected.frames), image_width=camera.width_px)
    patient = next((t for t in tracks if t.id == selection.track_id), None)
    right = patient is not None and patient.id in patient_tracks(tracks, detected)
    return Trial(
        spec, truth, tracks, patient, right, video, camera.hfov_deg, patient_tracks(tracks, detected)
    )


def auto_imgsz(clip) -> int:
    """The image size the pose stage's "auto" setting would choose here (tallest person in 5 frames)."""
    frames = np.linspace(0, clip.frames - 1, AUTO_PROBE_FRAMES).round().astype(int)
    heights = clip.boxes_px[frames, :, 3] - clip.boxes_px[frames, :, 1]
    tallest = np.nanmax(np.where(np.isfinite(heights), heights, -np.inf), axis=1)
    tallest = tallest[np.isfinite(tallest) & (tallest > 0)]
    long_side = max(clip.camera.width_px, clip.camera.height_px)
    return choose_imgsz(float(np.median(tallest)) if len(tallest) else None, long_side)


def patient_tracks(tracks: list[Track], detected) -> set[int]:
    """Ids of the tracks made (for more than 80 % of their frames) of the simulated patient, person 0."""
    ids = set()
    for track in tracks:
        owners = []
        for frame, box in zip(track.frames, track.boxes, strict=True):
            rows = detected.frames[int(frame)]
            if len(rows) == 0:
                continue
            i = int(np.argmin(np.abs(rows.boxes - box).sum(axis=1)))
            owners.append(detected.person_index[int(frame)][i])
        if owners and float(np.mean(np.array(owners) == 0)) > 0.8:
            ids.add(track.id)
    return ids


def specs(stream: int, per_view: dict[str, int]) -> list[TrialSpec]:
    out, index = [], 0
    for view, n in per_view.items():
        for k in range(n):
            out.append(TrialSpec(index, view, CONDITIONS[k % len(CONDITIONS)], k % 3, stream))
            index += 1
    return out


def evaluate(trial: Trial, given_patient: bool = False, method: str = "auto") -> dict:
    """The trial's reported parameters next to the truth (or why nothing was reported).

    ``given_patient``: measure the patient's own (longest) track whatever the selection chose, which
    separates gait accuracy from selection accuracy. ``method``: the event detector, or "rules" for the
    rule-based one the walking direction picks (what "auto" did before the learned detector).
    """
    row = {
        "view": trial.spec.view,
        "condition": trial.spec.condition,
        "bystanders": trial.spec.bystanders,
        "right_person": trial.right_person,
    }
    track = trial.patient_track if trial.right_person else None
    if given_patient:
        own = [t for t in trial.tracks if t.id in trial.true_track_ids]
        track = max(own, key=len) if own else None
    if track is None:
        reason = "the patient was not detected" if given_patient else "the patient was not selected"
        return {**row, "usable": False, "reasons": [reason], "values": {}}
    calibration = Calibration("height", height_cm=trial.truth.height_cm, hfov_deg=trial.hfov_deg)
    if method == "rules":
        view, _ = walking_view(joint_signals(track, FPS), trial.video, trial.hfov_deg)
        method = choose_method(view)
    gait = analyse_gait(track, trial.video, GaitSettings(method=method, calibration=calibration))
    values = {
        name: (trial.truth.parameters[name], gait.parameters[name].value)
        for name in REPORTED
        if name in gait.parameters and name in trial.truth.parameters
    }
    return {**row, "usable": gait.quality.usable, "reasons": list(gait.quality.reasons), "values": values}


def agreement_rows(rows: list[dict]) -> dict:
    """Per parameter: n, MAE, bias, ICC(A,1) and ICC(C,1) with CIs, Bland-Altman limits."""
    out = {}
    for name in REPORTED:
        pairs = np.array([r["values"][name] for r in rows if r["usable"] and name in r["values"]], float)
        if len(pairs) < 5:
            continue
        truth, estimate = pairs[:, 0], pairs[:, 1]
        table = icc_table(np.column_stack([truth, estimate]))
        ba = bland_altman(estimate, truth)
        out[name] = {
            "n": len(pairs),
            "mae": round(float(np.mean(np.abs(estimate - truth))), 3),
            "bias": round(float(np.mean(estimate - truth)), 3),
            "icc_a1": round(table["ICC(A,1)"].value, 4),
            "icc_a1_ci": [round(table["ICC(A,1)"].ci_low, 3), round(table["ICC(A,1)"].ci_high, 3)],
            "icc_c1": round(table["ICC(C,1)"].value, 4),
            "loa": [round(ba.loa_low, 3), round(ba.loa_high, 3)],
        }
    return out


def targets_met(group: str, stats: dict) -> dict:
    target = TARGETS.get(group)
    if not target:
        return {}
    met = {
        f"ICC(A,1) {p} >= {target['icc']}": stats.get(p, {}).get("icc_a1", 0) >= target["icc"]
        for p in ICC_PARAMETERS
    }
    for p, limit in target.items():
        if p != "icc":
            met[f"MAE {p} <= {limit}"] = stats.get(p, {}).get("mae", np.inf) <= limit
    return met


def real_sports2d() -> dict:
    if not SPORTS2D.is_file():
        return {"note": "../shared/data absent"}
    from core.cache import StageCache
    from core.pipeline import AnalysisSettings, analyse_video
    from core.settings import settings

    gait = GaitSettings(calibration=Calibration("height", height_cm=165.0))
    analysis = analyse_video(SPORTS2D, AnalysisSettings(gait=gait), StageCache(settings().cache_dir))
    doc = analysis.gait_document()
    return {
        "clip": SPORTS2D.name,
        "height_cm": 165.0,
        "quality": doc["quality"],
        "strides": len(doc.get("gait", {}).get("strides", [])),
        "parameters": {k: v["value"] for k, v in doc["parameters"].items()},
    }


def summarise(rows: list[dict], views: tuple[str, ...], group: str) -> dict:
    mine = [r for r in rows if r["view"] in views]
    stats = agreement_rows(mine)
    refused = [r for r in mine if not r["usable"]]
    return {
        "trials": len(mine),
        "refused": len(refused),
        "refusal_reasons": sorted({reason.split(" (")[0] for r in refused for reason in r["reasons"]}),
        "parameters": stats,
        "targets": targets_met(group, stats),
    }


def stance_by_condition(rows: list[dict]) -> dict:
    """Stance % MAE per simulated condition (where the ankle-based toe off is weakest)."""
    out = {}
    for condition in CONDITIONS:
        errors = [
            abs(r["values"][k][1] - r["values"][k][0])
            for r in rows
            if r["usable"] and r["condition"] == condition
            for k in ("Stance % of Cycle/L", "Stance % of Cycle/R")
            if k in r["values"]
        ]
        if errors:
            out[condition] = round(float(np.mean(errors)), 2)
    return out


def speed_10s_1080p() -> dict:
    """Upload-to-parameters time for a 10 s 1080p walking video: a rendered walk toward the camera (the gait
    seed's corridor), analysed by ``python -m core gait`` in a fresh process (model loading included)."""
    import json
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from core.settings import PROJECT_ROOT
    from core.synth.render import render_video

    rng = np.random.default_rng([VALIDATION_STREAM, 10_800])
    body = Body.sample(rng)
    motion, truth = walk(sample_gait("normal", body, rng), body, duration_s=10.0, fps=FPS, rng=rng)
    camera = camera_for_view("toward", motion, rng)
    with tempfile.TemporaryDirectory(prefix="movescope-speed-") as tmp:
        video = render_video(film(camera, [Person(motion, "patient", "walk")], seed=1), Path(tmp) / "walk")
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "core", "gait", str(video), "--height-cm", f"{truth.height_cm:.1f}"]
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "--no-cache", "--json", str(out)], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-500:]}
        doc = json.loads(out.read_text())
    return {
        "video": f"{doc['video']['width']}x{doc['video']['height']}, {doc['video']['duration_s']} s, VP8",
        "seconds_wall_clock": round(wall, 1),
        "seconds_in_pipeline": doc["timings"]["total"],
        "imgsz_chosen": doc["settings"]["pose"]["imgsz"],
        "stage_seconds": {k: v for k, v in doc["timings"].items() if k not in ("total", "fps", "cached")},
        "usable": doc["quality"]["usable"],
        "velocity_vs_truth_cm_s": [
            round(truth.parameters["Velocity"], 1),
            doc["parameters"].get("Velocity", {}).get("value"),
        ],
    }


@suite("gait")
def bench_gait(args: argparse.Namespace) -> dict:
    trials = [simulate(spec) for spec in specs(VALIDATION_STREAM, TRIALS_PER_VIEW)]
    end_to_end = [evaluate(t) for t in trials]
    given = [evaluate(t, given_patient=True) for t in trials]
    rules = [evaluate(t, given_patient=True, method="rules") for t in trials]
    groups = {}
    for group, views in VIEW_GROUPS.items():
        side_rows = [r for r in given if r["view"] in views]
        groups[group] = {
            "patient_selected_right": round(float(np.mean([r["right_person"] for r in side_rows])), 3),
            "end_to_end": summarise(end_to_end, views, group),
            "given_the_patient": summarise(given, views, group),
            "stance_mae_by_condition": stance_by_condition(side_rows),
            "rules_given_the_patient": summarise(rules, views, group),
            "rules_stance_mae_by_condition": stance_by_condition([r for r in rules if r["view"] in views]),
        }
    return {
        "suite": "gait",
        "what": (
            "GAITRite parameters from simulated walks seen through the calibrated YOLO11n-pose noise model, "
            "through MoveScope's tracking, patient selection and gait analysis (height calibration), "
            "against the walkway truth. end_to_end: only trials where the right person was selected count; "
            "given_the_patient: the patient's own track is measured whatever the selection chose; events "
            "from the learned detector (weights/gait-events.pt) unless rules_: the rule-based detectors"
        ),
        "machine": machine(),
        "trials_per_view": TRIALS_PER_VIEW,
        "conditions": CONDITIONS,
        "groups": groups,
        "real_sports2d": real_sports2d(),
        "speed_10s_1080p": speed_10s_1080p(),
    }


def event_offsets(trials: list[Trial]) -> dict[str, tuple[float, float, int]]:
    """Mean (true - detected) event time as a share of the cycle, per detector and view."""
    errors: dict[str, list[list[float]]] = {}
    for trial in trials:
        if trial.patient_track is None or not trial.right_person:
            continue
        signals = joint_signals(trial.patient_track, FPS)
        view, _ = walking_view(signals, trial.video, trial.hfov_deg)
        auto = choose_method(view)
        auto_key = f"frontal-{'away' if view == 'away' else 'toward'}" if auto == "frontal" else auto
        detectors = [(auto_key, auto), ("stillness", "stillness")]
        if learned.available():
            detectors.append(("learned", "learned"))
        for key, method in detectors:
            events = detect_events(signals, method)
            cycle = median_cycle_s(events) or 1.1
            bucket = errors.setdefault(key, [[], []])
            for side in ("left", "right"):
                for k, kind in enumerate(("heel_strike", "toe_off")):
                    true = getattr(trial.truth.events, f"{side}_{kind}_s")
                    found = getattr(events.feet[side], f"{kind}_s")
                    for t in true:
                        if len(found) and abs(found - t).min() < 0.25 * cycle:
                            bucket[k].append((t - found[np.argmin(abs(found - t))]) / cycle)
    return {
        key: (round(float(np.median(hs)), 3), round(float(np.median(to)), 3), len(hs))
        for key, (hs, to) in errors.items()
        if hs and to
    }


@suite("gait-offsets")
def bench_gait_offsets(args: argparse.Namespace) -> dict:
    per_view = {view: max(10, n // 2) for view, n in TRIALS_PER_VIEW.items()}
    trials = [simulate(spec) for spec in specs(OFFSET_STREAM, per_view)]
    offsets = event_offsets(trials)
    return {"suite": "gait-offsets", "offsets_share_of_cycle": offsets, "trials_per_view": per_view}
