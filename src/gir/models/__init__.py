"""Restoration architectures, built from config by a registry.

``build_model({"type": "nafnet", "preset": "small"})`` -> ``torch.nn.Module`` taking B x 3 x H x W in [0, 1]
and returning the same size for any H, W. Every architecture has a "paper" preset (the published size) and
a "small" preset for CPU (the default); other keys of the config override single hyper-parameters.

Also here (loaded on first use): ``count_params``, ``gflops_per_megapixel``, ``model_table`` and the
checkpoint functions ``save_checkpoint``, ``load_state``, ``load_weights``, ``load_model``.
"""
from __future__ import annotations

import importlib
from typing import Any

from gir.registry import Registry

MODELS: Registry = Registry("architecture")

_ARCH_MODULES = ("srcnn", "resnet", "srresnet", "rrdb", "nafnet", "restormer", "swinir", "promptir",
                 "wavelet_unet", "diffusion_unet", "refiner")
_LAZY = {
    "count_params": "info", "gflops_per_megapixel": "info", "model_table": "info",
    "save_checkpoint": "checkpoint", "load_state": "checkpoint", "load_weights": "checkpoint",
    "load_model": "checkpoint", "CheckpointError": "checkpoint",
    "RestorationNet": "base", "ModelConfigError": "base",
}


def _register_all() -> None:
    # Imported for their registration side effects.
    for name in _ARCH_MODULES:
        importlib.import_module(f"gir.models.{name}")


def build_model(cfg: dict[str, Any] | str):
    """Build an architecture from ``{"type": name, "preset": ..., **kwargs}`` (or just its name)."""
    _register_all()
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    return MODELS.build(cfg)


def list_models() -> list[str]:
    _register_all()
    return MODELS.names()


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"gir.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gir.models' has no attribute {name!r}")


__all__ = ["MODELS", "build_model", "list_models", *_LAZY]
