"""Building blocks shared by several architectures (all tensors B x C x H x W unless stated)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channel axis of B x C x H x W: every pixel's C-vector is normalised on
    its own (mean 0, variance 1) and then scaled / shifted per channel. Works on NCHW directly (no permute)."""

    def __init__(self, channels: int, eps: float = 1e-6, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.eps)
        y = y * self.weight.view(1, -1, 1, 1)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


def zero_init_(module: nn.Module) -> nn.Module:
    """Set every parameter of ``module`` to zero in place and return it.

    Used on the last layer of a restorer's correction branch: with output = input + correction, a fresh
    network is then exactly the identity and training only has to learn the correction, which converges far
    faster than starting from a random mapping. The gradient of that layer is not zero (it is the product of
    the features it sees and the loss gradient), so the layers before it start learning from the second step.
    """
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def conv3x3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


def conv1x1(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, bias=bias)


class ResBlock(nn.Module):
    """EDSR residual block: conv3x3 - ReLU - conv3x3, added back scaled by ``res_scale`` (no batch norm)."""

    def __init__(self, channels: int, res_scale: float = 1.0):
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


def haar_dwt(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D Haar transform: B x C x H x W (H, W even) -> B x 4C x H/2 x W/2.

    Output channels are four blocks of C: [LL, HL, LH, HH] (approximation, horizontal-, vertical- and
    diagonal-detail). Exactly inverted by :func:`haar_iwt`.
    """
    b, c, h, w = x.shape
    # pixel_unshuffle gives, per channel, the 2x2 polyphase components a=(0,0), b=(0,1), c=(1,0), d=(1,1).
    p = F.pixel_unshuffle(x, 2).view(b, c, 4, h // 2, w // 2)
    a, bb, cc, d = p.unbind(2)
    ll = (a + bb + cc + d) * 0.5
    hl = (-a + bb - cc + d) * 0.5
    lh = (-a - bb + cc + d) * 0.5
    hh = (a - bb - cc + d) * 0.5
    return torch.cat([ll, hl, lh, hh], dim=1)


def haar_iwt(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`haar_dwt`: B x 4C x h x w -> B x C x 2h x 2w."""
    b, c4, h, w = y.shape
    ll, hl, lh, hh = y.chunk(4, dim=1)
    a = (ll - hl - lh + hh) * 0.5
    bb = (ll + hl - lh - hh) * 0.5
    cc = (ll - hl + lh - hh) * 0.5
    d = (ll + hl + lh + hh) * 0.5
    return F.pixel_shuffle(torch.stack([a, bb, cc, d], dim=2).reshape(b, c4, h, w), 2)
