"""Reading videos: every kind of bad file gets its own clear message; good files stream and write back."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from core.video import AnnotatedVideoWriter, OutputSize, iter_frames, probe_video


def write_clip(
    path: Path, fourcc: str = "MJPG", fps: float = 25.0, frames: int = 40, size=(160, 120)
) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(frames):
        image = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.circle(image, (4 * i % size[0], size[1] // 2), 10, (0, 0, 255), -1)
        cv2.putText(image, str(i), (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        writer.write(image)
    writer.release()
    return path


def patch_avi_rate(path: Path, rate: int, scale: int = 1) -> None:
    """Rewrite the video stream's frame rate (dwRate/dwScale of its 'strh' header)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"strh")
    assert data[i + 8 : i + 12] == b"vids"
    # strh: id, size, fccType, fccHandler, flags (4 bytes each), priority, language (2 each), initialFrames
    # (4), then scale and rate
    offset = i + 4 + 4 + 4 + 4 + 4 + 2 + 2 + 4
    data[offset : offset + 8] = struct.pack("<II", scale, rate)
    i = data.find(b"avih")  # main header: microseconds per frame
    data[i + 8 : i + 12] = struct.pack("<I", max(1, round(1e6 * scale / max(rate, 1))))
    path.write_bytes(bytes(data))


def test_probe_describes_a_good_clip(tmp_path):
    info = probe_video(write_clip(tmp_path / "walk.avi"))
    assert (info.width, info.height, info.frames, info.fps, info.codec) == (160, 120, 40, 25.0, "MJPG")
    assert info.duration_s == pytest.approx(1.6)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        probe_video(tmp_path / "empty.mp4")


def test_text_renamed_as_video(tmp_path):
    (tmp_path / "notes.mp4").write_text("Patient walked well today.\n" * 20)
    with pytest.raises(InputError, match=r"not a video.*renamed"):
        probe_video(tmp_path / "notes.mp4")


def test_truncated_mp4_without_index(tmp_path):
    full = write_clip(tmp_path / "full.mp4", "mp4v").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(full[: len(full) // 2])
    with pytest.raises(InputError, match=r"truncated|incomplete"):
        probe_video(tmp_path / "cut.mp4")


def test_truncated_avi_ends_before_its_last_frame(tmp_path):
    full = write_clip(tmp_path / "full.avi", frames=60).read_bytes()
    (tmp_path / "cut.avi").write_bytes(full[: len(full) // 2])
    with pytest.raises(InputError, match="truncated"):
        probe_video(tmp_path / "cut.avi")


def test_unreadable_codec(tmp_path):
    data = write_clip(tmp_path / "ok.avi").read_bytes()
    (tmp_path / "odd.avi").write_bytes(data.replace(b"MJPG", b"ZZZZ"))
    with pytest.raises(InputError, match=r"codec \(ZZZZ\) is not supported"):
        probe_video(tmp_path / "odd.avi")


def test_video_without_frames(tmp_path):
    with pytest.raises(InputError, match="no frames"):
        probe_video(write_clip(tmp_path / "none.avi", frames=0))
    with pytest.raises(InputError, match="no frames"):
        probe_video(write_clip(tmp_path / "none.mp4", "mp4v", frames=0))


@pytest.mark.parametrize(("rate", "scale"), [(1, 1000), (100_000, 1)])  # 0.001 and 100,000 frames/s
def test_absurd_frame_rate(tmp_path, rate, scale):
    path = write_clip(tmp_path / "rate.avi")
    patch_avi_rate(path, rate, scale)
    with pytest.raises(InputError, match="implausible frame rate"):
        probe_video(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        probe_video(tmp_path / "nowhere.mp4")


def test_iter_frames_streams_with_stride(tmp_path):
    path = write_clip(tmp_path / "walk.avi", frames=40)
    numbers = [n for n, image in iter_frames(path, stride=3)]
    assert numbers == list(range(0, 40, 3))
    first = next(iter_frames(path, start=10))
    assert first[0] == 10 and first[1].shape == (120, 160, 3)


def test_iter_frames_can_stop_early_without_hanging(tmp_path):
    path = write_clip(tmp_path / "walk.avi", frames=40)
    frames = iter_frames(path, prefetch=2)
    assert next(frames)[0] == 0
    frames.close()  # the decoder thread must end although its queue is full


def test_annotated_writer_makes_a_vp8_webm(tmp_path):
    size = OutputSize.preview(1920, 1080)
    assert size.width <= 640 and size.width % 2 == 0 and size.height % 2 == 0
    with AnnotatedVideoWriter(tmp_path / "out.mp4", 25, size) as writer:
        for _ in range(10):
            writer.write(np.zeros((1080, 1920, 3), np.uint8))
    assert writer.path.suffix == ".webm"
    assert writer.path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska/WebM
    info = probe_video(writer.path)
    assert info.codec in ("VP80", "VP8") and info.frames == 10 and info.width == size.width
