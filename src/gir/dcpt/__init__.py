"""DCPT core (paper 004, "Degradation Classification Pre-Training"): an encoder = a restoration network's
multi-level encoder features, read with hooks at the levels every architecture declares; a light ResNet-18-like
decoder that classifies the degradation from those features alone; focal losses against the long tail.

``extract_features(model, x)`` -> list of B x C_i x H_i x W_i; ``DegradationClassifier(feature_channels(model),
K)(features)`` -> B x K logits; ``focal_loss(logits, labels)``; the training objectives ``dcpt`` (pre-training)
and ``dc_guided`` (:mod:`gir.dcpt.objectives`). Names load on first use (no torch import at
``import gir.dcpt``).
"""
from __future__ import annotations

import importlib

_LAZY = {
    "encoder_levels": "hooks", "FeatureHooks": "hooks", "extract_features": "hooks",
    "feature_channels": "hooks", "FeatureLevelError": "hooks", "to_nchw": "hooks",
    "DegradationClassifier": "decoder", "DecoderConfigError": "decoder",
    "focal_loss": "losses", "binary_focal_loss": "losses", "LossArgumentError": "losses",
    "DCPT": "objectives", "DCGuided": "objectives", "recipe_class": "objectives", "load_classifier": "objectives",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"gir.dcpt.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gir.dcpt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = list(_LAZY)
