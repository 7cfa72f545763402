"""Common base for restoration networks: B x 3 x H x W in [0, 1] in, same size out, any H and W."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RestorationNet(nn.Module):
    """Subclasses implement :meth:`body` for inputs whose H and W are multiples of ``size_multiple``;
    :meth:`forward` pads (reflect, replicate where the image is too small to reflect) and crops back."""

    size_multiple: int = 1

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return self.body(x)[..., :h, :w]
