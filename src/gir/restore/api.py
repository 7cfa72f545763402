"""`gir.restore()`: the Python entry point of the restore path, above the pipeline and the engine, below the CLI.

:func:`restore` runs the cached default :class:`~gir.restore.pipeline.Pipeline` (analysis -> plan -> experts ->
verified output) or one network (:class:`~gir.restore.engine.Restorer`) on one image, and gives it back as the
kind it was given (:func:`as_input`).
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from gir.errors import GirError
from gir.restore.engine import DEFAULT_OVERLAP, Restorer
from gir.restore.ensemble import parse_ensemble
from gir.restore.loading import _PIPELINES
from gir.restore.pipeline import Pipeline


def restore(image, model=None, *, device="auto", tile="auto", overlap: int = DEFAULT_OVERLAP,
            half: bool | None = None, impulse_repair: bool = True, progress: bool | str = False,
            ensemble: int | str = "auto", scale: int = 1, mode: str = "fidelity") -> np.ndarray:
    """Restore one image: float32 HxWx3 in [0, 1] in, the same shape and dtype out (``scale`` times the
    width and height with ``scale`` 2, 3 or 4: restored, then enlarged by :mod:`gir.restore.upscale`).

    image: a float HxWx3 array in [0, 1], a :class:`gir.io.Image` or an image file path.
    model None: the default pipeline (:class:`gir.restore.pipeline.Pipeline`: analyze, plan, experts, verify;
    a photo with nothing detected comes back unchanged); a model name or path: that single network on the
    whole image (cached), e.g. ``model="gir-wunet-cpu"`` for milestone 1's blind network.
    device, tile, overlap, half, ensemble: as for :class:`Restorer` (``ensemble`` "auto", as `gir restore`).
    impulse_repair: False leaves salt-and-pepper samples alone (the pipeline skips its impulse expert).
    mode: the pipeline's ``fidelity`` (default) or ``perceptual`` (:class:`Pipeline`); not for ``model``.

    Arrays and PIL images as people have them come back as they went in (:func:`as_input`): uint8 / uint16
    arrays (0-255 / 0-65535), H x W grayscale and H x W x 4 (the alpha kept as it was), PIL images of mode RGB,
    RGBA, L or LA.
    """
    from gir.restore.upscale import parse_scale

    ensemble, scale = parse_ensemble(ensemble), parse_scale(scale)
    rgb, back = as_input(image)
    if model is None:
        out = _default_pipeline(str(device), str(tile), int(overlap), half, bool(impulse_repair), ensemble,
                                scale, mode)(rgb, progress=progress)
    else:
        if mode != "fidelity":
            raise GirError("mode chooses the default pipeline's experts; it does not apply to a single model")
        out = Restorer(model, device=device, tile=tile, overlap=overlap, half=half,
                       impulse_repair=impulse_repair, ensemble=ensemble, scale=scale)(rgb, progress=progress)
    return back(out)


def as_input(image) -> tuple[object, Callable[[np.ndarray], object]]:
    """(what the restorers take, a function that turns a float32 H x W x 3 result back into the kind of
    ``image``): a path or :class:`gir.io.Image` passes through (the result stays float32 H x W x 3); a float
    H x W x 3 array too; a uint8 / uint16 array is scaled to [0, 1] and the result rounded back; an H x W
    array is repeated to three channels and the result's channels averaged; an H x W x 4 array keeps its
    alpha; a PIL image becomes an array of its mode (RGB, RGBA, L, LA; others are converted to RGB) and the
    result a PIL image of that mode."""
    from gir.io import Image as GirImage

    if isinstance(image, (str, os.PathLike, GirImage)):
        return image, lambda out: out
    if hasattr(image, "mode") and hasattr(image, "getbands"):  # a PIL image
        from PIL import Image as PILImage

        mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA") else "RGB"
        arr, back = as_input(np.asarray(image.convert(mode)))
        return arr, lambda out: PILImage.fromarray(back(out), mode=mode)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image must be H x W, or H x W x 1-4 (gray, gray+alpha, RGB, RGBA), got shape {arr.shape}")
    kind, flat = arr.dtype, np.asarray(image).ndim == 2
    if kind in (np.uint8, np.uint16):
        scale = float(np.iinfo(kind).max)
        arr = arr.astype(np.float32) / scale

        def encode(out):
            return np.rint(np.clip(out, 0.0, 1.0) * scale).astype(kind)
    elif kind.kind == "f":
        def encode(out):
            return out.astype(np.float32, copy=False)
    else:
        raise ValueError(f"image must be a float array in [0, 1] or a uint8 / uint16 array, got dtype {kind}")
    colour, alpha = (arr[..., :-1], arr[..., -1:]) if arr.shape[2] in (2, 4) else (arr, None)
    gray = colour.shape[2] == 1
    rgb = np.ascontiguousarray(np.repeat(colour, 3, axis=2) if gray else colour, dtype=np.float32)

    def back(out: np.ndarray):
        res = out.mean(axis=2, keepdims=True) if gray else out
        if alpha is not None:
            res = np.concatenate([res, alpha.astype(res.dtype)], axis=2)
        res = encode(res)
        return res[..., 0] if flat else res

    return rgb, back


def _default_pipeline(device: str, tile: str, overlap: int, half, impulse_repair: bool, ensemble="auto",
                      scale: int = 1, mode: str = "fidelity"):
    """The default :class:`~gir.restore.pipeline.Pipeline` for these settings, built once."""
    key = (device, tile, overlap, half, impulse_repair, ensemble, scale, mode)
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(device=device, tile=tile, overlap=overlap, half=half,
                                   skip=None if impulse_repair else ["impulse"], ensemble=ensemble, scale=scale,
                                   mode=mode)
    return _PIPELINES[key]
