"""``python -m core synth make ...``: build a simulated dataset from the command line."""

from __future__ import annotations

import argparse
import os
import sys

from core.synth import noise_cli
from core.synth.camera import VIEWS
from core.synth.dataset import TASKS, BuildOptions, build_dataset


def add_cli(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="synthetic motion lab: simulated patients with exact labels")
    commands = synth.add_subparsers(dest="synth_command", required=True)
    make = commands.add_parser(
        "make",
        help="write a gait, fall or spine dataset (keypoints, labels, sensor CSVs), split by subject",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    make.add_argument("--task", choices=TASKS, required=True)
    make.add_argument("--n", type=int, required=True, help="number of clips")
    make.add_argument("--out", required=True, help="new (or empty) output folder")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--video", action="store_true", help="also render the scenes as videos (slower)")
    sensors = make.add_mutually_exclusive_group()
    sensors.add_argument(
        "--sensors", dest="sensors", action="store_true", default=None, help="write sensor CSVs"
    )
    sensors.add_argument("--no-sensors", dest="sensors", action="store_false", help="no sensor CSVs")
    make.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    make.add_argument(
        "--clips-per-subject", type=int, default=None, help="default: 2 (gait, spine), 4 (fall)"
    )
    make.add_argument("--duration", type=float, default=None, help="seconds per clip; default 8, falls 10")
    make.add_argument("--fps", type=float, default=None, help="video frame rate; default 30, falls 60")
    make.add_argument("--max-bystanders", type=int, default=2)
    make.add_argument("--views", default=None, help=f"comma-separated subset of {','.join(VIEWS)}")
    make.add_argument("--json", default=None, help="also write the manifest summary here")
    make.set_defaults(func=_make)
    noise_cli.add_cli(commands)


def _make(args: argparse.Namespace) -> dict:
    options = BuildOptions(
        task=args.task,
        n_clips=args.n,
        out_dir=args.out,
        seed=args.seed,
        video=args.video,
        sensors=args.sensors,
        workers=args.workers,
        clips_per_subject=args.clips_per_subject,
        duration_s=args.duration,
        fps=args.fps,
        max_bystanders=args.max_bystanders,
        views=tuple(v.strip() for v in args.views.split(",")) if args.views else None,
    )

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(f"{done}/{total} clips", file=sys.stderr)

    manifest = build_dataset(options, progress)
    return {
        "task": manifest["task"],
        "out": args.out,
        "clips": len(manifest["clips"]),
        "subjects": {split: len(ids) for split, ids in manifest["subjects"].items()},
        "timing": manifest["timing"],
    }
