"""NAFNet (Chen et al. 2022, "Simple Baselines for Image Restoration"): a U-Net of nonlinear-activation-free
blocks. Down: 2x2 stride-2 conv doubling channels; up: 1x1 conv + pixel shuffle halving them; skips are
added; output = input + correction, whose last conv starts at zero (a fresh model is the identity).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, resolve_preset
from gir.models.layers import LayerNorm2d, conv1x1, conv3x3, zero_init_

# The paper's restoration models use width 32 and enc [1, 1, 1, 28], middle 1, dec [1, 1, 1, 1].
PRESETS = {
    "paper": dict(width=32, enc_blocks=(1, 1, 1, 28), middle_blocks=1, dec_blocks=(1, 1, 1, 1), dw_expand=2,
                  ffn_expand=2),
    "small": dict(width=16, enc_blocks=(1, 1, 1, 1), middle_blocks=1, dec_blocks=(1, 1, 1, 1), dw_expand=2,
                  ffn_expand=2),
}


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    """SimpleGate: split the channels in two halves and multiply them (replaces the nonlinearity)."""
    a, b = x.chunk(2, dim=1)
    return a * b


class NAFBlock(nn.Module):
    """LN - 1x1 - 3x3 depthwise - SimpleGate - simplified channel attention - 1x1, scaled by beta and added;
    then LN - 1x1 - SimpleGate - 1x1 (FFN), scaled by gamma and added. beta, gamma start at 0 (identity)."""

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        dw = c * dw_expand
        self.norm1 = LayerNorm2d(c)
        self.conv1 = conv1x1(c, dw)
        self.dwconv = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.sca = conv1x1(dw // 2, dw // 2)
        self.conv3 = conv1x1(dw // 2, c)
        ffn = c * ffn_expand
        self.norm2 = LayerNorm2d(c)
        self.conv4 = conv1x1(c, ffn)
        self.conv5 = conv1x1(ffn // 2, c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = simple_gate(self.dwconv(self.conv1(self.norm1(x))))
        y = y * self.sca(F.adaptive_avg_pool2d(y, 1))
        x = x + self.beta * self.conv3(y)
        y = self.conv5(simple_gate(self.conv4(self.norm2(x))))
        return x + self.gamma * y


@MODELS.register("nafnet")
class NAFNet(RestorationNet):
    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("nafnet", PRESETS, preset, overrides)
        enc, dec = list(p["enc_blocks"]), list(p["dec_blocks"])
        if len(enc) != len(dec):
            raise ModelConfigError(f"nafnet: enc_blocks and dec_blocks need the same length, got {enc} / {dec}")
        blocks = lambda n, c: nn.Sequential(*[NAFBlock(c, p["dw_expand"], p["ffn_expand"]) for _ in range(n)])
        c = p["width"]
        self.size_multiple = 2 ** len(enc)
        self.intro = conv3x3(in_ch, c)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        for n in enc:
            self.encoders.append(blocks(n, c))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = blocks(p["middle_blocks"], c)
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for n in dec:
            self.ups.append(nn.Sequential(conv1x1(c, 2 * c, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(blocks(n, c))
        self.ending = zero_init_(conv3x3(c, in_ch))

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: each encoder level's output (its skip, before downsampling), then the middle."""
        return (*(f"encoders.{i}" for i in range(len(self.encoders))), "middle")

    def body(self, x: torch.Tensor) -> torch.Tensor:
        f = self.intro(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            f = enc(f)
            skips.append(f)
            f = down(f)
        f = self.middle(f)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            f = dec(up(f) + skip)
        return x + self.ending(f)
