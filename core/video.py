"""Reading clinic videos safely and writing annotated videos that play in the browser.

The questions this module answers: *can this file be analysed, and if not, why not in words a clinician
understands?* (:func:`probe_video`), *what are its frames?* (:func:`iter_frames`, streamed, never the whole
file in memory), and *how do we show the result?* (:class:`AnnotatedVideoWriter`, WebM/VP8, which Chromium,
Firefox and Edge play; the mp4v codec OpenCV writes by default does not play in browsers and no H.264
encoder ships with opencv-python).

Bad files are recognised before decoding starts: an empty file, a file that is not a video at all (its first
bytes match no video container), an MP4 whose index (``moov`` box) is missing or whose boxes run past the end
(an interrupted copy or recording), a codec FFmpeg cannot decode, a video without frames, an implausible
frame rate, and a file that ends before its declared last frame.
"""

from __future__ import annotations

import math
import queue
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError
from core.types import VideoInfo

MIN_FPS = 1.0
MAX_FPS = 1000.0  # phones film slow motion at 240-960 fps; above that the header is wrong
MAX_PIXELS = 8192 * 8192
# A frame count read from a container header may be off by a few frames; the truncation check reads this
# far before the declared end.
END_SLACK_FRAMES = 2
END_SLACK_SHARE = 0.01
BROWSER_VIDEO_MIME = "video/webm"
BROWSER_VIDEO_SUFFIX = ".webm"
BROWSER_VIDEO_FOURCC = "VP80"
# Annotated videos are previews: OpenCV's VP8 encoder runs ~40 fps at 640x360 but ~19 fps at 960x540 on
# 2 cores, and ignores quality settings (about 11 Mbit/s at 960x540), so previews stay 640 wide.
MAX_ANNOTATED_WIDTH = 640

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")

if hasattr(cv2, "setLogLevel"):
    cv2.setLogLevel(0)  # OpenCV's warnings would drown the clear errors this module raises itself


def _container(head: bytes) -> str | None:
    """Name the container from a file's first bytes, or None when it is not a video container we know."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"  # QuickTime files without an ftyp box
    return None


def _mp4_problem(path: Path, size: int) -> str | None:
    """Walk the top-level MP4 boxes; say what is wrong with the file's structure, if anything."""
    boxes: dict[bytes, int] = {}
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            box_size, kind = struct.unpack(">I4s", f.read(8))
            if box_size == 1:  # 64-bit size follows
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:  # box runs to the end of the file
                box_size = size - offset
            if box_size < 8:
                return "its structure is damaged"
            if offset + box_size > size:
                section = kind.decode(errors="replace")
                return f"it is truncated: its data stops at {size:,} bytes, inside its '{section}' section"
            boxes[kind] = boxes.get(kind, 0) + box_size
            offset += box_size
    if b"moov" not in boxes:
        return (
            "it is incomplete: its index ('moov' section) is missing, "
            "as happens when a recording or a copy is interrupted"
        )
    if boxes.get(b"mdat", 0) <= 16:
        return "it contains no frames"
    return None


def _declared_codec(path: Path, container: str) -> str:
    """The codec a file says it uses, read from its header when OpenCV cannot open it."""
    head = path.open("rb").read(64 * 1024)
    if container == "avi":
        # 'strh' chunk: id, size, fccType ('vids' for video), fccHandler (the codec)
        i = head.find(b"strh")
        while i >= 0 and head[i + 8 : i + 12] != b"vids":
            i = head.find(b"strh", i + 4)
        if i >= 0:
            return head[i + 12 : i + 16].decode("ascii", errors="replace").strip("\x00 ") or "unknown"
    return "unknown"


def _fourcc(value: float) -> str:
    code = int(value)
    if code <= 0:
        return "unknown"
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "unknown"


def _open(path: Path) -> cv2.VideoCapture:
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)


def probe_video(path: str | Path) -> VideoInfo:
    """Check that ``path`` is an analysable video and describe it; raise :class:`InputError` if not."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(f"{name}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{name} is empty (0 bytes): the upload or copy did not complete")
    with path.open("rb") as f:
        head = f.read(512)
    container = _container(head)
    if container is None:
        raise InputError(
            f"{name} is not a video: its contents match no video format (MP4, MOV, AVI, MKV/WebM, MPEG). "
            "Was another kind of file renamed?"
        )
    if container == "mp4":
        problem = _mp4_problem(path, size)
        if problem:
            raise InputError(f"{name} cannot be analysed: {problem}")

    cap = _open(path)
    try:
        if not cap.isOpened():
            codec = _declared_codec(path, container)
            raise InputError(
                f"{name} cannot be decoded: its video codec ({codec}) is not supported here. "
                "Export it as H.264 MP4 or VP9 WebM and upload again."
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = round(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
        ok, first = cap.read()
        if not ok or first is None:
            if frames <= 0:
                raise InputError(f"{name} contains no frames")
            raise InputError(f"{name} cannot be decoded: no frame of its {codec} video could be read")
        height, width = first.shape[:2]
        if not math.isfinite(fps) or not (MIN_FPS <= fps <= MAX_FPS):
            raise InputError(
                f"{name} reports an implausible frame rate ({fps:g} frames per second); "
                f"expected {MIN_FPS:g}-{MAX_FPS:g}. The file's header is damaged; re-export the video."
            )
        if width * height > MAX_PIXELS:
            raise InputError(f"{name} has an implausible frame size ({width}x{height})")
        if frames <= 0:  # container without a frame count (some WebM/MKV): count by decoding
            frames = 1
            while cap.grab():
                frames += 1
        else:
            last = max(0, frames - 1 - max(END_SLACK_FRAMES, int(frames * END_SLACK_SHARE)))
            if last > 0:
                cap.set(cv2.CAP_PROP_POS_FRAMES, last)
                ok, _ = cap.read()
                if not ok:
                    raise InputError(
                        f"{name} is truncated: it declares {frames} frames but frame {last + 1} is unreadable"
                    )
    finally:
        cap.release()
    return VideoInfo(
        path=str(path), fps=fps, frames=frames, width=width, height=height, codec=codec, size_bytes=size
    )


def iter_frames(
    path: str | Path, *, stride: int = 1, start: int = 0, stop: int | None = None, prefetch: int = 8
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, BGR image)`` for every ``stride``-th frame from ``start`` up to ``stop``.

    Decoding runs in a background thread (OpenCV releases the GIL while it decodes), so the consumer's model
    inference overlaps with decoding. At most ``prefetch`` frames wait in memory, whatever the video's length.
    """
    if stride < 1:
        raise ValueError("stride must be >= 1")
    frames: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop_event = threading.Event()
    _END = object()

    def decode() -> None:
        cap = _open(Path(path))
        try:
            if start:
                cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            index = start
            while not stop_event.is_set() and (stop is None or index < stop):
                if (index - start) % stride == 0:
                    ok, image = cap.read()
                    if not ok:
                        break
                    frames.put((index, image))
                elif not cap.grab():
                    break
                index += 1
        except Exception as error:  # surfaced in the consumer's thread
            frames.put(error)
        finally:
            cap.release()
            frames.put(_END)

    worker = threading.Thread(target=decode, name="video-decoder", daemon=True)
    worker.start()
    try:
        while True:
            item = frames.get()
            if item is _END:
                break
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop_event.set()
        while worker.is_alive():  # unblock a decoder waiting on a full queue
            try:
                frames.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def read_frame(path: str | Path, frame: int) -> np.ndarray:
    """One frame by number (for thumbnails and snapshots)."""
    cap = _open(Path(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok:
        raise InputError(f"frame {frame} of {Path(path).name} cannot be read")
    return image


@dataclass(frozen=True)
class OutputSize:
    width: int
    height: int

    @classmethod
    def preview(cls, width: int, height: int, max_width: int = MAX_ANNOTATED_WIDTH) -> OutputSize:
        """Even dimensions (VP8 needs them) no wider than ``max_width``, keeping the aspect ratio."""
        scale = min(1.0, max_width / width)
        return cls(max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))

    def scale_from(self, width: int) -> float:
        return self.width / width


class AnnotatedVideoWriter:
    """Write BGR frames to a WebM (VP8) file that browsers play; frames are resized to ``size``."""

    def __init__(self, path: str | Path, fps: float, size: OutputSize) -> None:
        self.path = Path(path).with_suffix(BROWSER_VIDEO_SUFFIX)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self._writer = cv2.VideoWriter(
            str(self.path),
            cv2.VideoWriter_fourcc(*BROWSER_VIDEO_FOURCC),
            float(fps),
            (size.width, size.height),
        )
        if not self._writer.isOpened():
            raise RuntimeError("OpenCV's FFmpeg build cannot write WebM/VP8 video")
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        if image.shape[1] != self.size.width or image.shape[0] != self.size.height:
            image = cv2.resize(image, (self.size.width, self.size.height), interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> Path:
        self._writer.release()
        return self.path

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
