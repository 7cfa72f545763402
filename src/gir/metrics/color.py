"""Colour conversions used by the metrics."""
from __future__ import annotations

import numpy as np

# MATLAB rgb2ycbcr (ITU-R BT.601, "studio swing"): Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in
# [0, 1], Y on the 0-255 scale in [16, 235].
Y_OFFSET = 16.0
Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image, as MATLAB's ``rgb2ycbcr`` computes it, returned on the [0, 1] scale.

    img: float HxWx3 RGB in [0, 1] (HxW or HxWx1 gray is taken as R = G = B).
    Returns float64 HxW equal to (16 + 65.481 R + 128.553 G + 24.966 B) / 255, i.e. in [16/255, 235/255]
    (black -> 16/255, white -> 235/255). Kept on the [0, 1] scale like every other image in gir; multiply by
    255 for MATLAB's values. Not rounded (MATLAB rounds only for uint8 input).
    """
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return (Y_OFFSET + Y_WEIGHTS.sum() * arr) / 255.0
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects HxWx3 RGB or HxW gray, got shape {arr.shape}")
    return (Y_OFFSET + arr @ Y_WEIGHTS) / 255.0
