"""Guided refiner: FoundIR's specialist network (paper 001, sec. 4.3), registered as ``guided_refiner``.

``net(lq, guide)`` refines ``guide`` (another model's restoration of ``lq``, e.g. the generalist's) with the
degraded input as guidance: a base architecture built with 6 input channels reads [guide, lq] and, by the
project's convention (output = input + correction, zero-initialised last layer), returns guide + correction
in its first 3 channels. So a fresh refiner returns the guide unchanged. ``net(lq)`` alone uses ``lq`` as
its own guide: the specialist working directly on the degraded image ("S alone" of paper 001's Table 3b).

The base is any registered architecture that takes ``in_ch`` and maps it to the same channels (default the
wavelet U-Net's local ``cpu`` preset, halved in width: a specialist is meant to be small).
"""
from __future__ import annotations

import torch

from gir.errors import ConfigError
from gir.models import MODELS, build_model
from gir.models.base import ModelConfigError, RestorationNet

DEFAULT_BASE = {"type": "wavelet_unet", "preset": "cpu", "channels": [8, 16, 32, 64]}


@MODELS.register("guided_refiner")
class GuidedRefiner(RestorationNet):
    """[guide, lq] -> refined guide (see the module docstring). ``base``: the architecture's config (its
    ``in_ch`` is set to 6)."""

    def __init__(self, preset: str = "small", base: dict | None = None):
        super().__init__()
        if preset not in ("small", "paper"):
            raise ModelConfigError(f"guided_refiner: unknown preset {preset!r}; known: small, paper")
        cfg = dict(base or DEFAULT_BASE)
        if "in_ch" in cfg:
            raise ModelConfigError("guided_refiner: base.in_ch is set by the refiner (6: guide and input)")
        try:
            self.base = build_model({**cfg, "in_ch": 6})
        except ConfigError:  # the registry's report of a TypeError: no in_ch parameter
            raise ModelConfigError(f"guided_refiner: base {cfg.get('type')!r} does not take in_ch") from None
        if not isinstance(self.base, RestorationNet) or self.base.has_context:
            raise ModelConfigError("guided_refiner: the base must be a context-free restoration network")
        self.hparams = {"base": cfg}
        self.size_multiple = self.base.size_multiple
        self.tiling = self.base.tiling

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """The base network's encoder levels."""
        return tuple(f"base.{level}" for level in self.base.feature_levels)

    @property
    def feature_layout(self) -> str:
        return self.base.feature_layout

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        guide = x if guide is None else guide
        return self.base(torch.cat([guide, x], dim=1))[:, :3]
