"""MATLAB's ``imresize(img, scale)`` with its default bicubic kernel, the resize the super-resolution
literature makes its low-resolution files with (Set5 / Set14 / BSD100 / Urban100 LR sets, the bicubic
baseline's numbers).

The rule, per axis (both axes use the same scale):

* output length ``ceil(n * scale)``; output sample ``x`` (1-based) sits at input position
  ``u = x / scale + (1 - 1 / scale) / 2``;
* cubic kernel with a = -0.5; when shrinking (scale < 1) the kernel is stretched by ``1 / scale`` and scaled
  by ``scale`` (antialiasing), so it covers ``4 / scale`` input samples;
* the ``ceil(width) + 2`` taps from ``floor(u - width / 2)`` are weighted, the weights normalised to sum 1,
  and inputs outside the axis are read from its symmetric (edge-repeating) mirror.

The resize is linear and separable, so each axis is one ``n_out x n_in`` matrix of a few taps per row
(sparse for whole images, :func:`imresize`; dense for torch batches, :func:`imresize_torch`): both come from
the same taps. Computed in float64 and left
unrounded; callers that want MATLAB's uint8 files clip and round (:func:`gir.data.patches.quantize`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``bicubic``)."""
    t = np.abs(x)
    return np.where(t <= 1, 1.5 * t ** 3 - 2.5 * t ** 2 + 1,
                    np.where(t <= 2, -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2, 0.0))


def output_length(n: int, scale: float) -> int:
    """MATLAB's output length along an axis of ``n`` samples: ceil(n * scale)."""
    return int(math.ceil(n * scale - 1e-9))


@lru_cache(maxsize=16)
def _taps(n_in: int, scale: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """(source index, weight) of every tap, each ``n_out x taps`` (read-only; see the module docstring)."""
    if n_in < 1 or not scale > 0:
        raise ValueError(f"resize needs a non-empty axis and a positive scale, got {n_in} samples, scale {scale}")
    n_out = output_length(n_in, scale)
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions
    d = u[:, None] - idx
    w = scale * cubic(scale * d) if shrink else cubic(d)
    w /= w.sum(1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric border, 0-based
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    src.setflags(write=False)
    w.setflags(write=False)
    return src, w


def _sparse(n_in: int, scale: float, antialias: bool, dtype):
    """The resize of one axis as a ``scipy.sparse`` CSR matrix (``n_out x n_in``, a few taps per row)."""
    from scipy import sparse

    src, w = _taps(n_in, float(scale), bool(antialias))
    n_out, taps = src.shape
    rows = np.repeat(np.arange(n_out), taps)
    return sparse.csr_matrix((w.ravel().astype(dtype), (rows, src.ravel())), shape=(n_out, n_in))


def resize_matrix(n_in: int, scale: float, antialias: bool = True) -> np.ndarray:
    """float64 ``ceil(n_in * scale) x n_in`` dense matrix M: resized axis = M @ axis (see the module
    docstring). For small axes (training patches, tests); whole images go through :func:`imresize`."""
    return _sparse(n_in, scale, antialias, np.float64).toarray()


def imresize(img: np.ndarray, scale: float, antialias: bool = True, dtype=np.float64) -> np.ndarray:
    """MATLAB ``imresize(img, scale)`` (bicubic) of a float HxW or HxWxC array: ceil(H * scale) x
    ceil(W * scale) of ``dtype`` (float64 by default; float32 halves the memory of big images), unclipped and
    unrounded. One channel at a time through sparse per-axis matrices: beside the output, the working memory
    is one channel of the input and of the half-resized image."""
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"imresize expects HxW or HxWxC, got shape {a.shape}")
    rows = _sparse(a.shape[0], float(scale), antialias, dtype)
    cols = _sparse(a.shape[1], float(scale), antialias, dtype)
    planes = a[..., None] if a.ndim == 2 else a
    out = np.empty((rows.shape[0], cols.shape[0], planes.shape[2]), dtype=dtype)
    for c in range(planes.shape[2]):
        half = rows @ np.ascontiguousarray(planes[..., c], dtype=dtype)  # H' x W
        out[..., c] = (cols @ half.T).T
    return out[..., 0] if a.ndim == 2 else out


def imresize_torch(x, scale: float, antialias: bool = True):
    """:func:`imresize` of a torch batch B x C x H x W (any float dtype; computed in float32)."""
    import torch

    h, w = x.shape[-2:]
    rows = torch.from_numpy(np.asarray(resize_matrix(h, float(scale), antialias), dtype=np.float32)).to(x.device)
    cols = torch.from_numpy(np.asarray(resize_matrix(w, float(scale), antialias), dtype=np.float32)).to(x.device)
    return torch.einsum("ph,bchw,qw->bcpq", rows, x.float(), cols)
