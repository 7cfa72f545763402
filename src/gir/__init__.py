"""gir: general image restoration.

Importing ``gir`` is cheap: subpackages (``gir.degradations``, ``gir.io``, ``gir.metrics``, ``gir.models``,
``gir.restore``, ...) load on first use, so ``import gir`` pulls in neither torch nor OpenCV.
``gir.restore(image)`` restores a float32 HxWx3 array, an Image or a path (see :mod:`gir.restore`);
``gir.analyze(image)`` says what is wrong with it (see :mod:`gir.analysis`).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("degradations", "io", "metrics", "models", "restore", "training", "registry", "errors", "cli",
               "analysis")


def __getattr__(name: str):
    if name == "analyze":
        return importlib.import_module("gir.analysis.analyze").analyze
    if name in _SUBMODULES:
        return importlib.import_module(f"gir.{name}")
    raise AttributeError(f"module 'gir' has no attribute {name!r}")


__all__ = ["__version__", "analyze", *_SUBMODULES]
