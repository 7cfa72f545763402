"""Run-folder checkpoints: weights in ``models/net_<iter>.safetensors`` (+ ``net_latest``), written with
:func:`gir.models.checkpoint.save_checkpoint`, and the rest of the training state (optimisers, schedule,
EMA bookkeeping, RNG, scaler, discriminator) in ``states/<iter>.pt``: plain tensors, numbers, strings,
lists and dicts, saved with ``torch.save`` and read back with ``weights_only=True``."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch

from gir.io import atomic_path
from gir.models.checkpoint import save_checkpoint

_STATE_RE = re.compile(r"^(\d+)\.pt$")


def model_path(run_dir: str | Path, iteration: int | str) -> Path:
    return Path(run_dir) / "models" / f"net_{iteration}.safetensors"


def state_path(run_dir: str | Path, iteration: int) -> Path:
    return Path(run_dir) / "states" / f"{iteration}.pt"


def saved_iterations(run_dir: str | Path) -> list[int]:
    """Iterations with both a state and its weights file, ascending."""
    d = Path(run_dir) / "states"
    its = []
    for p in d.glob("*.pt") if d.is_dir() else []:
        m = _STATE_RE.match(p.name)
        if m and model_path(run_dir, int(m.group(1))).is_file():
            its.append(int(m.group(1)))
    return sorted(its)


def save_weights(run_dir: str | Path, iteration: int, params: dict, params_ema: dict | None,
                 model_cfg: dict, meta: dict[str, Any]) -> Path:
    """``net_<iter>.safetensors`` and a copy as ``net_latest.safetensors``."""
    path = model_path(run_dir, iteration)
    save_checkpoint(path, params, params_ema=params_ema, model_cfg=model_cfg, meta=meta)  # atomic
    with atomic_path(model_path(run_dir, "latest")) as tmp:
        shutil.copyfile(path, tmp)
    return path


def extra_path(run_dir: str | Path, iteration: int | str, name: str) -> Path:
    return Path(run_dir) / "models" / f"{name}_{iteration}.safetensors"


def save_extra(run_dir: str | Path, iteration: int, name: str, params: dict, module_cfg: dict,
               meta: dict[str, Any]) -> Path:
    """A module an objective trains beside the network (e.g. DCPT's classifier decoder):
    ``models/<name>_<iter>.safetensors`` and ``<name>_latest.safetensors``, in the checkpoint format."""
    path = extra_path(run_dir, iteration, name)
    save_checkpoint(path, params, model_cfg=module_cfg, meta=meta)
    with atomic_path(extra_path(run_dir, "latest", name)) as tmp:
        shutil.copyfile(path, tmp)
    return path


def save_state(run_dir: str | Path, iteration: int, state: dict[str, Any], keep: int | None = None) -> Path:
    """Write ``states/<iter>.pt`` atomically; keep the newest ``keep`` states."""
    path = state_path(run_dir, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    if keep:
        for it in saved_iterations(run_dir)[:-keep]:
            state_path(run_dir, it).unlink(missing_ok=True)
    return path


def load_state(run_dir: str | Path, iteration: int) -> dict[str, Any]:
    return torch.load(state_path(run_dir, iteration), map_location="cpu", weights_only=True)
