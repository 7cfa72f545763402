"""DCPT's light degradation classifier on multi-level encoder features (paper 004, sec. 3.2 and fig. 2a): the
head of the analyzer (:mod:`gir.analysis.network`) and of DCPT pre-training (:mod:`gir.dcpt`)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gir.models.base import ModelConfigError
from gir.models.layers import LayerNorm2d


class DecoderConfigError(ModelConfigError):
    """The classifier was built with, or given, features of the wrong number or channel counts."""


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    # Followed by a LayerNorm with its own shift, so no bias.
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """ResNet-18's basic block with LayerNorm over channels instead of BatchNorm:
    relu(LN(conv3x3(relu(LN(conv3x3_stride(x))))) + shortcut(x)), the shortcut being identity, or a strided
    1x1 conv + LN when the block downsamples."""

    def __init__(self, c: int, stride: int = 1):
        super().__init__()
        self.conv1, self.norm1 = _conv3x3(c, c, stride), LayerNorm2d(c)
        self.conv2, self.norm2 = _conv3x3(c, c), LayerNorm2d(c)
        self.shortcut = (nn.Sequential(nn.Conv2d(c, c, 1, stride=stride, bias=False), LayerNorm2d(c))
                         if stride != 1 else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def _check_sizes(channels: Sequence[int], num_outputs: int, width: int, blocks_per_level: int) -> list[int]:
    chans = [int(c) for c in channels]
    if not chans or any(c < 1 for c in chans):
        raise DecoderConfigError(f"degradation classifier: channels must be a non-empty list of positive "
                                 f"counts, got {list(channels)}")
    for name, value in (("num_outputs", num_outputs), ("width", width), ("blocks_per_level", blocks_per_level)):
        if int(value) < 1:
            raise DecoderConfigError(f"degradation classifier: {name} must be >= 1, got {value}")
    return chans


class DegradationClassifier(nn.Module):
    """Classifies the degradation of an image from its encoder's multi-level features alone (not the image).

    ``forward(features)``: L tensors B x C_i x H_i x W_i, shallow to deep as :func:`gir.models.features.
    extract_features` gives them (``channels`` = [C_0, ..., C_{L-1}]) -> B x ``num_outputs`` logits.
    :meth:`embedding` gives the B x ``width`` pooled vector before the linear head.

    How paper 004's description (sec. 3.2, fig. 2a: learnable scaling of each feature, "plugged into the
    i-th last block" of a ResNet-18 whose BatchNorms are LayerNorms) is mapped here:

    * one learnable scalar scale s_i per level, initialised to 1;
    * level i is projected to the common ``width`` by a 1x1 conv P_i (with bias), giving s_i * P_i(f_i);
    * the path is a chain of L groups of ``blocks_per_level`` ResNet-18 basic blocks (two 3x3 convs, each
      followed by LayerNorm over channels, ReLU, identity shortcut), all at ``width`` channels (ResNet-18
      doubles them per stage; a constant width keeps the decoder light). Level i enters group i: the deepest
      level the last group, the second deepest the one before it, ..., as the paper plugs the i-th feature
      from the deep end into the i-th last block. The scaled projection is resized to the path's current
      resolution by adaptive average pooling (pooling and the 1x1 projection commute, so the feature is
      pooled first) and added to the path at the group's input; level 0 starts the path (added to zeros)
      at its own resolution;
    * as ResNet-18 halves the resolution between stages, every group but the last ends with a stride-2
      block (strided 3x3 conv, shortcut 1x1 stride-2 conv + LN), so group i runs at 1 / 2**i of level 0's
      resolution: a U-Net's levels (each half the size of the one before) are added at their own size, a
      straight network's (all full size) are average-pooled down;
    * global average pooling, then one linear layer to ``num_outputs`` logits (the paper's classifier head);
      no softmax (see :mod:`gir.dcpt.losses`).

    ResNet-18's 7x7 stride-2 stem and max pooling have no counterpart: the first group reads features, not
    pixels. Size at width 64, one block per level: ~74 k parameters per group plus the projections.
    """

    def __init__(self, channels: Sequence[int], num_outputs: int, width: int = 64, blocks_per_level: int = 1):
        super().__init__()
        self.channels = _check_sizes(channels, num_outputs, width, blocks_per_level)
        self.num_outputs, self.width = int(num_outputs), int(width)
        levels = len(self.channels)
        self.scales = nn.Parameter(torch.ones(levels))
        self.projections = nn.ModuleList(nn.Conv2d(c, self.width, 1) for c in self.channels)
        self.groups = nn.ModuleList(self._group(blocks_per_level, downsample=i < levels - 1)
                                    for i in range(levels))
        self.head = nn.Linear(self.width, self.num_outputs)
        self._init_weights()

    def _group(self, n: int, downsample: bool) -> nn.Sequential:
        strides = [1] * (n - 1) + [2 if downsample else 1]
        return nn.Sequential(*[BasicBlock(self.width, s) for s in strides])

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _check_features(self, features: Sequence[torch.Tensor]) -> None:
        if len(features) != len(self.channels):
            raise DecoderConfigError(f"degradation classifier: expected {len(self.channels)} feature levels, "
                                     f"got {len(features)}")
        got = [tuple(f.shape) for f in features]
        if any(len(s) != 4 or s[1] != c for s, c in zip(got, self.channels)) or len({s[0] for s in got}) != 1:
            raise DecoderConfigError(f"degradation classifier: expected B x C x H x W features with channels "
                                     f"{self.channels} and one batch size, got shapes {got}")

    def _injection(self, i: int, f: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """s_i * P_i(f_i) at the path's resolution ``size``."""
        if tuple(f.shape[-2:]) != tuple(size):
            f = F.adaptive_avg_pool2d(f, size)
        return self.scales[i] * self.projections[i](f)

    def embedding(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """B x ``width``: the globally average-pooled path output, before the linear head."""
        self._check_features(features)
        h = self._injection(0, features[0], tuple(features[0].shape[-2:]))
        h = self.groups[0](h)
        for i in range(1, len(features)):
            h = h + self._injection(i, features[i], tuple(h.shape[-2:]))
            h = self.groups[i](h)
        return h.mean(dim=(2, 3))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """B x ``num_outputs`` logits."""
        return self.head(self.embedding(features))
