"""Degradation analysis: what is wrong with a photo (paper 004's degradation classification, calibrated).

``gir.analyze(image)`` -> :class:`Diagnosis`: for each degradation family the probability that it is present
and, where the family has one, a strength estimate (noise sigma, JPEG quality, blur width, down-scale factor,
haze density, light level), plus the probability that the photo is clean and where each number came from.

Importing this package is cheap; torch and the analyzer network load on first use.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "FAMILIES": "gir.analysis.families",
    "STRENGTHS": "gir.analysis.families",
    "recipe_targets": "gir.analysis.families",
    "analyze": "gir.analysis.analyze",
    "Analyzer": "gir.analysis.analyze",
    "Diagnosis": "gir.analysis.analyze",
    "Finding": "gir.analysis.analyze",
    "read_jpeg_tables": "gir.analysis.jpeg_tables",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gir.analysis' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
