"""The analyzer network: a restoration encoder with DCPT's light classifier decoder on its multi-level
features (paper 004), predicting family logits, a ``clean`` logit and normalised strengths.

The encoder is any registered restoration architecture (``backbone``, built by :func:`gir.models.build_model`);
its declared encoder levels (:func:`gir.models.features.encoder_levels`) feed
:class:`gir.models.classifier.DegradationClassifier`, and the forward pass stops after the deepest level, so
the restoration decoder of a U-Net costs nothing. Outputs are laid out as
:data:`gir.analysis.families.NUM_OUTPUTS` numbers per image (:func:`split_outputs`).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from gir.analysis.families import FAMILIES, NUM_OUTPUTS, STRENGTHS
from gir.models import build_model
from gir.models.classifier import DegradationClassifier
from gir.models.features import encoder_levels, extract_features, feature_channels
from gir.registry import Registry

ANALYZERS: Registry = Registry("analyzer architecture")

# Local convolutions only (measured on 2 cores: 0.36 s per training step of 24 patches, 0.06 s for 12 windows
# at inference, against 1.4 s / 0.31 s for a NAFNet-small encoder, whose LayerNorms run slowly on CPUs).
DEFAULT_BACKBONE = {"type": "wavelet_unet", "preset": "small", "attention": False, "refine": False}


def split_outputs(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """B x NUM_OUTPUTS -> (family logits B x F, clean logit B, normalised strengths B x S)."""
    f = len(FAMILIES)
    return out[:, :f], out[:, f], out[:, f + 1:f + 1 + len(STRENGTHS)]


@ANALYZERS.register("analyzer")
class DegradationAnalyzer(nn.Module):
    """B x 3 x H x W in [0, 1] (H, W: any; trained on ``crop``-px patches) -> B x NUM_OUTPUTS.

    ``backbone``: the encoder's architecture config (its restoration decoder is built but never run); ``levels``: encoder levels to read (default: all declared); ``width`` and
    ``blocks_per_level``: the classifier decoder's size; ``crop``: the patch side the analyzer was trained
    on and reads at inference (recorded here so the checkpoint says it)."""

    def __init__(self, backbone: dict[str, Any] | None = None, levels: Sequence[str] | None = None, width: int = 64,
                 blocks_per_level: int = 1, crop: int = 128):
        super().__init__()
        self.backbone_cfg = dict(backbone or DEFAULT_BACKBONE)
        self.encoder = build_model(self.backbone_cfg)
        self.levels = tuple(levels or encoder_levels(self.encoder))
        self.crop = int(crop)
        channels = feature_channels(self.encoder, self.levels)
        self.head = DegradationClassifier(channels, NUM_OUTPUTS, width=width, blocks_per_level=blocks_per_level)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return extract_features(self.encoder, x, self.levels, stop_after_last=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_analyzer(cfg: dict[str, Any] | str, where: str | None = None) -> nn.Module:
    """An analyzer from ``{"type": "analyzer", ...}`` (or just its name); ``where`` as for
    :func:`gir.models.build_model`."""
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    return ANALYZERS.build(cfg, where=where)
