"""Restoration architectures, built from config by a registry.

``build_model({"type": "nafnet", "preset": "small"})`` -> ``torch.nn.Module`` taking B x 3 x H x W in [0, 1]
and returning the same size for any H, W. Every architecture has a "paper" preset (the published size) and
a "small" preset for CPU (the default); other keys of the config override single hyper-parameters.

Also here (loaded on first use): ``count_params``, ``gflops_per_megapixel``, ``model_table`` and the
checkpoint functions ``save_checkpoint``, ``load_state``, ``load_weights``, ``load_model``.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, Mapping

from gir.errors import ConfigError
from gir.registry import Registry

MODELS: Registry = Registry("architecture")

_ARCH_MODULES = ("srcnn", "resnet", "srresnet", "rrdb", "nafnet", "restormer", "swinir", "promptir",
                 "wavelet_unet", "diffusion_unet", "refiner", "upscale", "masknet", "kernelnet")
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


def build_model(cfg: dict[str, Any] | str, where: str | None = None):
    """Build an architecture from ``{"type": name, "preset": ..., **kwargs}`` (or just its name). A bad key
    or value raises :class:`gir.errors.ConfigError` (naming ``where``, the config section, when given)."""
    _register_all()
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    return MODELS.build(cfg, where=where)


def check_model_config(cfg: Mapping[str, Any], where: str | None = None) -> None:
    """Raise :class:`ConfigError` when ``cfg`` has a key its architecture does not take (a hyper-parameter
    that its presets lack, an unknown preset), without building the network; an unknown type raises
    KeyError. An architecture without a ``PRESETS`` table is checked against its signature only."""
    _register_all()
    MODELS.check(cfg, where=where)
    factory = MODELS.get(cfg["type"])
    params = inspect.signature(factory).parameters
    presets = getattr(factory, "PRESETS", None) or getattr(sys.modules.get(factory.__module__), "PRESETS", None)
    if not isinstance(presets, Mapping) or "preset" not in params:
        return
    from gir.models.base import ModelConfigError, resolve_preset

    overrides = {k: v for k, v in cfg.items() if k != "type" and k not in params}
    try:
        resolve_preset(cfg["type"], presets, cfg.get("preset", params["preset"].default), overrides)
    except ModelConfigError as e:
        raise ConfigError(f"{where}: {e}" if where else str(e)) from None


def list_models() -> list[str]:
    _register_all()
    return MODELS.names()


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"gir.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gir.models' has no attribute {name!r}")


__all__ = ["MODELS", "build_model", "check_model_config", "list_models", *_LAZY]
