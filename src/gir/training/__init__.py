"""The training engine: one YAML config describes a run; the same code trains on a CPU, a GPU or many
(torchrun / DDP).

>>> from gir.training import run
>>> run_dir = run("configs/noise_srcnn.yaml", overrides=["train.iterations=100"])  # doctest: +SKIP

Importing this package is cheap; torch and the engine load when :func:`run` is first called.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterable

_EXPORTS = {
    "ConfigError": "gir.data.errors",
    "load_config": "gir.training.config",
    "apply_override": "gir.training.config",
    "defaults": "gir.training.config",
    "describe": "gir.training.config",
    "dump_config": "gir.training.config",
    "SCHEMA": "gir.training.config",
    "LOSSES": "gir.training.losses",
    "LossSet": "gir.training.losses",
    "OPTIMIZERS": "gir.training.optim",
    "SCHEDULERS": "gir.training.optim",
    "Trainer": "gir.training.engine",
    "TrainingInterrupted": "gir.training.engine",
    "read_metrics": "gir.training.logs",
    "plot_curves": "gir.training.logs",
}


def run(config: str | Path | dict | None = None, overrides: Iterable[str] = (), resume: str | Path | None = None,
        out_dir: str | Path | None = None) -> Path:
    """Train a network as ``config`` describes; returns the run folder. See :func:`gir.training.engine.run`."""
    from gir.training.engine import run as _run

    return _run(config, overrides=overrides, resume=resume, out_dir=out_dir)


def train_in(run_dir: str | Path, config: str | Path | dict | None = None) -> Path:
    """Train ``config`` in ``run_dir`` to its end, resuming the run the folder already holds (a finished run
    comes back at once), and return its final weights file (``models/net_latest.safetensors``). An
    interrupted run raises GirError: its state is saved, and the same call continues it."""
    from gir.errors import GirError
    from gir.training.engine import TrainingInterrupted

    run_dir = Path(run_dir)
    try:
        if (run_dir / "config.yaml").is_file():
            run(resume=run_dir)
        else:
            run(config, out_dir=run_dir)
    except TrainingInterrupted:
        raise GirError(f"interrupted while training {run_dir.name}; its state is saved: run the same command "
                       f"again to continue") from None
    ckpt = run_dir / "models" / "net_latest.safetensors"
    if not ckpt.is_file():
        raise GirError(f"{run_dir}: training ended without weights ({ckpt.name} missing)")
    return ckpt


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gir.training' has no attribute {name!r}")


__all__ = ["run", "train_in", *sorted(_EXPORTS)]
