"""Model loading for inference: devices, the autocast dtype, and the cache of loaded networks (one per file and
device, reloaded when the file changes) with what inference learned about each (its memory model, a lowered
tile limit after running out of memory). :class:`gir.restore.engine.Restorer` runs what is loaded here."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gir.errors import GirError
from gir.models.descriptor import ModelDescriptor, describe_model
from gir.models.shipped import resolve_model
from gir.restore import memory


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda, else mps, else cpu; an explicit device that is not available raises GirError."""
    if isinstance(name, torch.device):
        return name
    name = str(name).lower()
    cuda_ok = torch.cuda.is_available()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda_ok else "mps" if mps_ok else "cpu")
    kind = name.split(":")[0]
    if kind == "cuda" and not cuda_ok:
        raise GirError("device cuda: CUDA is not available (no GPU, or torch built without CUDA)")
    if kind == "mps" and not mps_ok:
        raise GirError("device mps: Apple MPS is not available on this machine")
    if kind not in ("cpu", "cuda", "mps"):
        raise GirError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
    return torch.device(name)


def half_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``half``: bfloat16 where supported (CPU, recent CUDA GPUs), else float16."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16


@dataclass
class LoadedModel:
    """A network on its device plus what inference learned about it (shared by every user of the cache)."""

    module: nn.Module
    device: torch.device
    name: str
    descriptor: ModelDescriptor
    memory_models: dict[tuple, memory.MemoryModel] = field(default_factory=dict)  # by (half, scale)
    tile_limit: int | None = None  # lowered after an out-of-memory error

    @property
    def multiple(self) -> int:
        return self.descriptor.size_multiple


_CACHE: dict[tuple[str, str], tuple[int, LoadedModel]] = {}


def _load_file(path: Path, device: torch.device) -> nn.Module:
    from gir.models.checkpoint import load_model

    try:
        return load_model(path, map_location=device)
    except GirError:
        raise
    except Exception as e:  # anything the checkpoint layer did not wrap: still one line, naming the file
        text = " ".join(str(e).split())
        raise GirError(f"{path}: cannot load the model ({type(e).__name__}: {text})") from None


def load_cached(spec: str | os.PathLike | None, device: torch.device) -> LoadedModel:
    """The model of ``spec`` (see :func:`resolve_model`) on ``device``, loaded once per (file, device) and
    reloaded when the file changes."""
    path = resolve_model(spec).resolve()
    key = (str(path), str(device))
    stamp = path.stat().st_mtime_ns
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    module = _load_file(path, device)
    loaded = LoadedModel(module, device, path.stem, describe_model(module))
    _CACHE[key] = (stamp, loaded)
    return loaded


def wrap_module(module: nn.Module, device: torch.device, descriptor: ModelDescriptor | None = None) -> LoadedModel:
    """A model given as an ``nn.Module`` (not cached: the caller owns it). Moved to ``device``, eval mode.
    ``descriptor``: what it needs (:func:`gir.models.descriptor.describe_model` when None)."""
    module = module.to(device).eval()
    return LoadedModel(module, device, type(module).__name__, describe_model(module, descriptor))


_PIPELINES: dict[tuple, object] = {}  # the default pipelines by settings, filled by gir.restore.api


def clear_cache() -> None:
    """Forget every cached model and pipeline (frees their memory once no Restorer holds them)."""
    _CACHE.clear()
    _PIPELINES.clear()
