"""``python -m core fall [--video V] [--sensor CSV] --json OUT``: the fall decision as JSON, for scripts.

Contract (see DESIGN.md; add fields, never rename): ``fall`` (bool), ``probability`` (0-1), ``events[]``
with ``start_s``, ``end_s``, ``kind`` and ``alarm``, and ``modalities.<video|sensor>.probability``. Exit
status 0 on success, 2 with a one-line reason on bad input. ``--notify`` also stores the alarms in the
database and delivers them through the channels of ``.streamlit/secrets.toml`` (``[alarms]``).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from core.alarms import AlarmConfig
from core.cache import StageCache
from core.commands import imgsz_option
from core.errors import InputError
from core.fall.analysis import REALTIME_IMGSZ, FallSettings, SensorReading, analyse_fall, save_snapshots
from core.fall.video import FALL_METHODS, VideoFallConfig
from core.pose import IMGSZ_CHOICES, PoseSettings
from core.sensors import add_reading_options, reading_options
from core.settings import PROJECT_ROOT, settings
from core.tracking import TRACKERS, TrackingSettings

DEFAULT_SECRETS = PROJECT_ROOT / ".streamlit" / "secrets.toml"


def fall_settings(args: argparse.Namespace) -> FallSettings:
    if args.stride < 1:
        raise InputError("--stride must be 1 or more")
    return FallSettings(
        pose=PoseSettings(imgsz=args.imgsz, stride=args.stride),
        tracking=TrackingSettings(method=args.tracker),
        video=VideoFallConfig(method=args.fall_method),
        reading=SensorReading.from_options(reading_options(args)),
        sensor_segment=args.segment,
        second_opinion=not args.no_second_opinion,
        lying_alarm_s=args.lying_alarm_s,
    )


def alarm_config(path: str | Path) -> AlarmConfig:
    """The ``[alarms]`` table of a Streamlit secrets file (no file: no channels, alarms are only stored)."""
    path = Path(path)
    if not path.is_file():
        return AlarmConfig()
    try:
        secrets = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path.name} is not valid TOML: {error}") from None
    return AlarmConfig.from_mapping(secrets.get("alarms", {}))


def run_fall(args: argparse.Namespace) -> dict:
    if args.video is None and args.sensor is None:
        raise InputError("give --video, --sensor or both")
    for option, path in (("--video", args.video), ("--sensor", args.sensor)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{option} {path}: file not found")
    cache = StageCache(None if args.no_cache else settings().cache_dir)
    result = analyse_fall(args.video, args.sensor, fall_settings(args), cache)
    document = result.to_document()
    if args.annotate and result.tracked is not None:
        from core.fall.analysis import annotated_fall_video

        document["annotated_video"] = str(annotated_fall_video(result))
    if args.notify:
        from core.storage import open_database
        from core.storage.alarms import raise_alarm

        config = alarm_config(args.secrets)
        snapshots = save_snapshots(result)
        source = args.camera or result.input_name(
            args.video and Path(args.video).name, args.sensor and Path(args.sensor).name
        )
        stored = [
            raise_alarm(open_database(), alarm, config, source=source, input_sha256=result.input_sha256)
            for alarm in result.alarms(args.patient or "", args.camera, snapshots)
        ]
        document["raised_alarms"] = [
            {"id": a.uid, "recording_time_s": a.recording_time_s, "delivery": a.delivery} for a in stored
        ]
    return document


def add_cli(subparsers) -> None:
    fall = subparsers.add_parser("fall", help="fall decision, probabilities, events and alarms")
    fall.add_argument("--video", default=None, help="video file (MP4, MOV, AVI, MKV/WebM)")
    fall.add_argument(
        "--sensor", default=None, help="sensor file: generic IMU CSV, AIHub, SisFall, UMAFall, MVNX"
    )
    fall.add_argument("--json", default=None, metavar="OUT", help="write the JSON here (default: stdout)")
    fall.add_argument(
        "--imgsz",
        type=imgsz_option,
        default=None,
        metavar="{auto," + ",".join(map(str, IMGSZ_CHOICES)) + "}",
        help=f"pose image size (default auto: sized to the people in the video, the most falls found in the "
        f"benchmark; {REALTIME_IMGSZ} runs in real time on 2 cores, see the README)",
    )
    fall.add_argument(
        "--fall-method",
        default="auto",
        choices=FALL_METHODS,
        help="video fall detector (default auto: the learned one, the rules without its weights)",
    )
    fall.add_argument("--stride", type=int, default=1, help="analyse every n-th frame (default 1)")
    fall.add_argument("--tracker", default="iou", choices=TRACKERS, help="tracker (default: IoU)")
    fall.add_argument(
        "--lying-alarm-s",
        type=float,
        default=FallSettings.lying_alarm_s,
        help="lying after a fall before the alarm",
    )
    fall.add_argument(
        "--segment", default=None, help="body segment to judge in a multi-sensor file (default pelvis)"
    )
    fall.add_argument(
        "--no-second-opinion", action="store_true", help="do not run the fallen-person detector (faster)"
    )
    fall.add_argument("--annotate", action="store_true", help="also render the annotated video")
    fall.add_argument("--notify", action="store_true", help="store the alarms and deliver them")
    fall.add_argument("--patient", default=None, help="patient code named in alarms")
    fall.add_argument("--camera", default=None, help="camera or room named in alarms")
    fall.add_argument("--secrets", default=str(DEFAULT_SECRETS), help="secrets file with the [alarms] table")
    fall.add_argument("--no-cache", action="store_true", help="do not read or write the stage cache")
    add_reading_options(fall)
    fall.set_defaults(func=run_fall)
