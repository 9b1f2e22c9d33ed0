"""``python -m core gait VIDEO``: the patient's analysis as JSON, for scripts and batch work."""

from __future__ import annotations

import argparse

from core.cache import StageCache
from core.errors import InputError
from core.gait.analysis import GaitSettings
from core.gait.calibration import DEFAULT_HFOV_DEG, Calibration
from core.gait.events import METHODS
from core.pipeline import AnalysisSettings, analyse_video
from core.pose import IMGSZ_CHOICES, PoseSettings
from core.settings import settings
from core.tracking import TRACKERS, TrackingSettings


def imgsz_option(text: str) -> int | None:
    """``--imgsz`` value: "auto" (None) or one of :data:`~core.pose.IMGSZ_CHOICES`."""
    if text == "auto":
        return None
    if text.isdigit() and int(text) in IMGSZ_CHOICES:
        return int(text)
    raise argparse.ArgumentTypeError(f"choose auto or one of {', '.join(map(str, IMGSZ_CHOICES))}")


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--imgsz",
        type=imgsz_option,
        default=None,
        metavar="{auto," + ",".join(map(str, IMGSZ_CHOICES)) + "}",
        help="pose image size (default auto: large enough for the people in the video)",
    )
    parser.add_argument("--stride", type=int, default=1, help="analyse every n-th frame (default 1)")
    parser.add_argument("--start-s", type=float, default=0.0, help="analyse from this time (s)")
    parser.add_argument("--end-s", type=float, default=None, help="analyse up to this time (s)")
    parser.add_argument(
        "--tracker", default="iou", choices=TRACKERS, help="tracker (default: the seed's IoU)"
    )
    parser.add_argument(
        "--patient", type=int, default=None, help="track id of the patient (overrides selection)"
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the stage cache")


def _numbers(text: str | None, count: int, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise InputError(f"{option} takes {count} comma-separated numbers, got {text!r}")
    return values


def calibration(args: argparse.Namespace) -> Calibration:
    """The calibration the options ask for: a walkway or marked distance wins over the height alone."""
    if args.height_cm is not None and not (50 <= args.height_cm <= 250):
        raise InputError(f"--height-cm {args.height_cm:g} is not a plausible height (50-250 cm)")
    common = {"height_cm": args.height_cm, "hfov_deg": args.hfov_deg}
    if args.walkway_cm is not None:
        rows = _numbers(args.walkway_rows, 2, "--walkway-rows")
        return Calibration("walkway", walkway_cm=args.walkway_cm, walkway_rows_px=rows, **common)
    if args.distance_cm is not None:
        points = _numbers(args.points, 4, "--points")
        return Calibration("distance", distance_cm=args.distance_cm, points_px=points, **common)
    if args.height_cm is not None:
        return Calibration("height", **common)
    return Calibration()


def analysis_settings(args: argparse.Namespace) -> AnalysisSettings:
    if args.stride < 1:
        raise InputError("--stride must be 1 or more")
    return AnalysisSettings(
        pose=PoseSettings(imgsz=args.imgsz, stride=args.stride, start_s=args.start_s, end_s=args.end_s),
        tracking=TrackingSettings(method=args.tracker),
        patient_override=args.patient,
        gait=GaitSettings(method=args.gait_method, calibration=calibration(args)),
    )


def run_gait(args: argparse.Namespace) -> dict:
    cache = StageCache(None if args.no_cache else settings().cache_dir)
    analysis = analyse_video(args.video, analysis_settings(args), cache)
    document = analysis.to_document()
    if args.annotate:
        from core.annotate import render_annotated_video

        path = render_annotated_video(
            args.video,
            analysis.video.fps,
            analysis.video.width,
            analysis.tracks,
            analysis.selection.track_id,
            args.annotate,
        )
        document["annotated_video"] = str(path)
    return document


def add_cli(subparsers) -> None:
    gait = subparsers.add_parser("gait", help="tracks, the patient and gait parameters of a walking video")
    gait.add_argument("video", help="video file (MP4, MOV, AVI, MKV/WebM)")
    gait.add_argument("--height-cm", type=float, default=None, help="patient height, calibrates lengths")
    gait.add_argument(
        "--distance-cm", type=float, default=None, help="known distance between --points (side view)"
    )
    gait.add_argument(
        "--points", default=None, metavar="X1,Y1,X2,Y2", help="image points --distance-cm apart"
    )
    gait.add_argument("--walkway-cm", type=float, default=None, help="walkway length (toward/away view)")
    gait.add_argument(
        "--walkway-rows", default=None, metavar="Y1,Y2", help="image rows of the walkway's ends"
    )
    gait.add_argument(
        "--hfov-deg", type=float, default=DEFAULT_HFOV_DEG, help="camera field of view (degrees)"
    )
    gait.add_argument("--gait-method", default="auto", choices=METHODS, help="gait event detector")
    gait.add_argument("--json", default=None, metavar="OUT", help="write the JSON here (default: stdout)")
    gait.add_argument("--annotate", default=None, metavar="OUT.webm", help="also write the annotated video")
    add_analysis_options(gait)
    gait.set_defaults(func=run_gait)
