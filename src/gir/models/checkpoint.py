"""Checkpoint files: one safetensors file with the weights, their EMA, the model config and metadata.

Layout: tensors ``params/<name>`` and (optionally) ``params_ema/<name>``; the safetensors string metadata
holds ``format`` ("gir.checkpoint"), ``version``, and JSON-encoded ``model_cfg`` (the :func:`build_model`
config) and ``meta`` (anything JSON-serialisable: iteration, metrics, ...). Reading also accepts plain
safetensors state dicts and ``.pth`` / ``.pt`` files, loaded with ``torch.load(weights_only=True)`` so
that no arbitrary object is ever unpickled.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from gir.errors import GirError

FORMAT = "gir.checkpoint"
VERSION = "1"
KEYS = ("params", "params_ema")
_NESTING = ("params_ema", "params", "state_dict")


class CheckpointError(GirError):
    """A checkpoint could not be written, read or applied; the one-line message names the file."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # keep it on one line
        super().__init__(f"{self.path}: {self.problem}")


# ---------------------------------------------------------------------------------------------- writing
def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Tensor) and obj.numel() == 1:
        return obj.item()
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _prefixed(prefix: str, params: dict[str, Tensor], path) -> dict[str, Tensor]:
    out = {}
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise CheckpointError(path, f"{prefix}[{name!r}] is a {type(t).__name__}, not a tensor")
        # A private contiguous CPU copy: safetensors refuses tensors that share storage.
        out[f"{prefix}/{name}"] = t.detach().to("cpu", copy=True).contiguous()
    return out


def save_checkpoint(path, params: dict[str, Tensor], params_ema: dict[str, Tensor] | None = None,
                    model_cfg: dict | None = None, meta: dict | None = None) -> None:
    """Write ``params`` (and ``params_ema``) with ``model_cfg`` and ``meta`` to one safetensors file.

    The file is written to a temporary name in the same folder and moved into place (``os.replace``), so a
    reader never sees a half-written checkpoint. Parent folders are created.
    """
    path = Path(path)
    if not params:
        raise CheckpointError(path, "nothing to save: params is empty")
    tensors = _prefixed("params", params, path)
    if params_ema is not None:
        tensors.update(_prefixed("params_ema", params_ema, path))
    try:
        metadata = {"format": FORMAT, "version": VERSION,
                    "model_cfg": json.dumps(model_cfg, default=_json_default),
                    "meta": json.dumps(meta or {}, default=_json_default)}
    except (TypeError, ValueError) as e:
        raise CheckpointError(path, f"model_cfg / meta cannot be stored as JSON: {e}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder (os.replace must not cross file systems); unique per process and call.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except Exception as e:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(path, f"cannot write checkpoint: {e}") from e


# ---------------------------------------------------------------------------------------------- reading
def _is_safetensors(path: Path) -> bool:
    """A safetensors file starts with a little-endian u64 header length followed by a JSON object."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def _choose(groups: dict[str, list[str]], key: str, path) -> str:
    order = [key, "params"] if key == "params_ema" else [key]
    for k in order:
        if groups.get(k):
            return k
    have = ", ".join(k for k in KEYS if groups.get(k)) or "none"
    raise CheckpointError(path, f"has no {key!r} weights (has: {have})")


def _read_safetensors(path: Path, key: str) -> tuple[dict[str, Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            names = list(f.keys())
            groups = {k: [n for n in names if n.startswith(k + "/")] for k in KEYS}
            if any(groups.values()):
                used = _choose(groups, key, path)
                state = {n[len(used) + 1:]: f.get_tensor(n) for n in groups[used]}
            else:
                used = None
                state = {n: f.get_tensor(n) for n in names}
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(path, f"not a readable safetensors file: {e}") from None
    info = {"model_cfg": None, "meta": {}, "key": used}
    for field in ("model_cfg", "meta"):
        if field in metadata:
            try:
                info[field] = json.loads(metadata[field])
            except json.JSONDecodeError as e:
                raise CheckpointError(path, f"metadata {field!r} is not valid JSON: {e}") from None
    info["meta"] = info["meta"] or {}
    return state, info


def _unwrap(obj: Any, key: str, path) -> tuple[Any, str | None]:
    """Descend into {"params_ema"/"params"/"state_dict": ...} wrappers (BasicSR / Lightning style)."""
    used = None
    for _ in range(3):
        if not isinstance(obj, dict):
            break
        groups = {k: [k] for k in KEYS if isinstance(obj.get(k), dict) and obj[k]}
        if groups:
            used = _choose(groups, key, path)
            obj = obj[used]
        elif isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        else:
            break
    return obj, used


def _read_torch(path: Path, key: str) -> tuple[dict[str, Tensor], dict]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (found {found.group(1)})" if found else ""
        raise CheckpointError(path, f"refused: the file holds pickled objects other than tensors and plain "
                                    f"containers{what}; only weights_only=True loading is allowed") from None
    except Exception as e:
        raise CheckpointError(path, f"not a readable torch file: {e}") from None
    state, used = _unwrap(obj, key, path)
    if not isinstance(state, dict) or not state:
        raise CheckpointError(path, f"holds a {type(state).__name__}, not a state dict of tensors")
    bad = [str(k) for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(path, f"{len(bad)} entries are not tensors: {describe_names(bad)}")
    if all(str(k).startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state), {"model_cfg": None, "meta": {}, "key": used}


def load_state(path, key: str = "params_ema") -> tuple[dict[str, Tensor], dict]:
    """Read one state dict (CPU tensors) from a checkpoint.

    key: "params_ema" (falls back to "params" when the file has no EMA weights) or "params".
    Returns ``(state_dict, info)``; info has "model_cfg" (dict or None), "meta" (dict) and "key" (the group
    actually read, None for a plain state dict).
    """
    path = Path(path)
    if key not in KEYS:
        raise CheckpointError(path, f"unknown weights key {key!r}; use one of {', '.join(KEYS)}")
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    if _is_safetensors(path):
        return _read_safetensors(path, key)
    return _read_torch(path, key)


# ---------------------------------------------------------------------------------------------- applying
def describe_names(names: list[str], first: int = 4) -> str:
    """The first ``first`` names, then how many more: ``"a, b, ... (+3 more)"``."""
    shown = ", ".join(names[:first])
    return shown + (f", ... (+{len(names) - first} more)" if len(names) > first else "")


def _apply(model: nn.Module, state: dict[str, Tensor], path, strict: bool = True) -> list[str]:
    """Load ``state`` into ``model`` or raise CheckpointError listing every kind of mismatch; with
    ``strict=False`` tensors of the model that ``state`` lacks keep their values (returned by name)."""
    adapt = getattr(model, "adapt_state", None)
    if adapt is not None:  # a network that knows how an older form of its checkpoints maps onto it
        state = adapt(state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {list(state[k].shape)} vs model {list(expected[k].shape)}"
             for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = []
    if missing and strict:
        problems.append(f"{len(missing)} missing: {describe_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {describe_names(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es): {describe_names(wrong, 3)}")
    if problems:
        raise CheckpointError(path, f"weights do not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state, strict=not missing)
    return missing


def load_weights(model: nn.Module, path, key: str = "params_ema", strict: bool = True, exclude=()) -> dict:
    """Load a checkpoint's weights into ``model`` (strict: names and shapes must match exactly; else the
    model may have tensors the checkpoint lacks, listed under ``missing`` of the returned info dict).
    Checkpoint tensors whose names start with a prefix in ``exclude`` are left out first (listed under
    ``excluded``); a prefix that matches none is an error. Returns the info dict of :func:`load_state`."""
    state, info = load_state(path, key)
    excluded = [k for k in state if k.startswith(tuple(exclude))]
    unused = [p for p in exclude if not any(k.startswith(p) for k in excluded)]
    if unused:
        raise CheckpointError(path, f"init.exclude: no tensor starts with {', '.join(map(repr, unused))}")
    for k in excluded:
        del state[k]
    info["missing"] = _apply(model, state, path, strict)
    info["excluded"] = excluded
    return info


def load_model(path, key: str = "params_ema", map_location="cpu") -> nn.Module:
    """Rebuild the architecture from the checkpoint's stored model_cfg, load its weights, eval mode."""
    from gir.models import build_model

    state, info = load_state(path, key)
    cfg = info["model_cfg"]
    if not cfg:
        raise CheckpointError(path, "stores no model_cfg, so the architecture is unknown; build the model "
                                    "yourself and use load_weights")
    try:
        model = build_model(dict(cfg))
    except (KeyError, TypeError, ValueError, GirError) as e:
        raise CheckpointError(path, f"cannot build the stored model_cfg {cfg}: {e}") from None
    _apply(model, state, path)
    return model.to(map_location).eval()


def export_weights(src, dst, key: str = "params_ema", meta: dict | None = None, fp16: bool = False) -> dict:
    """Write only the ``key`` weights of checkpoint ``src`` (EMA by default) to ``dst`` for shipping.

    The model config is kept; ``meta`` is merged over the source's metadata (e.g. provenance) and
    ``exported_from`` / ``weights`` record where the tensors came from. ``fp16``: store floating-point
    tensors as float16 (half the file; :func:`load_model` loads them into the float32 model). Returns the
    written metadata.
    """
    state, info = load_state(src, key)
    if info["model_cfg"] is None:
        raise CheckpointError(src, "has no model config; only checkpoints written by gir can be exported")
    merged = {**info["meta"], **(meta or {}), "exported_from": Path(src).name, "weights": info["key"] or key}
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        merged["stored_as"] = "float16"
    save_checkpoint(dst, {k: v.contiguous() for k, v in state.items()}, None, info["model_cfg"], merged)
    return merged

