"""A per-pixel detector: B x 3 x H x W image -> B x 1 x H x W logit (where a degradation covers the photo).

``mask_unet``: the scratch and dust detector of the analysis (:mod:`gir.analysis.scratches`), whose mask the
inpainting expert fills (:mod:`gir.restore.pnp` with :class:`gir.restore.operators.Mask`). Pixel-unshuffle by
2 at the input (FFDNet's trick: the network works at half resolution, four times cheaper), then a three-level
U-Net of EDSR residual blocks (strided 3x3 convs down, pixel shuffle up, skips added), the deepest level with
dilated convolutions (dilation 1, 2, 4, 8 at 1/8 resolution) so that a pixel's decision sees far around
it (a crack is told from a wire or a fence by how it runs), and a pixel-shuffle tail back to full
resolution. Only local layers: tiles with a margin give nearly the result of one pass
(:func:`gir.analysis.scratches.probability_map`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet, resolve_preset
from gir.models.layers import ResBlock, conv3x3, zero_init_

PRESETS = {
    # No published network: "paper" is a wider variant for a GPU; "small" runs on every analysis of a photo
    # (about 20 GFLOP per megapixel).
    "paper": dict(channels=(32, 64, 128), blocks=2),
    "small": dict(channels=(16, 32, 64), blocks=2),
}


class DilatedBlock(nn.Module):
    """x + conv3x3(dilation d)(ReLU(conv3x3(dilation d)(x)))."""

    def __init__(self, c: int, d: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=d, dilation=d)
        self.b = nn.Conv2d(c, c, 3, padding=d, dilation=d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


@MODELS.register("mask_unet")
class MaskUNet(RestorationNet):
    """See the module docstring. ``forward`` returns logits (no sigmoid); ``channels_out`` is 1."""

    channels_out = 1

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("mask_unet", PRESETS, preset, overrides)
        c1, c2, c3 = (int(c) for c in p["channels"])
        n = int(p["blocks"])
        self.size_multiple = 8  # unshuffle by 2, then two stride-2 levels
        self.head = conv3x3(4 * in_ch, c1)
        self.enc1 = nn.Sequential(*[ResBlock(c1) for _ in range(n)])
        self.down1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc2 = nn.Sequential(*[ResBlock(c2) for _ in range(n)])
        self.down2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.middle = nn.Sequential(*[DilatedBlock(c3, d) for d in (1, 2, 4, 8)])
        self.up2 = nn.Sequential(conv3x3(c3, 4 * c2), nn.PixelShuffle(2))
        self.dec2 = nn.Sequential(*[ResBlock(c2) for _ in range(n)])
        self.up1 = nn.Sequential(conv3x3(c2, 4 * c1), nn.PixelShuffle(2))
        self.dec1 = nn.Sequential(*[ResBlock(c1) for _ in range(n)])
        self.tail = conv3x3(c1, 4)

    feature_levels = ("enc1", "enc2", "middle")

    def body(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.enc1(F.relu(self.head(F.pixel_unshuffle(x, 2))))
        f2 = self.enc2(F.relu(self.down1(f1)))
        m = self.middle(F.relu(self.down2(f2)))
        d2 = self.dec2(self.up2(m) + f2)
        d1 = self.dec1(self.up1(d2) + f1)
        return F.pixel_shuffle(self.tail(d1), 2)


FILL_SCALES = (9, 9, 9)  # box sizes of the normalised convolution that starts the fill (applied in turn)


def smooth_fill(rgb: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """``rgb`` (B x 3 x H x W) with the pixels of ``hole`` (B x 1 x H x W, 1 = missing) replaced by a
    normalised convolution of the known pixels (box filters of :data:`FILL_SCALES` applied in turn: a smooth
    fill that reaches across gaps of about 25 px); pixels no known pixel reaches get the image's known mean."""
    known = 1.0 - hole
    num, den = rgb * known, known
    for k in FILL_SCALES:
        num = F.avg_pool2d(num, k, stride=1, padding=k // 2, count_include_pad=False)
        den = F.avg_pool2d(den, k, stride=1, padding=k // 2, count_include_pad=False)
    mean = (rgb * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1.0)
    fill = torch.where(den > 1e-3, num / den.clamp_min(1e-3), mean)
    return rgb * known + fill * hole


GATE_BIAS = -2.0  # initial logit of the keep gate: a new network keeps about 12% of the marked pixels


@MODELS.register("fill_unet")
class FillUNet(MaskUNet):
    """The inpainting network of the ``inpaint`` expert: B x 4 x H x W in (the photo, then the mask of the
    pixels it may replace, 1 = marked), B x 3 x H x W out, equal to the photo outside the mask.

    A detector's mask covers more than the damage (on the GIR suite's scratched crops the shipped detector
    marked twice the damaged area), so the network sees the marked pixels too and decides per pixel: inside
    the mask the output is ``g * photo + (1 - g) * (fill + correction)``, where ``fill`` is
    :func:`smooth_fill` and the U-Net (``mask_unet``'s, reading the photo, the fill and the mask) gives the
    correction and the keep gate ``g`` (a sigmoid). The correction starts at zero and the gate near
    ``sigmoid(GATE_BIAS)``."""

    channels_in = 4  # the photo, then the mask
    channels_out = 3

    def __init__(self, preset: str = "small", **overrides):
        super().__init__(preset, in_ch=7, **overrides)
        c1 = int(self.hparams["channels"][0])
        self.tail = zero_init_(conv3x3(c1, 4 * 4))  # pixel-shuffled to 3 correction channels and the gate
        with torch.no_grad():
            self.tail.bias[12:].fill_(GATE_BIAS)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        rgb, hole = x[:, :3], (x[:, 3:4] > 0.5).to(x.dtype)
        filled = smooth_fill(rgb, hole)
        out = super().body(torch.cat([rgb, filled, hole], dim=1))
        keep = torch.sigmoid(out[:, 3:4])
        inside = keep * rgb + (1 - keep) * (filled + out[:, :3])
        return rgb * (1 - hole) + inside * hole
