"""Deep residual network, GIR's excellence line (paper 000, ref. [43]), built like EDSR (Lim et al. 2017)
without its upsampler: conv head, residual blocks without batch norm, conv, long skip, conv tail.

The output is input + predicted correction (global residual), as usual for same-resolution restoration; the
tail conv then starts at zero, so a fresh model is the identity. ``global_residual: false`` makes the tail
predict the image itself (normal init).
"""
from __future__ import annotations

import torch
from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet, latter_blocks, resolve_preset
from gir.models.layers import ResBlock, conv3x3, zero_init_

# channels / blocks: EDSR-baseline size for "paper" (the full EDSR is 32 blocks x 256 ch, res_scale 0.1).
PRESETS = {
    "paper": dict(channels=64, blocks=16, res_scale=1.0, global_residual=True),
    "small": dict(channels=32, blocks=2, res_scale=1.0, global_residual=True),
}


@MODELS.register("resnet")
class ResNet(RestorationNet):
    size_multiple = 1

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("resnet", PRESETS, preset, overrides)
        c = p["channels"]
        self.global_residual = bool(p["global_residual"])
        self.head = conv3x3(in_ch, c)
        self.blocks = nn.Sequential(*[ResBlock(c, p["res_scale"]) for _ in range(p["blocks"])])
        self.body_conv = conv3x3(c, c)
        self.tail = conv3x3(c, in_ch)
        if self.global_residual:
            zero_init_(self.tail)

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: up to 4 evenly spaced residual blocks of the body's latter half, ending with the last."""
        return latter_blocks("blocks", len(self.blocks))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        f = f + self.body_conv(self.blocks(f))
        out = self.tail(f)
        return x + out if self.global_residual else out
