"""Train the learned video fall detector (:mod:`core.fall.learned`) on the synthetic motion lab.

``python -m core train fall-video`` simulates the lab's six falls and eight look-alikes
(:mod:`core.synth.falls`) from the four ward views with 0-2 bystanders, as the fall benchmark does
(:func:`core.fall.bench.synthetic_scene`: what YOLO11n-pose would report through the calibrated noise model
at the "auto", 640 or 320 image size, or the exact joints), tracks everyone, and labels every tracked
frame with the truth of the person it shows (matched by box overlap):

- **impact**: 1 within :data:`IMPACT_HALF_WIDTH_S` of a fall's impact, not scored just around that band
  (the moment is uncertain by a few frames), 0 elsewhere and for every look-alike and bystander;
- **down**: the person's trunk is past :data:`DOWN_TRUNK_DEG` from vertical or the hips are below
  :data:`DOWN_HIP_SHARE` of their stature (lying on the floor or a bed, sitting on the floor - and bending
  far over, for the moments it lasts).

Scenes come from their own seeds (:data:`TRAIN_FIRST_SEED` on); the best epoch is chosen on
:data:`SELECT_FIRST_SEED` scenes - never the benchmark's held-out seeds (10000+) nor the rules' development
seeds (30000-59999). Training is mirrored left/right at random. The result is written with its training
record to ``weights/fall-video.pt``; ``weights/fall-video.md`` is its model card.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.fall import learned
from core.training import fit, parallel_map, save
from core.types import KP

TRAIN_FIRST_SEED = 1_000_000
SELECT_FIRST_SEED = 2_000_000
IMAGE_SIZES = (("auto", 0.45), (640, 0.2), (320, 0.15), ("exact", 0.2))  # how each scene is detected
IMPACT_HALF_WIDTH_S = 0.35
IMPACT_IGNORE_S = 0.8  # frames between the band and this far from the impact are not scored
DOWN_TRUNK_DEG = 50.0
DOWN_HIP_SHARE = 0.2
MATCH_IOU = 0.3  # a tracked box shows the simulated person it overlaps at least this much
CROP_FRAMES = 256  # training windows of 8.5 s (the network sees about 5 s around each frame)
IMPACT_CROP_SHARE = 0.7  # of the crops of tracks with an impact, this share contains it
IMPACT_POS_WEIGHT = 4.0  # impact frames are rare


KP_L_SHOULDER, KP_R_SHOULDER, KP_L_HIP, KP_R_HIP = (
    KP[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
)


@dataclass
class Example:
    activity: str
    view: str
    imgsz: str
    x: np.ndarray  # (channels, g) features
    y: np.ndarray  # (2, g) impact, down
    mask: np.ndarray  # (2, g) 1 where scored
    impact_index: int | None  # grid index of the impact, for crops


def body_down(keypoints_m: np.ndarray, height_m: float) -> np.ndarray:
    """(T,) the truth of "down" from COCO-17 world joints (z up)."""
    shoulders = keypoints_m[:, [KP_L_SHOULDER, KP_R_SHOULDER]].mean(axis=1)
    hips = keypoints_m[:, [KP_L_HIP, KP_R_HIP]].mean(axis=1)
    trunk = shoulders - hips
    cos = trunk[:, 2] / np.maximum(np.linalg.norm(trunk, axis=1), 1e-9)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return (angle > DOWN_TRUNK_DEG) | (hips[:, 2] < DOWN_HIP_SHARE * height_m)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (n, 4) with boxes ``b`` (n, P, 4); NaN boxes overlap nothing."""
    x1 = np.maximum(a[:, None, 0], b[..., 0])
    y1 = np.maximum(a[:, None, 1], b[..., 1])
    x2 = np.minimum(a[:, None, 2], b[..., 2])
    y2 = np.minimum(a[:, None, 3], b[..., 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_a[:, None] + area_b - inter)
    return np.nan_to_num(iou, nan=0.0)


def scene_spec(index: int, first_seed: int) -> tuple[str, str, int, str]:
    """(activity, view, seed, image size) of the ``index``-th scene of a stream."""
    from core.fall.bench import BENCH_VIEWS
    from core.synth.falls import ACTIVITIES

    activity = ACTIVITIES[index % len(ACTIVITIES)]
    view = BENCH_VIEWS[(index // len(ACTIVITIES)) % len(BENCH_VIEWS)]
    seed = first_seed + index
    rng = np.random.default_rng([seed, 0x1A6E])
    sizes, weights = zip(*IMAGE_SIZES, strict=True)
    return activity, view, seed, str(sizes[int(rng.choice(len(sizes), p=weights))])


def make_examples_of_scene(spec: tuple[str, str, int, str]) -> list[Example]:
    """Every usable track of one simulated scene, labelled."""
    from core.fall.bench import synthetic_scene
    from core.fall.video import presumed_lying_until, run_state_machine, stitch_tracks
    from core.tracking import track_people

    activity, view, seed, imgsz = spec
    options = {"exact": True} if imgsz == "exact" else {"imgsz": imgsz if imgsz == "auto" else int(imgsz)}
    scene = synthetic_scene(activity, view, seed, **options)
    fps, clip = scene.fps, scene.clip
    size = (clip.camera.width_px, clip.camera.height_px)
    tracks = stitch_tracks(track_people(scene.frames, fps=fps), fps)
    downs = [body_down(p.motion.keypoints_m, p.motion.body.height_cm / 100) for p in clip.people]
    impact_frame = None if scene.impact_s is None else scene.impact_s * fps
    examples = []
    for track in tracks:
        if len(track) < fps:
            continue
        presumed = presumed_lying_until(track, tracks, fps, len(scene.frames), size)
        run = run_state_machine(track, fps, None, presumed)
        x, grid = learned.features(track, fps, run)
        at = np.asarray(track.frames, int) - grid[0]
        iou = _iou(track.boxes, clip.boxes_px[np.asarray(track.frames, int)])
        who = np.where(iou.max(axis=1) >= MATCH_IOU, iou.argmax(axis=1), -1)
        person = np.full(len(grid), -1)
        person[at] = who
        y = np.zeros((2, len(grid)), np.float32)
        mask = np.ones((2, len(grid)), np.float32)
        seen = person >= 0
        for p, down in enumerate(downs):
            here = person == p
            y[1, here] = down[np.minimum(grid[here], len(down) - 1)]
        mask[1, ~seen] = 0.0  # gaps and unmatched boxes: whose body it is is unknown
        impact_index = None
        if impact_frame is not None and (person == 0).any():
            dt = (grid - impact_frame) / fps
            patient = person == 0
            y[0, patient & (np.abs(dt) <= IMPACT_HALF_WIDTH_S)] = 1.0
            mask[0, (np.abs(dt) > IMPACT_HALF_WIDTH_S) & (np.abs(dt) <= IMPACT_IGNORE_S)] = 0.0
            if y[0].any():
                impact_index = int(np.argmin(np.abs(dt)))
            else:  # the patient's impact is in a gap of this track: do not teach "no impact" around it
                mask[0, np.abs(dt) <= IMPACT_IGNORE_S] = 0.0
        examples.append(Example(activity, view, imgsz, x, y, mask, impact_index))
    return examples


def make_examples(specs: list, workers: int = 1, log=print) -> list[Example]:
    started = time.perf_counter()
    examples = [e for scene in parallel_map(make_examples_of_scene, specs, workers) for e in scene]
    seconds = time.perf_counter() - started
    log(f"fall-video: {len(examples)} tracks from {len(specs)} scenes in {seconds:.0f} s")
    return examples


def _batch(examples: list[Example], rng: np.random.Generator, crop: int, mirror: bool):
    """Random crops (most crops of a fall track hold its impact), zero-padded, with the loss mask."""
    n = min(crop, max(e.x.shape[1] for e in examples))
    x = np.zeros((len(examples), learned.N_FEATURES, n), np.float32)
    y = np.zeros((len(examples), 2, n), np.float32)
    mask = np.zeros((len(examples), 2, n), np.float32)
    for b, e in enumerate(examples):
        length = e.x.shape[1]
        start = 0
        if length > n:
            if e.impact_index is not None and rng.random() < IMPACT_CROP_SHARE:
                low = max(0, e.impact_index - n + 16)
                high = min(length - n, e.impact_index - 16)
                start = (
                    int(rng.integers(low, high + 1)) if high >= low else int(rng.integers(0, length - n + 1))
                )
            else:
                start = int(rng.integers(0, length - n + 1))
        xs = e.x[:, start : start + n]
        if mirror and rng.random() < 0.5:
            xs = learned.mirror_features(xs)
        k = xs.shape[1]
        x[b, :, :k] = xs
        y[b, :, :k] = e.y[:, start : start + n]
        mask[b, :, :k] = e.mask[:, start : start + n]
    return x, y, mask


def _loss(logits, y, mask):
    import torch

    weight = torch.ones_like(y)
    weight[:, 0] = 1.0 + (IMPACT_POS_WEIGHT - 1.0) * y[:, 0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=weight, reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1.0)


def evaluate(net, examples: list[Example]) -> dict:
    """Masked loss on whole tracks, and per head the frame accuracy at one half."""
    import torch

    net.eval()
    losses, correct, total = [], np.zeros(2), np.zeros(2)
    with torch.inference_mode():
        for e in examples:
            logits = net(torch.from_numpy(e.x)[None])
            y, mask = torch.from_numpy(e.y)[None], torch.from_numpy(e.mask)[None]
            losses.append(float(_loss(logits, y, mask)))
            hit = ((logits >= 0) == (y >= 0.5)).float() * mask
            correct += hit.sum(dim=(0, 2)).numpy()
            total += mask.sum(dim=(0, 2)).numpy()
    accuracy = correct / np.maximum(total, 1)
    return {
        "loss": round(float(np.mean(losses)), 5),
        "impact_frame_accuracy": round(float(accuracy[0]), 5),
        "down_frame_accuracy": round(float(accuracy[1]), 5),
    }


def train(
    train_set: list[Example],
    val_set: list[Example],
    epochs: int = 12,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    log=print,
):
    """Train a fresh network; returns (state of the best epoch on ``val_set``, history)."""
    return fit(
        learned.build_network,
        train_set,
        val_set,
        batch=lambda chosen, rng: _batch(chosen, rng, CROP_FRAMES, mirror=True),
        loss=_loss,
        evaluate=evaluate,
        metric="loss",
        describe=lambda s: f"impact {s['impact_frame_accuracy']:.2%}, down {s['down_frame_accuracy']:.2%}",
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        log=log,
    )


def _cached(path: str | None, key: tuple, make):
    """``make()``, or what an earlier call with the same ``key`` left in ``path`` (a pickle; it is ours)."""
    import pickle

    if path and Path(path).is_file():
        with open(path, "rb") as f:
            stored_key, value = pickle.load(f)
        if stored_key == key:
            return value
    value = make()
    if path:
        with open(path, "wb") as f:
            pickle.dump((key, value), f)
    return value


def run(args: argparse.Namespace) -> dict:
    from core.synth.falls import ACTIVITIES

    started = time.perf_counter()
    n_train = args.scenes
    n_select = max(len(ACTIVITIES) * 4, n_train // 12)
    train_set, val_set = _cached(
        args.examples_cache,
        (n_train, n_select, learned.FEATURE_VERSION),
        lambda: (
            make_examples([scene_spec(i, TRAIN_FIRST_SEED) for i in range(n_train)], args.workers),
            make_examples([scene_spec(i, SELECT_FIRST_SEED) for i in range(n_select)], args.workers),
        ),
    )
    state, history = train(train_set, val_set, args.epochs, args.batch_size, args.lr, args.seed)
    best = min(history, key=lambda h: h["loss"])
    record = {
        "trained_on": (
            "synthetic motion lab falls and look-alikes (core.synth.falls), "
            "views cctv/oblique/across/toward, 0-2 bystanders, "
            "through the calibrated YOLO11n-pose noise model (image sizes "
            + ", ".join(f"{s} {w:.0%}" for s, w in IMAGE_SIZES)
            + f"), seeds {TRAIN_FIRST_SEED}+"
        ),
        "train_scenes": n_train,
        "train_tracks": len(train_set),
        "selected_on": f"{n_select} scenes ({len(val_set)} tracks), seeds {SELECT_FIRST_SEED}+",
        "epochs": args.epochs,
        "best_epoch": best["epoch"],
        "validation": {k: v for k, v in best.items() if k not in ("epoch", "train_loss")},
    }
    return save(args.out, state, learned.FEATURE_VERSION, record, history, args.seed, started)
