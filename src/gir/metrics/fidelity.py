"""Full-reference fidelity metrics: PSNR and SSIM, with the conventions of the restoration literature.

Conventions (shared by :func:`psnr` and :func:`ssim`):

- Inputs: float arrays in [0, 1], HxWx3 RGB or HxW (HxWx1) gray, ``img`` and ``ref`` of the same shape.
  Integer arrays are refused (convert to float in [0, 1] first). Values are used as given: no clipping and
  no quantisation to 8 bits.
- Everything is computed in float64 on the 0-255 scale (x * 255), so the peak value / dynamic range L is 255.
- ``crop_border=b`` removes b pixels from each of the four edges of both images first (the usual
  "shave scale pixels" of super-resolution benchmarks).
- ``y_channel=True`` compares only the BT.601 luma Y = 16 + 65.481 R + 128.553 G + 24.966 B (MATLAB
  ``rgb2ycbcr``, range 16..235 on the 0-255 scale, not rounded); see :func:`gir.metrics.rgb_to_y`. The
  literature's scripts convert colour images only, so gray images (HxW or HxWx1, from one-channel files) are
  compared on their gray values as they are: Set14's bridge is such a file, and its published bicubic 30.24 dB
  at x2 is reproduced only this way (man, stored as RGB with equal channels, goes through Y).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from gir.metrics.color import rgb_to_y

PEAK = 255.0
SSIM_WIN = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def psnr(img: np.ndarray, ref: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(255^2 / MSE) on the 0-255 scale.

    The MSE is the mean over all pixels AND channels (one joint MSE for RGB, not the mean of per-channel
    PSNRs). Identical inputs (MSE = 0) give ``math.inf``. See the module doc for the input conventions,
    ``crop_border`` and ``y_channel``. Raises ValueError for mismatched shapes.
    """
    shape = np.shape(img)
    if not y_channel and len(shape) == 3 and shape[2] == 3 and np.prod(shape) > STRIP_PIXELS:
        mse = _strip_mse(img, ref, crop_border)  # a big photo: the same MSE without float64 copies of it
    else:
        a, b = _prepare(img, ref, crop_border, y_channel, min_size=1)
        mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK * PEAK / mse)


STRIP_PIXELS = 3 << 20  # above this many samples, psnr works in strips of rows


def mean_square(a: np.ndarray, b: np.ndarray, rows: int = 256) -> float:
    """Mean of (a - b)^2 over every sample of two same-shape arrays, in float64, computed in strips of
    ``rows`` rows so that no full-size float64 copy is made (a 24 MP photo: 576 MB each)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    total = 0.0
    for r in range(0, a.shape[0], rows):
        d = a[r:r + rows].astype(np.float64) - b[r:r + rows]
        total += float(np.vdot(d, d))
    return total / max(1, a.size)


def _strip_mse(img, ref, crop_border: int) -> float:
    """:func:`psnr`'s MSE (0-255 scale) of big RGB float images without y_channel, checked as
    :func:`_prepare` checks them."""
    _prepare(img[:1], ref[:1], 0, False, min_size=1)  # dtype and shape checks on one row
    a, b = np.asarray(img), np.asarray(ref)
    if a.shape != b.shape:
        raise ValueError(f"img and ref must have the same shape, got img {a.shape} and ref {b.shape}")
    c = int(crop_border)
    if c < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border!r}")
    if c:
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    return mean_square(a, b) * PEAK * PEAK


def ssim(img: np.ndarray, ref: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) with MATLAB ``ssim_index`` conventions.

    Local statistics use an 11x11 Gaussian window (sigma 1.5, normalised to sum 1); K1 = 0.01, K2 = 0.03,
    L = 255, so C1 = (K1 L)^2 and C2 = (K2 L)^2; variances are the biased (population) ones. The SSIM map is
    computed only where the window fits inside the image ('valid', no padding: the map is (H-10)x(W-10)) and
    averaged. RGB: the mean of the three per-channel SSIMs. No automatic downsampling. Both images must be at
    least 11x11 after ``crop_border``. See the module doc for the input conventions.
    Raises ValueError for mismatched shapes or images that are too small.
    """
    a, b = _prepare(img, ref, crop_border, y_channel, min_size=SSIM_WIN)
    if a.ndim == 2:
        return _ssim_channel(a, b)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])]))


def gaussian_window(size: int = SSIM_WIN, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """1-D Gaussian taps exp(-x^2 / (2 sigma^2)), x = -(size-1)/2 .. (size-1)/2, summing to 1 (float64).

    The outer product with itself is MATLAB's ``fspecial('gaussian', size, sigma)``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    c1 = (SSIM_K1 * PEAK) ** 2
    c2 = (SSIM_K2 * PEAK) ** 2
    mu_x, mu_y = _local_mean(x), _local_mean(y)
    var_x = _local_mean(x * x) - mu_x * mu_x
    var_y = _local_mean(y * y) - mu_y * mu_y
    cov = _local_mean(x * y) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return float(np.mean(num / den))


def _local_mean(x: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local mean at the 'valid' positions: (H-10)x(W-10) for the 11x11 window."""
    g = gaussian_window()
    # Separable filtering; the border mode is irrelevant because the border rows/columns are cut off.
    full = cv2.sepFilter2D(np.ascontiguousarray(x), cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)
    r = SSIM_WIN // 2
    return full[r:-r, r:-r]


def _prepare(img, ref, crop_border: int, y_channel: bool, *, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate, convert to float64 on the 0-255 scale, optionally take Y, and crop the borders."""
    a, b = np.asarray(img), np.asarray(ref)
    if a.shape != b.shape:
        raise ValueError(f"img and ref must have the same shape, got img {a.shape} and ref {b.shape}")
    for name, arr in (("img", a), ("ref", b)):
        if arr.dtype.kind != "f":
            raise TypeError(f"{name} must be a float array in [0, 1], got dtype {arr.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[..., 0], b[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"expected HxWx3 RGB or HxW gray images, got shape {np.shape(img)}")
    crop = int(crop_border)
    if crop < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border!r}")
    if y_channel and a.ndim == 3:  # colour only: a gray image is its own luma
        a, b = rgb_to_y(a) * PEAK, rgb_to_y(b) * PEAK
    else:
        a, b = a.astype(np.float64) * PEAK, b.astype(np.float64) * PEAK
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    if a.shape[0] < min_size or a.shape[1] < min_size:
        raise ValueError(f"images of shape {np.shape(img)} with crop_border={crop} leave "
                         f"{a.shape[0]}x{a.shape[1]} pixels; at least {min_size}x{min_size} are needed")
    return a, b


def score_restored(out: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False
                   ) -> tuple[float, float]:
    """(PSNR, SSIM) of a restored image against its ground truth, scored as the saved image would be:
    clipped to [0, 1] and rounded to 8-bit levels first. The one scoring path of training validation,
    ``gir bench run`` and the benchmark scripts, so that they give the same model the same numbers."""
    saved = np.rint(np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.float32) / np.float32(255.0)
    kw = dict(crop_border=crop_border, y_channel=y_channel)
    return float(psnr(saved, gt, **kw)), float(ssim(saved, gt, **kw))
