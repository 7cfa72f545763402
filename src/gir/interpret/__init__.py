"""Interpretation of restoration networks: what their features know about the degradation of the input.

* paper 004 (DCPT, sec. 3.1): a k-NN degradation-classification probe on multi-level encoder features
  (:func:`multilevel_features`, :func:`knn_probe`);
* paper 000 (GIR): the deep degradation representation (DDR) of one layer, its Calinski-Harabasz index and a
  t-SNE view (:func:`ddr_features`, :func:`calinski_harabasz`, :func:`tsne_embedding`, :func:`ddr_analysis`,
  :func:`tsne_plot`); the local attribution map (LAM) of one output box and its diffusion index
  (:func:`local_attribution_map`, :class:`LamResult`, :func:`lam_figure`, :func:`gini`,
  :func:`diffusion_index`). ``gir.interpret.lam`` is the module (a name the package cannot also give the
  function); its function ``gir.interpret.lam.lam`` is exported here as ``local_attribution_map``.

Images are float32 H x W x 3 RGB in [0, 1]. Importing ``gir.interpret`` loads nothing heavy; the names below
resolve on first use. The command line is ``gir interpret knn|ddr|lam`` (:mod:`gir.interpret.cli`).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "load_network": "features", "degraded_set": "features", "multilevel_features": "features",
    "ddr_features": "features", "parse_ops": "features", "centre_crop": "features",
    "knn_probe": "knn",
    "calinski_harabasz": "ddr", "tsne_embedding": "ddr", "tsne_perplexity": "ddr", "ddr_analysis": "ddr",
    "DDRResult": "ddr",
    "tsne_plot": "plots",
    "local_attribution_map": "lam", "LamResult": "lam", "lam_figure": "lam", "gini": "lam",
    "diffusion_index": "lam",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gir.interpret.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gir.interpret' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
