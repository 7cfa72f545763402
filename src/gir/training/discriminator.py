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
