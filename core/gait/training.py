"""Train the learned gait-event detector (:mod:`core.gait.learned`) on the synthetic motion lab.

``python -m core train gait-events`` simulates walkers (five gait patterns, 150-195 cm, filmed from the
side, toward and away from the camera and obliquely, with 0-2 bystanders), passes what the camera sees
through the calibrated YOLO11n-pose noise model, tracks the people and takes the patient's own track, as
the gait benchmark does (:func:`core.gait.bench.simulate`) - but from its own random stream
(:data:`TRAIN_STREAM`): the benchmark's validation walkers are never trained on. Model selection uses the
event-offset calibration walkers (:data:`core.gait.bench.OFFSET_STREAM`), also not the validation ones.

The label of a frame is the share of its frame interval in which the foot bears weight (between the
walker's true heel strike and toe off), so the network can place events between frames. Training is
left/right mirrored at random. The result is written with its training record to ``weights/gait-events.pt``;
``weights/gait-events.md`` is its model card.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from core.gait import learned
from core.gait.bench import (
    CONDITIONS,
    FPS,
    OFFSET_STREAM,
    TRIALS_PER_VIEW,
    TrialSpec,
    simulate,
    specs,
)
from core.gait.signals import joint_signals
from core.training import fit, parallel_map, save

TRAIN_STREAM = 0x54524E47  # "TRNG": training walkers, never validated on
SUPERSAMPLE = 10  # points per frame interval for the soft contact label
CROP_FRAMES = 192  # training windows of 6.4 s (the network sees 2.4 s around each frame)


@dataclass
class Example:
    view: str
    condition: str
    x: np.ndarray  # (channels, n) features
    y: np.ndarray  # (2, n) share of each frame interval the left / right foot bears weight


def contact_labels(time_s: np.ndarray, truth_events, rate_hz: float) -> np.ndarray:
    """(2, n) soft foot-contact labels from the walker's true events."""
    out = np.zeros((2, len(time_s)), np.float32)
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    t = time_s[:, None] + offsets[None, :] / rate_hz  # (n, SUPERSAMPLE)
    for i, side in enumerate(learned.SIDES):
        hs = np.asarray(getattr(truth_events, f"{side}_heel_strike_s"), float)
        to = np.asarray(getattr(truth_events, f"{side}_toe_off_s"), float)
        times = np.concatenate([hs, to])
        kinds = np.concatenate([np.ones(len(hs)), np.zeros(len(to))])
        order = np.argsort(times)
        times, kinds = times[order], kinds[order]
        if not len(times):
            continue
        last = np.searchsorted(times, t, side="right") - 1
        before_first = 1.0 - kinds[0]  # before a heel strike the foot swings, before a toe off it stands
        state = np.where(last >= 0, kinds[np.clip(last, 0, None)], before_first)
        out[i] = state.mean(axis=1)
    return out


def make_example(spec: TrialSpec) -> Example | None:
    """One simulated walk as the network sees it (None when the patient was not detected)."""
    trial = simulate(spec)
    own = [t for t in trial.tracks if t.id in trial.true_track_ids]
    if not own:
        return None
    track = max(own, key=len)
    if len(track) < 2 * FPS:
        return None
    signals = joint_signals(track, FPS)
    x = learned.features(signals)
    y = contact_labels(signals.time_s, trial.truth.events, signals.rate_hz)
    return Example(spec.view, spec.condition, x, y)


def make_examples(trials: list[TrialSpec], workers: int = 1, log=print) -> list[Example]:
    started = time.perf_counter()
    examples = [e for e in parallel_map(make_example, trials, workers) if e is not None]
    seconds = time.perf_counter() - started
    log(f"gait-events: {len(examples)} of {len(trials)} walks usable in {seconds:.0f} s")
    return examples


def _batch(examples: list[Example], rng: np.random.Generator, crop: int, mirror: bool):
    """Random crops, zero-padded, with a loss mask."""
    n = min(crop, max(e.x.shape[1] for e in examples))
    x = np.zeros((len(examples), learned.N_FEATURES, n), np.float32)
    y = np.zeros((len(examples), 2, n), np.float32)
    mask = np.zeros((len(examples), 1, n), np.float32)
    for b, e in enumerate(examples):
        length = e.x.shape[1]
        start = int(rng.integers(0, length - n + 1)) if length > n else 0
        xs, ys = e.x[:, start : start + n], e.y[:, start : start + n]
        if mirror and rng.random() < 0.5:
            xs, ys = learned.mirror_features(xs), ys[::-1]
        x[b, :, : xs.shape[1]], y[b, :, : ys.shape[1]] = xs, ys
        mask[b, :, : xs.shape[1]] = 1.0
    return x, y, mask


def evaluate(net, examples: list[Example]) -> dict:
    """Masked BCE and frame accuracy (contact >= 0.5 vs label >= 0.5) on whole clips."""
    import torch

    net.eval()
    losses, correct, total = [], 0, 0
    with torch.inference_mode():
        for e in examples:
            logits = net(torch.from_numpy(e.x)[None])[0]
            target = torch.from_numpy(np.ascontiguousarray(e.y))
            losses.append(float(torch.nn.functional.binary_cross_entropy_with_logits(logits, target)))
            correct += int(((logits >= 0) == (target >= 0.5)).sum())
            total += target.numel()
    return {"bce": round(float(np.mean(losses)), 5), "frame_accuracy": round(correct / max(total, 1), 5)}


def _loss(logits, y, mask):
    import torch

    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (loss * mask).sum() / (mask.sum() * 2)


def train(
    train_set: list[Example],
    val_set: list[Example],
    epochs: int = 20,
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
        metric="bce",
        describe=lambda scores: f"{scores['frame_accuracy']:.2%} frames",
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        log=log,
    )


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    per_view = {
        view: args.trials_per_view * n // TRIALS_PER_VIEW["across"] for view, n in TRIALS_PER_VIEW.items()
    }
    val_per_view = {view: max(2, n // 20) for view, n in per_view.items()}  # 1 per 20 training walks
    train_set = make_examples(specs(TRAIN_STREAM, per_view), args.workers)
    val_set = make_examples(specs(OFFSET_STREAM, val_per_view), args.workers)
    state, history = train(train_set, val_set, args.epochs, args.batch_size, args.lr, args.seed)
    best = min(history, key=lambda h: h["bce"])
    record = {
        "trained_on": (
            "synthetic motion lab walks (core.synth) through the calibrated YOLO11n-pose noise model, "
            f"random stream {TRAIN_STREAM:#x}; conditions {', '.join(CONDITIONS)}; 0-2 bystanders"
        ),
        "train_walks": len(train_set),
        "train_walks_per_view": per_view,
        "selected_on": f"{len(val_set)} calibration walks (stream {OFFSET_STREAM:#x}), not the benchmark's",
        "epochs": args.epochs,
        "best_epoch": best["epoch"],
        "validation": {k: best[k] for k in ("bce", "frame_accuracy")},
    }
    return save(args.out, state, learned.FEATURE_VERSION, record, history, args.seed, started)
