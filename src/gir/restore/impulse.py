"""Impulse (salt-and-pepper) pixel repair, run before the network by ``gir restore``.

Fixed-valued impulse noise (dead or stuck sensor pixels, transmission errors, the library's
``salt_pepper``) sets single samples to the extremes of the range. A median filter removes it but blurs
the whole image; a *switching* filter replaces only the samples it flags and leaves the rest untouched,
like a camera's defective-pixel correction. The shipped network alone restores the quality benchmark's
salt and pepper to 26.4 dB, below a 3x3 median filter (29.2 dB; benchmarks/RESULTS.md), so
:class:`~gir.restore.engine.Restorer` runs :func:`repair_impulses` first (38.1 dB with the network after
it). It returns the image unchanged unless the image shows impulse noise.

Detection works per sample (one channel of one pixel), so noise that hits channels independently and
noise that hits whole pixels are both found. An *isolated outlier* differs from its channel's 3x3 median
by more than :data:`OUTLIER`. Impulse noise makes outliers sit exactly at 0 or 1; clipped Gaussian or
camera noise and natural detail make outliers at every value. The image counts as impulsive when isolated
extremes of both signs each make up at least :data:`MIN_FRACTION` of the samples and outnumber the other
outliers :data:`MIN_RATIO` to 1. Measured by ``benchmarks/impulse_repair.py`` on ``../shared/data``: the
682 clean photos and 64 real degraded photos reach a ratio of at most 0.52, Gaussian noise (sigma 30-50)
at most 0.25, and none of them switches the repair on; salt and pepper at density 0.05 switches it on for
88 of 92 photos (the rest, dense texture, are left to the network).

Work is done in bands of rows so that a 24-megapixel photo needs only a few band-sized temporaries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

OUTLIER = 0.25        # |sample - 3x3 median| above this is an isolated outlier (detection)
REPAIR_OUTLIER = 0.05  # in an impulsive image, an extreme sample this far from its median is repaired
EXTREME = 0.5 / 255   # within this of 0 or 1 counts as an extreme value (exact for 8- and 16-bit files)
MIN_FRACTION = 2.5e-4
MIN_RATIO = 3.0
FILL_WINDOWS = (3, 5, 7, 9)  # repaired samples take the mean of the unflagged samples in the smallest of
BAND_ROWS = 512              # these windows that has any; a 9x9 window needs 4 rows (+1 for the median)
HALO = max(FILL_WINDOWS) // 2 + 1


@dataclass(frozen=True)
class ImpulseStats:
    """Fractions of all samples (H x W x C) that are isolated extremes (salt: 1, pepper: 0) and other
    isolated outliers."""
    salt: float
    pepper: float
    other: float

    @property
    def ratio(self) -> float:
        """Isolated extremes per other isolated outlier (fewer than one in a million samples counts as one)."""
        return (self.salt + self.pepper) / max(self.other, 1e-6)

    @property
    def impulsive(self) -> bool:
        """The gate of :func:`repair_impulses` (see the module docstring)."""
        return min(self.salt, self.pepper) >= MIN_FRACTION and self.ratio >= MIN_RATIO


def _bands(height: int) -> Iterator[tuple[int, int, int, int]]:
    """(y0, y1, a0, a1): rows [y0, y1) to compute, read from rows [a0, a1) that add a halo around them."""
    for y0 in range(0, height, BAND_ROWS):
        y1 = min(height, y0 + BAND_ROWS)
        yield y0, y1, max(0, y0 - HALO), min(height, y1 + HALO)


def _median3(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.medianBlur(np.ascontiguousarray(rgb, dtype=np.float32), 3).reshape(rgb.shape)


def impulse_stats(rgb: np.ndarray) -> ImpulseStats:
    """Isolated-outlier fractions of a float32 HxWxC image in [0, 1] (C = 3 or 1)."""
    counts = np.zeros(3, dtype=np.int64)
    for y0, y1, a0, a1 in _bands(rgb.shape[0]):
        inner = rgb[y0:y1]
        dev = inner - _median3(rgb[a0:a1])[y0 - a0:y1 - a0]
        salt = (inner >= 1.0 - EXTREME) & (dev > OUTLIER)
        pepper = (inner <= EXTREME) & (dev < -OUTLIER)
        other = (np.abs(dev) > OUTLIER) & ~salt & ~pepper
        counts += [salt.sum(), pepper.sum(), other.sum()]
    n = max(1, rgb.size)
    return ImpulseStats(*(float(c) / n for c in counts))


def _repair_band(band: np.ndarray) -> np.ndarray:
    """The band with its flagged extremes replaced by the mean of nearby unflagged samples."""
    import cv2

    med = _median3(band)
    flagged = ((band >= 1.0 - EXTREME) | (band <= EXTREME)) & (np.abs(band - med) > REPAIR_OUTLIER)
    keep = (~flagged).astype(np.float32)
    kept = band * keep
    out = band.copy()
    left = flagged
    for k in FILL_WINDOWS:
        total = cv2.boxFilter(kept, -1, (k, k), normalize=False).reshape(band.shape)  # cv2 drops a lone
        count = cv2.boxFilter(keep, -1, (k, k), normalize=False).reshape(band.shape)  # channel's axis
        fill = left & (count > 0.5)
        out[fill] = total[fill] / count[fill]
        left = left & ~fill
        if not left.any():
            break
    out[left] = med[left]  # a 9x9 window of impulses only: the median is all there is
    return out


def repair_impulses(rgb: np.ndarray) -> tuple[np.ndarray, ImpulseStats]:
    """Float32 HxWxC in [0, 1] -> (image, stats). When the image is impulsive (see the module docstring)
    the image is a repaired copy; otherwise it is ``rgb`` itself, untouched."""
    stats = impulse_stats(rgb)
    if not stats.impulsive:
        return rgb, stats
    out = np.empty_like(rgb)
    for y0, y1, a0, a1 in _bands(rgb.shape[0]):
        out[y0:y1] = _repair_band(rgb[a0:a1])[y0 - a0:y1 - a0]
    return out, stats
