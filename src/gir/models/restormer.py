"""Restormer (Zamir et al. 2022): a 4-level U-Net of transformer blocks whose attention is across channels.

MDTA (multi-Dconv head transposed attention): 1x1 + 3x3 depthwise convs make Q, K, V; attention is a
(C/heads x C/heads) map per head from L2-normalised Q, K over all pixels, scaled by a learned temperature,
so its cost is linear in the number of pixels. GDFN (gated-Dconv feed-forward): 1x1 expand, 3x3 depthwise,
GELU(one half) * other half, 1x1 back. Down: conv halving channels + pixel-unshuffle; up: conv doubling
channels + pixel-shuffle; skips are concatenated (and reduced by 1x1 except at the top level, which runs
at 2 x dim); refinement blocks; output = input + correction, whose last conv starts at zero (a fresh model
is the identity).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, resolve_preset
from gir.models.layers import LayerNorm2d, conv1x1, conv3x3, zero_init_

PRESETS = {
    "paper": dict(dim=48, blocks=(4, 6, 6, 8), heads=(1, 2, 4, 8), refinement=4, ffn_expansion=2.66),
    "small": dict(dim=12, blocks=(1, 1, 1, 1), heads=(1, 2, 4, 8), refinement=0, ffn_expansion=2.66),
}


class MDTA(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ModelConfigError(f"attention: {dim} channels cannot be split into {heads} heads")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = conv1x1(dim, 3 * dim, bias=False)
        self.qkv_dw = nn.Conv2d(3 * dim, 3 * dim, 3, padding=1, groups=3 * dim, bias=False)
        self.proj = conv1x1(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in self.qkv_dw(self.qkv(x)).chunk(3, 1))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)
        return self.proj((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    def __init__(self, dim: int, expansion: float):
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = conv1x1(dim, 2 * hidden, bias=False)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False)
        self.project_out = conv1x1(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dw(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class TransformerBlock(nn.Module):
    """x + MDTA(LN(x)), then + GDFN(LN(x)); LN over channels."""

    def __init__(self, dim: int, heads: int, ffn_expansion: float):
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.attn = MDTA(dim, heads)
        self.norm2 = LayerNorm2d(dim)
        self.ffn = GDFN(dim, ffn_expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def transformer_stack(n: int, dim: int, heads: int, ffn_expansion: float) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(dim, heads, ffn_expansion) for _ in range(n)])


def downsample(c: int) -> nn.Sequential:
    """C x H x W -> 2C x H/2 x W/2."""
    return nn.Sequential(conv3x3(c, c // 2, bias=False), nn.PixelUnshuffle(2))


def upsample(c: int) -> nn.Sequential:
    """C x H x W -> C/2 x 2H x 2W."""
    return nn.Sequential(conv3x3(c, 2 * c, bias=False), nn.PixelShuffle(2))


@MODELS.register("restormer")
class Restormer(RestorationNet):
    """Level i (0 = full resolution) runs at dim * 2**i channels with ``heads[i]`` heads."""

    tiling = "global"  # channel attention sums over every pixel of the input

    arch = "restormer"
    PRESETS: dict[str, dict[str, Any]] = PRESETS

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        self.hparams = resolve_preset(self.arch, self.PRESETS, preset, overrides)
        self._build(self.hparams, in_ch)

    def _build(self, p: dict[str, Any], in_ch: int) -> None:
        dim, blocks, heads, fe = p["dim"], list(p["blocks"]), list(p["heads"]), p["ffn_expansion"]
        if len(blocks) != len(heads) or len(blocks) < 2:
            raise ModelConfigError(f"{self.arch}: blocks and heads need the same length >= 2, got {blocks} / {heads}")
        n = len(blocks)
        self.levels = n
        self.size_multiple = 2 ** (n - 1)
        self.patch_embed = conv3x3(in_ch, dim, bias=False)
        self.encoders = nn.ModuleList(transformer_stack(blocks[i], dim * 2**i, heads[i], fe) for i in range(n - 1))
        self.downs = nn.ModuleList(downsample(dim * 2**i) for i in range(n - 1))
        self.latent = transformer_stack(blocks[-1], dim * 2 ** (n - 1), heads[-1], fe)
        self.ups = nn.ModuleList(upsample(dim * 2 ** (i + 1)) for i in range(n - 1))
        # After concatenating the skip, levels below the top are reduced back to dim * 2**i by a 1x1 conv.
        self.reduces = nn.ModuleList(
            conv1x1(dim * 2 ** (i + 1), dim * 2**i, bias=False) if i > 0 else nn.Identity() for i in range(n - 1))
        self.decoders = nn.ModuleList(
            transformer_stack(blocks[i], dim * 2 ** max(i, 1), heads[i], fe) for i in range(n - 1))
        self.refinement = transformer_stack(p["refinement"], 2 * dim, heads[0], fe)
        self.output = zero_init_(conv3x3(2 * dim, in_ch, bias=False))

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: each encoder level's output (its skip, before downsampling), then the latent
        level (PromptIR inherits this: its prompts act in the decoder only)."""
        return (*(f"encoders.{i}" for i in range(len(self.encoders))), "latent")

    def decoder_hook(self, level: int, f: torch.Tensor) -> torch.Tensor:
        """Applied to the features at ``level`` (channels dim * 2**level) just before they are upsampled."""
        return f

    def body(self, x: torch.Tensor) -> torch.Tensor:
        f = self.patch_embed(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            f = enc(f)
            skips.append(f)
            f = down(f)
        f = self.latent(f)
        for i in reversed(range(self.levels - 1)):
            f = self.decoder_hook(i + 1, f)
            f = self.reduces[i](torch.cat([self.ups[i](f), skips[i]], dim=1))
            f = self.decoders[i](f)
        return x + self.output(self.refinement(f))
