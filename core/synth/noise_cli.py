"""``python -m core synth calibrate-noise``: re-measure YOLO11n-pose's noise on real clips.

Runs :func:`core.synth.noise.measure_pose_noise` and writes its numbers as JSON; the module docstring of
:mod:`core.synth.noise` and :data:`core.synth.noise.CALIBRATED` hold the numbers of the last calibration.
"""

from __future__ import annotations

import argparse

from core.cli import write_json


def add_cli(synth_subparsers: argparse._SubParsersAction) -> None:
    """Add ``calibrate-noise`` to the ``synth`` command's sub-commands."""
    parser = synth_subparsers.add_parser(
        "calibrate-noise",
        help="measure YOLO11n-pose's keypoint jitter, missing joints, swaps and misses on real videos",
    )
    parser.add_argument("--out", default="-", help="JSON file to write (default: standard output)")
    parser.add_argument("videos", nargs="*", help="videos to measure (default: the clips in ../shared/data)")
    parser.add_argument("--imgsz", type=int, nargs="+", default=None, help="pose input sizes (320 480 640)")
    parser.add_argument(
        "--reference-imgsz",
        type=int,
        default=None,
        help="larger input size that tells who is there, for the miss rate (1280; 0 = skip)",
    )
    parser.set_defaults(func=_calibrate_noise)


def _calibrate_noise(args: argparse.Namespace) -> None:
    from core.synth.noise import (
        CALIBRATION_IMGSZ,
        REFERENCE_IMGSZ,
        default_calibration_videos,
        measure_pose_noise,
    )

    reference = REFERENCE_IMGSZ if args.reference_imgsz is None else (args.reference_imgsz or None)
    result = measure_pose_noise(
        args.videos or default_calibration_videos(),
        imgsz=args.imgsz or CALIBRATION_IMGSZ,
        reference_imgsz=reference,
    )
    write_json(result, args.out)
