"""A small patch discriminator for the optional GAN term.

A stack of stride-2 4x4 convolutions with leaky ReLUs that maps a B x 3 x H x W image to a B x 1 x h x w map
of logits, one per overlapping receptive field (a "patch"), so it judges local texture rather than the
whole image. Spectral normalisation (on by default) keeps its Lipschitz constant bounded, which stabilises
training without batch statistics.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn


class PatchDiscriminator(nn.Module):
    """``layers`` downsampling stages starting at ``channels`` features (doubling, capped at 8x), then a
    stride-1 stage and a 1-channel head. Receptive field: 70 px for layers=3."""

    def __init__(self, in_ch: int = 3, channels: int = 64, layers: int = 3, spectral_norm: bool = True):
        super().__init__()
        norm = _sn if spectral_norm else (lambda m: m)
        mods: list[nn.Module] = [nn.Conv2d(in_ch, channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = channels
        for i in range(1, layers):
            c_next = channels * min(2 ** i, 8)
            mods += [norm(nn.Conv2d(c, c_next, 4, 2, 1, bias=False)), nn.LeakyReLU(0.2, True)]
            c = c_next
        c_next = channels * min(2 ** layers, 8)
        mods += [norm(nn.Conv2d(c, c_next, 4, 1, 1, bias=False)), nn.LeakyReLU(0.2, True),
                 nn.Conv2d(c_next, 1, 4, 1, 1)]
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UNetDiscriminator(nn.Module):
    """A U-Net discriminator with spectral normalisation, Real-ESRGAN's kind: three stride-2 stages down
    (``channels`` doubling), three up by bilinear x2 with skip additions, two more convolutions and a
    1-channel head: one logit per pixel, so it judges both local texture and the larger structure around it.
    Input sides must be multiples of 8."""

    def __init__(self, in_ch: int = 3, channels: int = 32, spectral_norm: bool = True):
        super().__init__()
        norm = _sn if spectral_norm else (lambda m: m)
        c = channels
        self.head = nn.Conv2d(in_ch, c, 3, 1, 1)
        self.down = nn.ModuleList([norm(nn.Conv2d(c * m, c * 2 * m, 4, 2, 1, bias=False)) for m in (1, 2, 4)])
        self.up = nn.ModuleList([norm(nn.Conv2d(c * m, c * m // 2, 3, 1, 1, bias=False)) for m in (8, 4, 2)])
        self.tail = nn.Sequential(norm(nn.Conv2d(c, c, 3, 1, 1, bias=False)), nn.LeakyReLU(0.2, True),
                                  norm(nn.Conv2d(c, c, 3, 1, 1, bias=False)), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(c, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = nn.functional.leaky_relu
        skips = [act(self.head(x), 0.2)]
        for conv in self.down:
            skips.append(act(conv(skips[-1]), 0.2))
        y = skips.pop()
        for conv in self.up:
            y = nn.functional.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = act(conv(y), 0.2) + skips.pop()
        return self.tail(y)
