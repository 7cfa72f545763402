"""GIR benchmark: the 100-task test suite (:mod:`gir.bench.suite`), acceptance/excellence scoring
(:mod:`gir.bench.scores`) and the spectral clustering that picks representative tasks
(:mod:`gir.bench.spectral`).

Importing ``gir.bench`` loads nothing heavy; the names below resolve on first use (none needs torch).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "build_suite": "suite", "write_suite": "suite", "load_suite": "suite", "degrade_for_task": "suite",
    "Task": "suite", "SuiteError": "suite", "gir_pool": "suite",
    "acceptance_rate": "scores", "excellence_rate": "scores", "summarize": "scores", "task_rows": "scores",
    "ScoreError": "scores",
    "spectral_clustering": "spectral",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gir.bench.{_EXPORTS[name]}"), name)
    if name in ("suite", "scores", "spectral"):
        return importlib.import_module(f"gir.bench.{name}")
    raise AttributeError(f"module 'gir.bench' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
