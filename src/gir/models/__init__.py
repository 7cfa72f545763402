"""Restoration architectures, built from config by a registry.

``build_model({"type": "nafnet", "preset": "small"})`` -> ``torch.nn.Module`` taking B x 3 x H x W in [0, 1]
and returning the same size for any H, W.
"""
from __future__ import annotations

from typing import Any

from gir.registry import Registry

MODELS: Registry = Registry("architecture")


def _register_all() -> None:
    # Imported for their registration side effects.
    from gir.models import srcnn  # noqa: F401


def build_model(cfg: dict[str, Any] | str):
    """Build an architecture from ``{"type": name, "preset": ..., **kwargs}`` (or just its name)."""
    _register_all()
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    return MODELS.build(cfg)


def list_models() -> list[str]:
    _register_all()
    return MODELS.names()
