"""``python -m core bench SUITE``: speed, memory and accuracy, written to ``assets/bench/SUITE.json``.

Targets are checked by these benchmarks and quoted in the README, never by timed asserts in tests. Each
pipeline measurement runs in a fresh subprocess so its peak memory is its own; memory is sampled every
20 ms while the video is analysed (psutil RSS).

Suites register themselves in :data:`SUITES`; the gait and fall validation reports add theirs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.settings import ASSETS_DIR, PROJECT_ROOT, settings

BENCH_DIR = ASSETS_DIR / "bench"
SPORTS2D = PROJECT_ROOT.parent / "shared" / "data" / "walking" / "sports2d_demo.mp4"
PIPELINE_IMGSZ = (320, 480, 640)
REAL_TIME_FPS = 30.0  # the CCTV seed's bar: 33 ms per frame

SUITES: dict[str, Callable[[argparse.Namespace], dict]] = {}
# Modules whose @suite functions add benchmarks (imported when the bench command is built).
SUITE_MODULES: tuple[str, ...] = ("core.gait.bench", "core.fall.bench")


def suite(name: str):
    def register(fn):
        SUITES[name] = fn
        return fn

    return register


def machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": settings().threads,  # what the models run with (core.models.restore_threads)
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


class PeakMemory:
    """Sample this process's resident memory in the background; ``peak_mb`` after the block."""

    def __init__(self, interval_s: float = 0.02) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.baseline_mb = self.peak_mb = 0.0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self.baseline_mb = self.peak_mb = self._process.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure_pipeline_once(video: str, imgsz: int) -> dict:
    """Decode + pose + tracking + selection on ``video`` (model loaded and warmed up first, no cache)."""
    import numpy as np

    from core.pipeline import AnalysisSettings, analyse_video
    from core.pose import PoseEstimator, PoseSettings

    pose = PoseSettings(imgsz=imgsz)
    estimator = PoseEstimator(pose)
    estimator.predict([np.zeros((480, 640, 3), np.uint8)] * pose.batch, list(range(pose.batch)))  # warm-up
    with PeakMemory() as memory:
        started = time.perf_counter()
        analysis = analyse_video(video, AnalysisSettings(pose=pose))
        seconds = time.perf_counter() - started
    frames = len(analysis.poses.frames)
    return {
        "video": Path(video).name,
        "size": f"{analysis.video.width}x{analysis.video.height}",
        "imgsz": imgsz,
        "frames": frames,
        "seconds": round(seconds, 2),
        "fps": round(frames / seconds, 1),
        "stage_seconds": {k: round(v, 3) for k, v in analysis.timings.items() if k not in ("total", "fps")},
        "tracks": len(analysis.tracks),
        "patient_track": analysis.selection.track_id,
        "baseline_rss_mb": round(memory.baseline_mb),
        "peak_rss_mb": round(memory.peak_mb),
        "growth_mb": round(memory.peak_mb - memory.baseline_mb, 1),
    }


def _in_subprocess(video: Path, imgsz: int) -> dict:
    command = [sys.executable, "-m", "core", "bench", "pipeline-once", str(video), "--imgsz", str(imgsz)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark run failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


@suite("pipeline")
def bench_pipeline(args: argparse.Namespace) -> dict:
    from core.demo import make_demo_clip

    runs = []
    with tempfile.TemporaryDirectory(prefix="movescope-bench-") as tmp:
        short = make_demo_clip(Path(tmp) / "generated_10s.mp4", seconds=10, fps=30)
        long = make_demo_clip(Path(tmp) / "generated_40s.mp4", seconds=40, fps=30)
        clips = [short] + ([SPORTS2D] if SPORTS2D.is_file() else [])
        for clip in clips:
            for imgsz in PIPELINE_IMGSZ:
                runs.append(_in_subprocess(clip, imgsz))
                print(json.dumps(runs[-1]), file=sys.stderr)
        memory = [_in_subprocess(clip, PIPELINE_IMGSZ[0]) for clip in (short, long)]
    real_time = [r for r in runs if r["imgsz"] == PIPELINE_IMGSZ[0]]
    return {
        "suite": "pipeline",
        "what": "decode + YOLO11n-pose + IoU tracking + patient selection, frames per second end to end",
        "machine": machine(),
        "runs": runs,
        "memory_vs_length": [
            {
                "video": r["video"],
                "frames": r["frames"],
                "growth_mb": r["growth_mb"],
                "peak_rss_mb": r["peak_rss_mb"],
            }
            for r in memory
        ],
        "target": {
            "fps_at_320": REAL_TIME_FPS,
            "met": all(r["fps"] >= REAL_TIME_FPS for r in real_time),
        },
        "note": "" if SPORTS2D.is_file() else "../shared/data absent: real sports2d clip not measured",
    }


def run_bench(args: argparse.Namespace) -> dict | None:
    if args.suite == "pipeline-once":
        print(json.dumps(measure_pipeline_once(args.video, args.imgsz)))
        return None
    result = SUITES[args.suite](args)
    out = Path(args.out) if args.out else BENCH_DIR / f"{args.suite}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return result


def add_cli(subparsers) -> None:
    for module in SUITE_MODULES:
        importlib.import_module(module)
    bench = subparsers.add_parser("bench", help="benchmarks: speed, memory and accuracy reports")
    bench.add_argument("suite", choices=[*SUITES, "pipeline-once"], help="which benchmark")
    bench.add_argument("video", nargs="?", help=argparse.SUPPRESS)
    bench.add_argument("--imgsz", type=int, default=320, help=argparse.SUPPRESS)
    bench.add_argument("--out", default=None, help="result file (default assets/bench/SUITE.json)")
    bench.set_defaults(func=run_bench, json="-")
