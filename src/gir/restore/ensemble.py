"""Geometric self-ensemble: the mean of a restoration over flips and transposes of the image, each undone."""
from __future__ import annotations

from typing import Callable

import numpy as np

from gir.errors import GirError

ENSEMBLES = (1, 2, 4, 8)
ENSEMBLE_PAD = 16  # JPEG's largest block (a 4:2:0 MCU): flips of a padded image keep the grid
AUTO_PIXELS = 1_000_000  # "auto": the passes of an image together cover at most this many pixels ...
AUTO_MAX_PASSES = 4  # ... and at most 4 (x8 added 0.04 dB over x4 on noise sigma 25 for twice the time)


def parse_ensemble(value) -> int | str:
    """``"auto"`` or one of :data:`ENSEMBLES` (int or text) -> "auto" or the int; else a :class:`GirError`."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n not in ENSEMBLES:
        raise GirError(f"ensemble must be auto or one of {', '.join(map(str, ENSEMBLES))}, got {value!r}")
    return n


def auto_passes(pixels: int) -> int:
    """The most passes in :data:`ENSEMBLES` (at most :data:`AUTO_MAX_PASSES`) whose pixels together stay within
    :data:`AUTO_PIXELS`: a photo costs at most one pass over a 1 MP photo (1 for 1 MP and more)."""
    fits = [n for n in ENSEMBLES if n <= AUTO_MAX_PASSES and n * pixels <= AUTO_PIXELS]
    return max(fits, default=1)


def _geometric(x: np.ndarray, k: int, inverse: bool = False) -> np.ndarray:
    """Transform ``k`` of the eight flips and transposes (bit 0: left-right, 1: upside-down, 2: transpose), or
    its inverse."""
    ops = [(1, lambda a: a[:, ::-1]), (2, lambda a: a[::-1]), (4, lambda a: a.transpose(1, 0, 2))]
    for bit, op in (reversed(ops) if inverse else ops):
        if k & bit:
            x = op(x)
    return x


def self_ensemble(rgb: np.ndarray, restore: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """The mean of ``restore`` over the first ``n`` geometric transforms of ``rgb`` (float32 HxWx3), each
    transformed back; ``rgb`` is padded (edge) to a multiple of :data:`ENSEMBLE_PAD` first, and cropped back
    (an upscaling ``restore`` returns s times the size: the crop is s times too)."""
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, -h % ENSEMBLE_PAD), (0, -w % ENSEMBLE_PAD), (0, 0)), mode="edge")
    total = None
    for k in range(n):
        one = _geometric(restore(np.ascontiguousarray(_geometric(padded, k))), k, inverse=True)
        if total is None:
            total = one.astype(np.float32, copy=True)
        else:
            total += one
    total *= np.float32(1.0 / n)
    s = total.shape[0] // padded.shape[0]
    return np.ascontiguousarray(total[:h * s, :w * s])
