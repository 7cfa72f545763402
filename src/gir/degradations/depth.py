"""A fast, deterministic depth heuristic for the haze and snow veils (no network).

GIR (paper 000, A.2) estimates depth with a learned monocular model; this module replaces it with cues that
hold for typical outdoor photos:

* vertical prior: the top of the frame is usually farther away than the bottom (ground plane, sky);
* whiteness: sky and distant, already-hazy scenery are bright and desaturated, i.e. their darkest colour
  channel is high (the cue behind the dark-channel prior);
* flatness: distant regions show little local contrast.

The cues are computed on a downscaled copy (at most :data:`WORK_SIDE` pixels on the long side), blended,
smoothed with a wide Gaussian so the map follows regions rather than texture, upscaled back and normalised to
span [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 96
W_PRIOR, W_WHITE, W_FLAT = 0.5, 0.3, 0.2
CONTRAST_SCALE = 0.05  # local luminance std at which the flatness cue has dropped to 1/e


def estimate_depth(img: np.ndarray) -> np.ndarray:
    """Relative depth of float32 HxWx3 RGB ``img`` in [0, 1]: an HxW float32 map in [0, 1], 1 = far.

    Deterministic; any size down to 1x1 (a map without variation comes out as a constant 0.5).
    """
    h, w = img.shape[:2]
    small = _downscale(np.asarray(img, np.float32), WORK_SIDE)
    d = W_PRIOR * vertical_prior(small.shape[0], small.shape[1]) + W_WHITE * whiteness(small) \
        + W_FLAT * flatness(small)
    sigma = max(small.shape[:2]) / 12
    if sigma >= 0.5:
        d = cv2.GaussianBlur(d, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    if d.shape != (h, w):
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w)
    return _normalise(d)


def vertical_prior(h: int, w: int) -> np.ndarray:
    """HxW map going linearly from 1 (top row) to 0 (bottom row); 0.5 for a single row."""
    col = np.full(h, 0.5, np.float32) if h == 1 else np.linspace(1.0, 0.0, h, dtype=np.float32)
    return np.repeat(col[:, None], w, axis=1)


def whiteness(img: np.ndarray) -> np.ndarray:
    """Darkest channel per pixel: high only where a pixel is both bright and desaturated."""
    return img.min(axis=2)


def flatness(img: np.ndarray) -> np.ndarray:
    """exp(-local std / CONTRAST_SCALE) of the luminance in a 5x5 window: 1 on flat areas, ~0 on texture."""
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    mean = cv2.blur(lum, (5, 5), borderType=cv2.BORDER_REFLECT_101)
    sq = cv2.blur(lum * lum, (5, 5), borderType=cv2.BORDER_REFLECT_101)
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    return np.exp(-std / CONTRAST_SCALE).astype(np.float32)


def _downscale(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    f = side / max(h, w)
    if f >= 1.0:
        return img
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], img.shape[2])


def _normalise(d: np.ndarray) -> np.ndarray:
    lo, hi = float(d.min()), float(d.max())
    if hi - lo < 1e-6:
        return np.full(d.shape, 0.5, np.float32)
    return ((d - lo) / (hi - lo)).astype(np.float32)
