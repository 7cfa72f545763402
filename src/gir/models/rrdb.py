"""RRDBNet of ESRGAN (Wang et al. 2018) at the input resolution: conv, residual-in-residual dense blocks
(three 5-layer dense blocks each, LeakyReLU 0.2, residual scaling 0.2), trunk conv with a long skip, then
conv + LeakyReLU and an output conv where the SR model has its upsampler.

Unlike the SR original, the output here is input + predicted correction (``global_residual: true``, the
default in both presets) with the output conv starting at zero: at the same resolution most of the input
is already right, and a network that starts as the identity trains much faster. ``global_residual: false``
gives the original image-predicting output conv.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet, latter_blocks, resolve_preset
from gir.models.layers import conv3x3, zero_init_

# channels (nf), blocks (nb), growth (gc): 64 / 23 / 32 in ESRGAN.
PRESETS = {
    "paper": dict(channels=64, blocks=23, growth=32, global_residual=True),
    "small": dict(channels=16, blocks=1, growth=8, global_residual=True),
}
_RES_SCALE = 0.2


class DenseBlock(nn.Module):
    """Five convs; conv k sees the block input concatenated with the outputs of convs 1..k-1."""

    def __init__(self, c: int, g: int):
        super().__init__()
        self.convs = nn.ModuleList(conv3x3(c + i * g, g) for i in range(4))
        self.last = conv3x3(c + 4 * g, c)
        for conv in [*self.convs, self.last]:
            # ESRGAN scales the initial weights down so the deep residual stack starts close to identity.
            nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return x + _RES_SCALE * self.last(torch.cat(feats, 1))


class RRDB(nn.Module):
    def __init__(self, c: int, g: int):
        super().__init__()
        self.dense = nn.Sequential(DenseBlock(c, g), DenseBlock(c, g), DenseBlock(c, g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + _RES_SCALE * self.dense(x)


@MODELS.register("rrdb")
class RRDBNet(RestorationNet):
    size_multiple = 1

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("rrdb", PRESETS, preset, overrides)
        c, g = p["channels"], p["growth"]
        self.global_residual = bool(p["global_residual"])
        self.head = conv3x3(in_ch, c)
        self.trunk = nn.Sequential(*[RRDB(c, g) for _ in range(p["blocks"])])
        self.trunk_conv = conv3x3(c, c)
        self.hr_conv = conv3x3(c, c)
        self.out_conv = conv3x3(c, in_ch)
        if self.global_residual:
            zero_init_(self.out_conv)

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: up to 4 evenly spaced RRDBs of the body's latter half, ending with the last."""
        return latter_blocks("trunk", len(self.trunk))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        f = f + self.trunk_conv(self.trunk(f))
        out = self.out_conv(F.leaky_relu(self.hr_conv(f), 0.2))
        return x + out if self.global_residual else out
