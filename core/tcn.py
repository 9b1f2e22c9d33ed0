"""The temporal convolution network behind MoveScope's own learned detectors, and loading its weights.

Both :mod:`core.gait.learned` (foot contact) and :mod:`core.fall.learned` (falls on video) read a track's
per-frame features with a stack of dilated residual 1-D convolutions: non-causal, so each frame's answer
uses the seconds before and after it; small (0.1-0.2 M weights), so a whole clip takes milliseconds on a
CPU. A checkpoint is a dict with ``state_dict``, ``architecture`` (keyword arguments of the builder),
``feature_version`` (the features the weights were trained on) and ``record`` (how they were trained).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np


def build_tcn(
    n_in: int,
    n_out: int,
    channels: int = 64,
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2),
    kernel: int = 5,
    dropout: float = 0.1,
):
    """Input (batch, n_in, n) -> output (batch, n_out, n) logits; receptive field
    ``1 + (kernel - 1) * sum(dilations)`` frames, centred."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, dilation: int):
            super().__init__()
            pad = dilation * (kernel - 1) // 2
            self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
            self.conv2 = nn.Conv1d(channels, channels, 1)
            self.norm = nn.GroupNorm(8, channels)
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            y = torch.nn.functional.gelu(self.norm(self.conv1(x)))
            return x + self.conv2(self.drop(y))

    class TemporalConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv1d(n_in, channels, 1)
            self.blocks = nn.Sequential(*[Block(d) for d in dilations])
            self.out = nn.Conv1d(channels, n_out, 1)

        def forward(self, x):
            return self.out(self.blocks(self.inp(x)))

    return TemporalConvNet()


@cache
def load_checkpoint(path: Path, feature_version: int, train_command: str, build: Callable):
    """(network in eval mode, training record) of the checkpoint at ``path``; read once per process.

    Refuses weights trained on other features than ``feature_version`` (``train_command`` retrains them).
    """
    import torch

    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    if checkpoint.get("feature_version") != feature_version:
        raise RuntimeError(
            f"{Path(path).name} was trained on feature version {checkpoint.get('feature_version')}, "
            f"this code computes version {feature_version}: retrain with `{train_command}`"
        )
    net = build(**checkpoint["architecture"])
    net.load_state_dict(checkpoint["state_dict"])
    net.eval()
    return net, checkpoint.get("record", {})


@dataclass(frozen=True)
class Weights:
    """One of MoveScope's own networks: its shipped weights file and how to load it. Every method takes an
    optional ``path`` to other weights (default: the shipped file)."""

    name: str  # in the analysis record, e.g. "fall-video"
    shipped: Path
    feature_version: int
    train_command: str
    build: Callable  # the network's builder; the checkpoint's ``architecture`` are its keyword arguments

    def path(self, path: Path | None = None) -> Path:
        return Path(path) if path is not None else self.shipped

    def available(self, path: Path | None = None) -> bool:
        return self.path(path).is_file()

    def load(self, path: Path | None = None):
        """(network in eval mode, its training record); see :func:`load_checkpoint`."""
        path = self.path(path).resolve()
        return load_checkpoint(path, self.feature_version, self.train_command, self.build)

    def version(self, path: Path | None = None) -> str:
        """``name@digest`` of the weights file, for the analysis record."""
        from core.models import file_digest

        return f"{self.name}@{file_digest(self.path(path))}"


def sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-logits))


def _resample(values: np.ndarray, t_from: np.ndarray, t_to: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(t_to, t_from, row) for row in values])


def probabilities_on_grid(net, x: np.ndarray, time_s: np.ndarray, rate_hz: float, net_rate_hz: float):
    """``net``'s output probabilities (outputs, n) for features ``x`` (channels, n) sampled at ``time_s``.

    A clip at another rate than the network was trained at (``net_rate_hz``, off by more than 0.5 Hz) is
    resampled to it, and the answer back to ``time_s``.
    """
    import torch

    resample = abs(rate_hz - net_rate_hz) > 0.5 and len(time_s) > 1
    if resample:
        t_net = np.arange(time_s[0], time_s[-1] + 1e-9, 1.0 / net_rate_hz)
        x = _resample(x, time_s, t_net).astype(np.float32)
    with torch.inference_mode():
        p = sigmoid(net(torch.from_numpy(x)[None])[0].numpy())
    return _resample(p, t_net, time_s) if resample else p
