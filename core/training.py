"""``python -m core train MODEL``: train one of MoveScope's own models on the synthetic motion lab.

- ``gait-events``: the learned gait-event detector (:mod:`core.gait.training`);
- ``fall-video``: the learned video fall detector (:mod:`core.fall.training`).

Each writes its weights with the training record inside (default: the shipped file in ``weights/``) and,
with ``--json``, the record and the per-epoch history. Both share this module's pieces: simulating the
examples on several processes (:func:`parallel_map`), the training loop (:func:`fit`) and the checkpoint
(:func:`save`).
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODELS = {
    "gait-events": ("core.gait.training", "core.gait.learned", 20),
    "fall-video": ("core.fall.training", "core.fall.learned", 12),
}


def parallel_map(make: Callable, specs: list, workers: int = 1) -> list:
    """``[make(spec) for spec in specs]``, on ``workers`` forked processes when more than one (the lab's
    simulations are the slow part of training)."""
    if workers <= 1:
        return [make(spec) for spec in specs]
    from multiprocessing import get_context

    with get_context("fork").Pool(workers) as pool:
        return pool.map(make, specs, chunksize=8)


def fit(
    build: Callable,
    train_set: list,
    val_set: list,
    *,
    batch: Callable,
    loss: Callable,
    evaluate: Callable,
    metric: str,
    describe: Callable,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    log=print,
):
    """Train ``build()`` from scratch; returns (its state at the epoch with the lowest validation ``metric``,
    the per-epoch history).

    AdamW with a one-cycle schedule over shuffled batches: ``batch(examples, rng)`` gives the (x, y, mask)
    arrays, ``loss(logits, y, mask)`` the masked training loss, ``evaluate(net, val_set)`` the validation
    scores after each epoch (``metric`` among them; ``describe(scores)`` words the rest for the log).
    """
    import copy

    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train_set) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.1
    )
    best, best_state, history = np.inf, None, []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(train_set))
        started, running = time.perf_counter(), []
        for step in range(steps_per_epoch):
            chosen = [train_set[i] for i in order[step * batch_size : (step + 1) * batch_size]]
            x, y, mask = (torch.from_numpy(a) for a in batch(chosen, rng))
            value = loss(net(x), y, mask)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            schedule.step()
            running.append(float(value.detach()))
        scores = evaluate(net, val_set)
        history.append({"epoch": epoch + 1, f"train_{metric}": round(float(np.mean(running)), 5), **scores})
        log(
            f"epoch {epoch + 1}/{epochs}: train {np.mean(running):.4f}, val {scores[metric]:.4f} "
            f"({describe(scores)}) in {time.perf_counter() - started:.0f} s"
        )
        if scores[metric] < best:
            best, best_state = scores[metric], copy.deepcopy(net.state_dict())
    return best_state, history


def save(out: str, state, feature_version: int, record: dict, history: list, seed: int, started: float):
    """Write the weights with their training record (completed with the seed, the time since ``started``
    and the versions); returns what ``--json`` gets."""
    import platform

    import torch

    from core.tcn import load_checkpoint

    record = record | {
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    torch.save(
        {"state_dict": state, "architecture": {}, "feature_version": feature_version, "record": record}, out
    )
    load_checkpoint.cache_clear()
    return {"weights": Path(out).name, **record, "history": history}


def run(args: argparse.Namespace) -> dict:
    import torch

    from core.settings import settings

    torch.set_num_threads(settings().threads)
    training, learned, epochs = MODELS[args.model]
    if args.out is None:
        args.out = str(importlib.import_module(learned).WEIGHTS_PATH)
    if args.epochs is None:
        args.epochs = epochs
    return importlib.import_module(training).run(args)


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a project model on the synthetic lab (gait-events: learned gait events; "
        "fall-video: learned video fall detector)",
    )
    parser.add_argument("model", choices=list(MODELS))
    parser.add_argument(
        "--trials-per-view", type=int, default=600, help="gait-events: side-view walks (others in proportion)"
    )
    parser.add_argument(
        "--scenes", type=int, default=3360, help="fall-video: simulated scenes (activities x views in turn)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 gait-events, 12 fall-video")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes simulating the lab")
    parser.add_argument("--out", default=None, help="weights file (default: the shipped one in weights/)")
    parser.add_argument(
        "--examples-cache", default=None, help="fall-video: keep the simulated examples in this pickle"
    )
    parser.add_argument("--json", default=None, help="write the training record here")
    parser.set_defaults(func=run)
