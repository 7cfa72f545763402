"""Training data: clean-image folders degraded on the fly (single op, fixed task mix, random GIR chains,
clean patches, or a weighted mixture of these),
paired LQ/GT folders, and fixed validation sets.

Every training sample is a pure function of (seed, sample index); see :mod:`gir.data.datasets`. This
package needs numpy only (the DataLoader's collate makes the tensors); submodules load on first use.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "ConfigError": "gir.data.errors",
    "IMAGE_SUFFIXES": "gir.data.folders",
    "ImageCache": "gir.data.folders",
    "list_images": "gir.data.folders",
    "TASK_SAMPLERS": "gir.data.tasks",
    "TaskDraw": "gir.data.tasks",
    "SingleOp": "gir.data.tasks",
    "MixTasks": "gir.data.tasks",
    "GirChains": "gir.data.tasks",
    "CleanPatches": "gir.data.tasks",
    "ComposeSamplers": "gir.data.tasks",
    "build_task_sampler": "gir.data.tasks",
    "DATASETS": "gir.data.datasets",
    "DegradedFolder": "gir.data.datasets",
    "PairedFolders": "gir.data.datasets",
    "IndexBatches": "gir.data.datasets",
    "ValSet": "gir.data.datasets",
    "ValItem": "gir.data.datasets",
    "build_train_set": "gir.data.datasets",
    "build_val_set": "gir.data.datasets",
    "match_pairs": "gir.data.datasets",
    "sample_rng": "gir.data.datasets",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gir.data' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
