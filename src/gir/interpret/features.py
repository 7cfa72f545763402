"""Networks, degraded probe sets and the two feature read-outs of the interpretation tools.

* :func:`load_network`: a shipped model, a checkpoint file, or ``random:<arch>[:<preset>]`` (a registered
  architecture with seeded random weights, the "randomly initialised" rows of paper 004's probe).
* :func:`degraded_set`: centre crops of clean images, each degraded by each op, reproducibly.
* :func:`multilevel_features`: the input of paper 004's kNN probe (sec. 3.1 and appendix A), made tractable.
* :func:`ddr_features`: paper 000's deep degradation representation (DDR) of one layer.

Images everywhere are float32 H x W x 3 RGB in [0, 1].

Deviation from paper 004 (documented on purpose): the paper flattens the whole feature map of centre crops of
a fixed size. Flattening every encoder level at full resolution gives vectors of millions of entries for a
128-px crop, which a k-NN with a KD-tree cannot handle on a CPU. Here each level is first adaptive-average-
pooled to a small fixed grid (default 4 x 4, so some spatial layout survives), the levels are concatenated,
and the row is L2-normalised, so that no level's scale or the image's contrast decides the distances alone.
The paper also reads one feature (the last block before the restoration head); ``levels=[deepest]``
reproduces that choice, the default uses every declared encoder level (the DCPT multi-level features).
"""
from __future__ import annotations

import re
import zlib
from typing import Any, Iterable, Sequence

import numpy as np

from gir.errors import GirError
from gir.models import build_model, list_models
from gir.models.shipped import resolve_model

RANDOM_PREFIX = "random:"
DEFAULT_GRID = 4
DEFAULT_CROP = 128
DEFAULT_BATCH = 8
MIN_CROP = 8


# ---------------------------------------------------------------------------------------------- networks
def _build_random(spec: str, seed: int):
    """``random:<arch>[:<preset>]`` -> a freshly initialised model (global torch RNG left untouched)."""
    import torch

    parts = spec[len(RANDOM_PREFIX):].split(":")
    if len(parts) > 2 or not parts[0]:
        raise GirError(f"{spec}: expected random:<architecture>[:<preset>]")
    arch = parts[0]
    if arch not in list_models():
        raise GirError(f"{spec}: unknown architecture {arch!r}; known: {', '.join(list_models())}")
    cfg: dict[str, Any] = {"type": arch}
    if len(parts) == 2 and parts[1]:
        cfg["preset"] = parts[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return build_model(cfg)
        except GirError as e:
            raise GirError(f"{spec}: {e}") from None
        except KeyError as e:
            raise GirError(f"{spec}: cannot build {cfg}: {' '.join(str(e).split())}") from None


def load_network(spec: str, device: str = "cpu", seed: int = 0):
    """The network named by ``spec`` in eval mode on ``device``, and a label for tables and plots.

    ``spec``: a shipped model name (``gir/weights/NAME.safetensors``), a checkpoint path, or
    ``random:<arch>[:<preset>]`` (registered architecture, default preset, weights drawn after
    ``torch.manual_seed(seed)``; the global torch RNG state is restored afterwards). The label is ``spec`` as
    given. Raises GirError (one line) for anything else.
    """
    from gir.restore.loading import pick_device

    spec = str(spec).strip()
    if not spec:
        raise GirError("empty model spec; give a shipped model name, a checkpoint path or random:<arch>")
    dev = pick_device(device)
    if spec.startswith(RANDOM_PREFIX):
        model = _build_random(spec, seed)
    else:
        from gir.models.checkpoint import load_model

        path = resolve_checkpoint(spec)
        try:
            model = load_model(path)
        except GirError:
            raise
        except Exception as e:  # anything the checkpoint layer did not wrap: still one line
            raise GirError(f"{path}: cannot load the model ({type(e).__name__}: {' '.join(str(e).split())})") \
                from None
    return model.to(dev).eval(), spec


def resolve_checkpoint(spec: str):
    """The checkpoint file of a shipped model name or path (:func:`gir.models.shipped.resolve_model`); the
    error of an unknown name also points at ``random:<arch>``."""
    try:
        return resolve_model(spec)
    except GirError as e:
        raise GirError(f"{e}; or use random:<architecture>[:<preset>] for random weights") from None


def slug(label: str) -> str:
    """A file-name-safe form of a model label (``random:nafnet`` -> ``random-nafnet``)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", label.replace(":", "-")).strip("-.")
    return text or "model"


# ------------------------------------------------------------------------------------------- probe data
def parse_ops(ops: Iterable[str]):
    """Validate op texts (bare op names or recipe texts); returns ``[(text, Recipe)]``.

    A bare op name takes its representative strength. Raises GirError naming the bad entry."""
    from gir.degradations import Recipe

    out = []
    for text in ops:
        text = str(text).strip()
        if not text:
            raise GirError("empty op in --ops")
        try:
            out.append((text, Recipe.from_text(text)))
        except GirError as e:
            raise GirError(f"op {text!r}: {e}") from None
    if not out:
        raise GirError("no ops given")
    labels = [t for t, _ in out]
    if len(set(labels)) != len(labels):
        raise GirError(f"ops repeat: {', '.join(labels)}")
    return out


def centre_crop(img: np.ndarray, crop: int) -> np.ndarray:
    """The central ``crop`` x ``crop`` window of float32 H x W x 3 ``img`` (a copy); GirError if smaller."""
    h, w = img.shape[:2]
    if h < crop or w < crop:
        raise GirError(f"image of {w}x{h} px is smaller than the {crop}-px crop")
    top, left = (h - crop) // 2, (w - crop) // 2
    return np.ascontiguousarray(img[top:top + crop, left:left + crop, :3], dtype=np.float32)


def _sample_seed(seed: int, op: str, index: int) -> int:
    """A seed per (base seed, op text, image index): independent of the order or number of ops."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(op.encode()), int(index)]).generate_state(1)[0])


def _needs_depth(recipe) -> bool:
    from gir.degradations import OPS

    return any(OPS.get(step.op).needs_depth for step in recipe.steps)


def degraded_set(images: Sequence[np.ndarray], ops: Sequence[str], n_per_op: int | None = None,
                 crop: int = DEFAULT_CROP, seed: int = 0, progress: bool = False) -> list[tuple[str, np.ndarray]]:
    """``[(label, degraded crop)]``: the first ``n_per_op`` images (all when None) centre-cropped to ``crop``
    px, each degraded by each entry of ``ops`` (op name at its representative strength, or recipe text such
    as ``noise(sigma=25)``); label = that text. Order: image by image, ops in the given order inside.

    Every sample draws its randomness from a seed derived from (``seed``, op text, image index), so reruns
    are byte-identical and adding an op does not change the others. Ops that need depth (haze, snow) get the
    depth map estimated from the clean crop. Crops are float32 ``crop`` x ``crop`` x 3 in [0, 1].
    """
    from gir.degradations.depth import estimate_depth

    if crop < MIN_CROP:
        raise GirError(f"crop must be at least {MIN_CROP} px, got {crop}")
    recipes = parse_ops(ops)
    if n_per_op is not None and n_per_op < 1:
        raise GirError(f"n_per_op must be positive, got {n_per_op}")
    chosen = list(images)[:n_per_op] if n_per_op else list(images)
    if not chosen:
        raise GirError("no images to degrade")
    bar = _bar(chosen, "degrade", "img", progress)
    out: list[tuple[str, np.ndarray]] = []
    for i, img in enumerate(bar):
        try:
            clean = centre_crop(np.asarray(img, dtype=np.float32), crop)
        except GirError as e:
            raise GirError(f"image {i}: {e}") from None
        depth = estimate_depth(clean) if any(_needs_depth(r) for _, r in recipes) else None
        for text, recipe in recipes:
            x = recipe.apply(clean, seed=_sample_seed(seed, text, i), depth=depth if _needs_depth(recipe) else None)
            out.append((text, np.ascontiguousarray(x, dtype=np.float32)))
    return out


def _bar(items, desc: str, unit: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=False)


# ---------------------------------------------------------------------------------------------- features
def _as_batch(batch) -> np.ndarray:
    """N x H x W x 3 float32 from a sequence of same-size images or an array."""
    if isinstance(batch, np.ndarray):
        arr = batch[None] if batch.ndim == 3 else batch
    else:
        items = [np.asarray(b, dtype=np.float32) for b in batch]
        if not items:
            raise GirError("no images to extract features from")
        shapes = {a.shape for a in items}
        if len(shapes) > 1:
            raise GirError(f"images of different sizes in one feature batch: {sorted(shapes)}")
        arr = np.stack(items)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] == 0:
        raise GirError(f"expected N x H x W x 3 images, got shape {tuple(arr.shape)}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _device_of(model) -> Any:
    import torch

    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _chunks(model, batch, batch_size: int, progress: bool, desc: str):
    """Yield B x 3 x H x W tensors on the model's device, ``batch_size`` images at a time."""
    import torch

    arr = _as_batch(batch)
    dev = _device_of(model)
    starts = range(0, arr.shape[0], max(1, int(batch_size)))
    for s in _bar(starts, desc, "batch", progress):
        yield torch.from_numpy(arr[s:s + batch_size]).permute(0, 3, 1, 2).contiguous().to(dev)


class _EvalNoGrad:
    """Eval mode and no autograd inside the block; the model's mode is restored afterwards."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        import torch

        self.was_training = self.model.training
        self.model.eval()
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)
        return False


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def multilevel_features(model, batch, levels: Sequence[str] | None = None, grid: int = DEFAULT_GRID,
                        batch_size: int = DEFAULT_BATCH, progress: bool = False) -> np.ndarray:
    """N x D features for paper 004's kNN probe: each encoder level (default: the model's declared levels,
    :func:`gir.models.features.encoder_levels`) adaptive-average-pooled to ``grid`` x ``grid``, flattened,
    concatenated shallow to deep, and each row L2-normalised (float32; D = grid^2 * sum of level channels).

    ``batch``: same-size float32 H x W x 3 images (a sequence or an N x H x W x 3 array). Runs without
    autograd in eval mode (the model's mode is restored). See the module docstring for why features are
    pooled rather than flattened at full resolution.
    """
    import torch
    import torch.nn.functional as F

    from gir.models.features import extract_features

    if grid < 1:
        raise GirError(f"grid must be positive, got {grid}")
    rows = []
    with _EvalNoGrad(model):
        for x in _chunks(model, batch, batch_size, progress, "features"):
            feats = extract_features(model, x, levels)
            pooled = [F.adaptive_avg_pool2d(f.float(), grid).flatten(1) for f in feats]
            rows.append(torch.cat(pooled, dim=1).cpu().numpy())
    return _l2_rows(np.concatenate(rows, axis=0))


class _StopDDR(Exception):
    """Raised from the DDR hook once the layer's output is captured (skips the rest of the network)."""


def default_ddr_layer(model) -> str:
    """The deepest declared encoder level of ``model``."""
    from gir.models.features import encoder_levels

    return encoder_levels(model)[-1]


def _global_pool(out, layer: str, nhwc: bool):
    """B x C from a module output: 4-D maps averaged over space (NHWC when ``nhwc``), 3-D B x N x C tokens
    averaged over N, 2-D B x C as is."""
    import torch

    if isinstance(out, (tuple, list)):
        out = next((o for o in out if isinstance(o, torch.Tensor)), None)
    if not isinstance(out, torch.Tensor):
        raise GirError(f"layer {layer!r} gives no tensor")
    if out.dim() == 4:
        return out.float().mean(dim=(1, 2) if nhwc else (2, 3))
    if out.dim() == 3:
        return out.float().mean(dim=1)
    if out.dim() == 2:
        return out.float()
    raise GirError(f"layer {layer!r} gives a {out.dim()}-D tensor; expected B x C [x H x W] or B x N x C")


def ddr_features(model, batch, layer: str | None = None, batch_size: int = DEFAULT_BATCH,
                 progress: bool = False) -> np.ndarray:
    """N x C deep degradation representation (paper 000): the output of one module of ``model``, globally
    average-pooled over space (tokens: over the sequence), float32, not normalised.

    ``layer``: any name of ``model.named_modules()``; default: the deepest declared encoder level. A declared
    level of an NHWC model (SwinIR groups) is pooled over its H, W axes; any other 4-D output is read as
    B x C x H x W. ``batch`` as in :func:`multilevel_features`. The forward pass stops after the layer.
    """
    layer = default_ddr_layer(model) if layer is None else layer
    modules = dict(model.named_modules())
    if layer not in modules:
        close = [n for n in modules if n and layer in n][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise GirError(f"{type(model).__name__} has no module named {layer!r}{hint}")
    nhwc = getattr(model, "feature_layout", "nchw") == "nhwc" and layer in tuple(getattr(model, "feature_levels", ()))
    captured: list = []

    def hook(module, args, output):
        captured.append(_global_pool(output, layer, nhwc))
        raise _StopDDR

    rows = []
    handle = modules[layer].register_forward_hook(hook)
    try:
        with _EvalNoGrad(model):
            for x in _chunks(model, batch, batch_size, progress, "ddr"):
                captured.clear()
                try:
                    model(x)
                except _StopDDR:
                    pass
                if not captured:
                    raise GirError(f"layer {layer!r} was not run by the forward pass")
                rows.append(captured[0].cpu().numpy())
    finally:
        handle.remove()
    return np.concatenate(rows, axis=0).astype(np.float32)
