"""Efficient super-resolution at the low resolution, upsampled at the end by pixel shuffle.

``rlfn``: a residual local feature network (RLFN, Kong et al., NTIRE 2022 efficient-SR winner) made
multi-scale. A 3x3 head lifts the LR image to C channels; each block is three 3x3 conv + LeakyReLU(0.05) with
a skip around them, a 1x1 fuse and an enhanced spatial attention (ESA: a strided, pooled, cheap view of the
block gates its output per pixel); a 3x3 conv closes the body with a long skip. One tail per scale
(3x3 conv to 3 s^2 channels, pixel shuffle by s) shares that body, so one training serves x2, x3 and x4 (as
MDSR does). The output adds the bicubic enlargement of the input to the tail, whose last conv starts at zero:
a fresh network is bicubic interpolation and training learns only the missing detail.

The network sees B x 3 x h x w at the low resolution and returns B x 3 x (s h) x (s w) for the scale chosen
by :meth:`UpscaleNet.forward` (default :attr:`scale`, settable). Only local layers apart from ESA's pooled
view (a 7x7 max pool at 1/4 resolution after a stride-2 conv: a receptive field of a few dozen LR pixels),
so tiles with an overlap of 16 LR pixels or more blend seamlessly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, latter_blocks, resolve_preset
from gir.models.layers import conv1x1, conv3x3, zero_init_

PRESETS = {
    # RLFN-S of the paper: 48 channels, 6 blocks, ESA with 16 channels.
    "paper": dict(channels=48, blocks=6, esa_channels=16, scales=(2, 3, 4)),
    "small": dict(channels=32, blocks=4, esa_channels=16, scales=(2, 3, 4)),
}


class ESA(nn.Module):
    """Enhanced spatial attention: 1x1 reduce -> stride-2 3x3 -> 7x7/3 max pool (smaller on tiny inputs) -> 3x3 -> bilinear back up,
    added to a 1x1 of the reduced map -> 1x1 expand -> sigmoid gate on the input."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.reduce = conv1x1(channels, reduced)
        self.down = nn.Conv2d(reduced, reduced, 3, stride=2, padding=1)
        self.mid = conv3x3(reduced, reduced)
        self.skip = conv1x1(reduced, reduced)
        self.expand = conv1x1(reduced, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.reduce(x)
        v = self.down(r)
        k = min(7, *v.shape[-2:])  # tiny inputs (a few LR pixels) pool over what there is
        v = F.max_pool2d(v, kernel_size=k, stride=min(3, k))
        v = F.interpolate(self.mid(v), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.expand(v + self.skip(r)))


class RLFB(nn.Module):
    """Residual local feature block: (3x3 conv, LeakyReLU) x 3 with a skip, then 1x1 fuse and ESA."""

    def __init__(self, channels: int, esa_channels: int):
        super().__init__()
        self.convs = nn.ModuleList(conv3x3(channels, channels) for _ in range(3))
        self.fuse = conv1x1(channels, channels)
        self.esa = ESA(channels, esa_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in self.convs:
            y = F.leaky_relu(conv(y), 0.05)
        return self.esa(self.fuse(y + x))


@MODELS.register("rlfn")
class UpscaleNet(RestorationNet):
    """See the module docstring. ``scales``: the tails built; :attr:`scale` the one a plain call uses."""

    size_multiple = 1

    def __init__(self, preset: str = "small", **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("rlfn", PRESETS, preset, overrides)
        c = int(p["channels"])
        self.scales = tuple(sorted(int(s) for s in p["scales"]))
        if not self.scales or any(s < 2 for s in self.scales):
            raise ModelConfigError(f"rlfn: scales must be integers >= 2, got {p['scales']}")
        self.hparams["scales"] = list(self.scales)
        self.scale = self.scales[0]
        self.head = conv3x3(3, c)
        self.blocks = nn.ModuleList(RLFB(c, int(p["esa_channels"])) for _ in range(int(p["blocks"])))
        self.trunk = conv3x3(c, c)
        self.tails = nn.ModuleDict({str(s): zero_init_(conv3x3(c, 3 * s * s)) for s in self.scales})

    @property
    def feature_levels(self) -> tuple[str, ...]:
        return latter_blocks("blocks", len(self.blocks))

    def descriptor(self):
        from dataclasses import replace

        return replace(super().descriptor(), scale=self.scale, scales=self.scales)

    def check_scale(self, scale: int | None) -> int:
        s = self.scale if scale is None else int(scale)
        if s not in self.scales:
            raise ModelConfigError(f"rlfn: this network upscales x{', x'.join(map(str, self.scales))}; "
                                   f"x{scale} was asked for")
        return s

    def forward(self, x: torch.Tensor, context=None, cond=None, scale: int | None = None) -> torch.Tensor:
        s = self.check_scale(scale)
        f0 = self.head(x)
        f = f0
        for block in self.blocks:
            f = block(f)
        f = f0 + self.trunk(f)
        detail = F.pixel_shuffle(self.tails[str(s)](f), s)
        base = F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)
        return base + detail.to(base.dtype)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)
