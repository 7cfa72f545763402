"""Patch geometry: random and centre crops, flips / 90-degree rotations, 8-bit quantisation, HWC -> CHW, and
an image shrunk to a longest side (:func:`fit_side`).

Functions taking a list of arrays apply the same window / transform to each (LQ and GT of a pair, an image
and its depth map); arrays share their first two dimensions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def fit_side(img: np.ndarray, max_side: int | None) -> np.ndarray:
    """``img`` downscaled (area) so that max(H, W) <= ``max_side``; unchanged when already small or 0/None."""
    import cv2

    h, w = img.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.clip(cv2.resize(img, size, interpolation=cv2.INTER_AREA), 0, 1).astype(np.float32)


def pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad (bottom/right) so both sides are at least ``size``; edge-pad a side of length 1."""
    h, w = img.shape[:2]
    ph, pw = max(0, size - h), max(0, size - w)
    if not ph and not pw:
        return img
    widths = [(0, ph), (0, pw)] + [(0, 0)] * (img.ndim - 2)
    mode = "reflect" if min(h, w) > 1 else "edge"  # numpy reflects repeatedly when the pad exceeds the side
    return np.pad(img, widths, mode=mode)


def random_crop(arrays: Sequence[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random ``size`` x ``size`` window of each array (padded first when smaller)."""
    arrays = [pad_to(a, size) for a in arrays]
    h, w = arrays[0].shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return [a[y:y + size, x:x + size] for a in arrays]


def centre_crop(img: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size`` x ``size`` window (each side capped at the image's); ``None`` returns ``img``."""
    if not size:
        return img
    h, w = img.shape[:2]
    ch, cw = min(size, h), min(size, w)
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y:y + ch, x:x + cw]


def random_flip_rot(arrays: Sequence[np.ndarray], rng: np.random.Generator, flip: bool = True,
                    rot90: bool = True) -> list[np.ndarray]:
    """One of the 8 dihedral transforms (or a subset), the same for every array.

    Always draws three values from ``rng`` so the stream does not depend on the switches.
    """
    hflip, vflip, turn = (bool(b) for b in rng.integers(0, 2, size=3))
    out = []
    for a in arrays:
        if flip and hflip:
            a = a[:, ::-1]
        if flip and vflip:
            a = a[::-1]
        if rot90 and turn:
            a = np.rot90(a, 1, axes=(0, 1))
        out.append(a)
    return out


def quantize(img: np.ndarray) -> np.ndarray:
    """Round float32 [0, 1] values to 8-bit levels, as an image saved to PNG would be."""
    return np.rint(img * 255.0).astype(np.float32) / np.float32(255.0)


def to_chw(img: np.ndarray) -> np.ndarray:
    """float32 HxWxC -> contiguous float32 CxHxW (the DataLoader's collate turns it into a tensor)."""
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] (a contiguous copy)."""
    return np.ascontiguousarray(img, dtype=np.float32) / np.float32(255.0)
