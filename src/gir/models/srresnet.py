"""SRResNet (Ledig et al. 2017) kept at the input resolution (as GRIDS, paper 002, uses it): 9x9 conv +
PReLU, residual blocks (conv-BN-PReLU-conv-BN), conv-BN with a long skip, 9x9 output conv; the upsampling
blocks are removed. Batch norm is optional (``bn``). :meth:`SRResNet.features` exposes the intermediate
maps that GRIDS uses as deep degradation representations.

Unlike the SR original, whose output has a different size from its input, the output here is input +
predicted correction (``global_residual: true``, the default in both presets) with the output conv starting
at zero: at the same resolution most of the input is already right, and a network that starts as the
identity trains much faster. ``global_residual: false`` gives the original image-predicting output conv.
"""
from __future__ import annotations

import torch
from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet, latter_blocks, resolve_preset
from gir.models.layers import zero_init_

PRESETS = {
    "paper": dict(channels=64, blocks=16, bn=True, global_residual=True),
    "small": dict(channels=24, blocks=2, bn=False, global_residual=True),
}


def _conv_norm(c: int, bn: bool) -> list[nn.Module]:
    # With batch norm right after, a conv bias is redundant.
    layers: list[nn.Module] = [nn.Conv2d(c, c, 3, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c))
    return layers


class _SRResBlock(nn.Module):
    def __init__(self, c: int, bn: bool):
        super().__init__()
        self.body = nn.Sequential(*_conv_norm(c, bn), nn.PReLU(c), *_conv_norm(c, bn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@MODELS.register("srresnet")
class SRResNet(RestorationNet):
    size_multiple = 1

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("srresnet", PRESETS, preset, overrides)
        c, bn = p["channels"], bool(p["bn"])
        self.global_residual = bool(p["global_residual"])
        self.head = nn.Sequential(nn.Conv2d(in_ch, c, 9, padding=4), nn.PReLU(c))
        self.blocks = nn.ModuleList(_SRResBlock(c, bn) for _ in range(p["blocks"]))
        self.trunk = nn.Sequential(*_conv_norm(c, bn))
        self.tail = nn.Conv2d(c, in_ch, 9, padding=4)
        if self.global_residual:
            zero_init_(self.tail)

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: up to 4 evenly spaced residual blocks of the body's latter half, ending with the last."""
        return latter_blocks("blocks", len(self.blocks))

    def _run(self, x: torch.Tensor, keep: list[torch.Tensor] | None) -> torch.Tensor:
        f0 = self.head(x)
        f = f0
        if keep is not None:
            keep.append(f0)
        for block in self.blocks:
            f = block(f)
            if keep is not None:
                keep.append(f)
        f = f0 + self.trunk(f)
        if keep is not None:
            keep.append(f)
        out = self.tail(f)
        return x + out if self.global_residual else out

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate feature maps for ``x`` (B x 3 x H x W, any size), each B x channels x H x W:
        [head output, output of residual block 1, ..., block N, trunk output after the long skip]."""
        keep: list[torch.Tensor] = []
        self._run(x, keep)
        return keep
