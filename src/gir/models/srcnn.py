"""SRCNN (Dong et al.): three convolutions 9-5-5, GIR's acceptance line (paper 000).

Differences from the 2014 design, both for same-resolution restoration of RGB: it works on the three
colour channels instead of luminance, and it predicts a correction added to the input (global residual),
whose last conv starts at zero so that a fresh model is the identity.
"""
from __future__ import annotations

from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet, resolve_preset
from gir.models.layers import zero_init_

# c1, c2: widths of the 9x9 and 5x5 layers (64 / 32 in the paper; cheap enough for CPU as is).
PRESETS = {"paper": dict(c1=64, c2=32), "small": dict(c1=64, c2=32)}


@MODELS.register("srcnn")
class SRCNN(RestorationNet):
    size_multiple = 1
    # Encoder features: the ReLU outputs of the 9x9 and 5x5 layers (the last 5x5 conv reconstructs).
    feature_levels = ("net.1", "net.3")

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("srcnn", PRESETS, preset, overrides)
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, p["c1"], 9, padding=4, padding_mode="replicate"), nn.ReLU(inplace=True),
            nn.Conv2d(p["c1"], p["c2"], 5, padding=2, padding_mode="replicate"), nn.ReLU(inplace=True),
            zero_init_(nn.Conv2d(p["c2"], in_ch, 5, padding=2, padding_mode="replicate")),
        )

    def body(self, x):
        # Residual: the network predicts the correction, which trains far faster for restoration.
        return x + self.net(x)
