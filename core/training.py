"""``python -m core train MODEL``: train one of MoveScope's own models on the synthetic motion lab.

- ``gait-events``: the learned gait-event detector (:mod:`core.gait.training`);
- ``fall-video``: the learned video fall detector (:mod:`core.fall.training`).

Each writes its weights with the training record inside (default: the shipped file in ``weights/``) and,
with ``--json``, the record and the per-epoch history.
"""

from __future__ import annotations

import argparse
import importlib

MODELS = {
    "gait-events": ("core.gait.training", "core.gait.learned", 20),
    "fall-video": ("core.fall.training", "core.fall.learned", 12),
}


def run(args: argparse.Namespace) -> dict:
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
