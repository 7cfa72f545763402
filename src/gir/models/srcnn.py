"""SRCNN (Dong et al.): three convolutions 9-5-5, GIR's acceptance line (paper 000)."""
from __future__ import annotations

from torch import nn

from gir.models import MODELS
from gir.models.base import RestorationNet

PRESETS = {"paper": dict(c1=64, c2=32), "small": dict(c1=64, c2=32)}


@MODELS.register("srcnn")
class SRCNN(RestorationNet):
    size_multiple = 1

    def __init__(self, preset: str = "paper", c1: int | None = None, c2: int | None = None, in_ch: int = 3):
        super().__init__()
        p = {**PRESETS[preset], **{k: v for k, v in dict(c1=c1, c2=c2).items() if v is not None}}
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, p["c1"], 9, padding=4, padding_mode="replicate"), nn.ReLU(inplace=True),
            nn.Conv2d(p["c1"], p["c2"], 5, padding=2, padding_mode="replicate"), nn.ReLU(inplace=True),
            nn.Conv2d(p["c2"], in_ch, 5, padding=2, padding_mode="replicate"),
        )

    def body(self, x):
        # Residual: the network predicts the correction, which trains far faster for restoration.
        return x + self.net(x)
