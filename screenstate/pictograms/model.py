"""The pictogram network: a 32x32 RGB crop -> a unit vector in the sentence model's space.

Seven 3x3 convolutions (16-128 channels, three stride-2 steps), global average pooling and
a linear map to the sentence dimension (384 for all-MiniLM-L6-v2); about 0.34 M parameters
(1.4 MB in float32), 11 M multiply-adds per crop, so a screen's candidates run in one
small batch on a CPU.

    >>> import torch
    >>> net = PictogramNet(dim=384)
    >>> e = net(torch.rand(2, 3, 32, 32))
    >>> tuple(e.shape), bool(torch.allclose(e.norm(dim=1), torch.ones(2)))
    ((2, 384), True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PictogramNet(nn.Module):
    """Icon crop (N, 3, 32, 32) in 0..1 -> unit-norm embedding (N, dim)."""

    def __init__(self, dim: int = 384, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(3, w, 1),
            _block(w, 2 * w, 2),
            _block(2 * w, 2 * w, 1),
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, 1),
            _block(4 * w, 8 * w, 2),
            _block(8 * w, 8 * w, 1),
        )
        self.proj = nn.Linear(8 * w, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features((x - 0.5) / 0.25).mean((2, 3))
        return F.normalize(self.proj(h), dim=1)
