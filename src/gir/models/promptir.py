"""PromptIR (Potlapalli et al. 2023): Restormer with learned prompts injected into the decoder.

Before each of the three decoder upsamplings, a prompt generation block builds an input-conditioned prompt:
softmax weights from a linear layer on the globally average-pooled features mix ``prompt_len`` learned
prompt components (each prompt_dim x size x size), the mix is bilinearly resized to the feature size and
passed through a 3x3 conv. The prompt interaction block concatenates it with the features, runs a
transformer block on the result and a 3x3 conv maps back to the feature channels.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError
from gir.models.layers import conv3x3
from gir.models.restormer import Restormer, TransformerBlock

_BACKBONE = dict(dim=48, blocks=(4, 6, 6, 8), heads=(1, 2, 4, 8), refinement=4, ffn_expansion=2.66)
# prompt_dims / prompt_sizes are listed from level 1 (2 x dim channels) to the latent level (8 x dim).
PRESETS = {
    "paper": dict(_BACKBONE, prompt_dims=(64, 128, 320), prompt_len=5, prompt_sizes=(64, 32, 16)),
    "small": dict(dim=12, blocks=(1, 1, 1, 1), heads=(1, 2, 4, 8), refinement=0, ffn_expansion=2.66,
                  prompt_dims=(8, 16, 32), prompt_len=5, prompt_sizes=(32, 16, 8)),
}


class PromptGenBlock(nn.Module):
    """B x C x H x W features -> B x prompt_dim x H x W prompt."""

    def __init__(self, feat_dim: int, prompt_dim: int, prompt_len: int, prompt_size: int):
        super().__init__()
        self.components = nn.Parameter(torch.rand(prompt_len, prompt_dim, prompt_size, prompt_size))
        self.weights = nn.Linear(feat_dim, prompt_len)
        self.conv = conv3x3(prompt_dim, prompt_dim, bias=False)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.weights(f.mean(dim=(2, 3))), dim=1)  # B x prompt_len
        prompt = torch.einsum("bl,lchw->bchw", w, self.components)
        prompt = F.interpolate(prompt, size=f.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(prompt)


class PromptInteraction(nn.Module):
    """cat(features, prompt) -> transformer block -> 3x3 conv back to the feature channels."""

    def __init__(self, feat_dim: int, prompt_dim: int, heads: int, ffn_expansion: float):
        super().__init__()
        self.block = TransformerBlock(feat_dim + prompt_dim, heads, ffn_expansion)
        self.reduce = conv3x3(feat_dim + prompt_dim, feat_dim, bias=False)

    def forward(self, f: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.block(torch.cat([f, prompt], dim=1)))


@MODELS.register("promptir")
class PromptIR(Restormer):
    arch = "promptir"
    PRESETS = PRESETS

    def _build(self, p: dict[str, Any], in_ch: int) -> None:
        super()._build(p, in_ch)
        dims, sizes = list(p["prompt_dims"]), list(p["prompt_sizes"])
        if len(dims) != self.levels - 1 or len(sizes) != self.levels - 1:
            raise ModelConfigError(f"promptir: prompt_dims and prompt_sizes need {self.levels - 1} entries")
        feat = [p["dim"] * 2**level for level in range(1, self.levels)]
        self.prompt_gen = nn.ModuleList(
            PromptGenBlock(c, d, p["prompt_len"], s) for c, d, s in zip(feat, dims, sizes))
        self.prompt_mix = nn.ModuleList(
            PromptInteraction(c, d, h, p["ffn_expansion"]) for c, d, h in zip(feat, dims, list(p["heads"])[1:]))

    def decoder_hook(self, level: int, f: torch.Tensor) -> torch.Tensor:
        return self.prompt_mix[level - 1](f, self.prompt_gen[level - 1](f))
