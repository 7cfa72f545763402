"""GRIDS (paper 002): degradation similarity from DDR features, grouping search, adaptive model selection.

- :mod:`gir.grids.ggd`: zero-mean generalized Gaussian fit, closed-form KL divergence, group averages;
- :mod:`gir.grids.similarity`: one GGD per degradation from a network's pooled features, the log-KL matrix;
- :mod:`gir.grids.grouping`: Algorithm 1 (ranked candidates, L_max, depth-first partition search) with a
  pluggable verifier, and a verifier that trains;
- :mod:`gir.grids.selection`: the input's GGD from random crops, nearest group, out-of-distribution flag.

Importing ``gir.grids`` loads nothing heavy; the names below resolve on first use.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "GGD": "ggd", "fit_ggd": "ggd", "kl_ggd": "ggd", "log_kl": "ggd", "mean_ggd": "ggd",
    "PAPER_OPS": "similarity", "degradation_ggds": "similarity", "similarity_matrix": "similarity",
    "read_matrix": "similarity", "run_similarity": "similarity",
    "Grouping": "grouping", "candidate_groups": "grouping", "search_groups": "grouping",
    "verify_by_training": "grouping", "TrainBudget": "grouping", "group_config": "grouping",
    "image_ggd": "selection", "select_group": "selection", "Selector": "selection", "Selection": "selection",
    "build_selector": "selection",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gir.grids.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gir.grids' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
