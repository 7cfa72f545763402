"""DCPT core (paper 004, "Degradation Classification Pre-Training"): an encoder = a restoration network's
multi-level encoder features, read with hooks at the levels every architecture declares
(:mod:`gir.models.features`); a light ResNet-18-like decoder that classifies the degradation from those
features alone (:mod:`gir.models.classifier`, also the analyzer's head); focal losses against the long tail.

``extract_features(model, x)`` -> list of B x C_i x H_i x W_i; ``DegradationClassifier(feature_channels(model),
K)(features)`` -> B x K logits; ``focal_loss(logits, labels)``; the training objectives ``dcpt`` (pre-training)
and ``dc_guided`` (:mod:`gir.dcpt.objectives`). Names load on first use (no torch import at
``import gir.dcpt``).
"""
from __future__ import annotations

import importlib

_LAZY = {
    "encoder_levels": "gir.models.features", "FeatureHooks": "gir.models.features",
    "extract_features": "gir.models.features", "feature_channels": "gir.models.features",
    "FeatureLevelError": "gir.models.features", "to_nchw": "gir.models.features",
    "DegradationClassifier": "gir.models.classifier", "DecoderConfigError": "gir.models.classifier",
    "focal_loss": "gir.dcpt.losses", "binary_focal_loss": "gir.dcpt.losses", "LossArgumentError": "gir.dcpt.losses",
    "DCPT": "gir.dcpt.objectives", "DCGuided": "gir.dcpt.objectives", "recipe_class": "gir.dcpt.objectives",
    "load_classifier": "gir.dcpt.objectives",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gir.dcpt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = list(_LAZY)
