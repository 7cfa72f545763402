"""Content that looks like damage, painted into clean training images.

A blind network learns to undo whatever in its input looks like a degradation, so content that looks like
one must also appear in clean targets, or the network removes it from real photos:
- solid areas (letterbox and scan borders, black backgrounds, clipped highlights, graphics) look like the
  pure black or white lines of ``damage``: :func:`paint_flat_regions`;
- pale, low-contrast photos (overcast beaches, mist, faded prints) look like haze: :func:`veil`.
Both change the clean image before it is degraded, so the target keeps the content and the degraded input
carries it degraded.
"""
from __future__ import annotations

import numpy as np

MIN_SIDE = 16  # px: shapes stay wider than the widest scratch (``damage`` thickness range 5-10)
SHAPES = ("edge", "rectangle", "ellipse")
VEIL_STRENGTH = (0.05, 0.2)  # a stronger veil (up to 0.45) made a net stop dehazing (benchmarks/RESULTS.md)


def flat_color(rng: np.random.Generator) -> np.ndarray:
    """A uint8 RGB colour: near-black (0-4) half the time, near-white (251-255) 15%, any grey or colour
    otherwise."""
    u = rng.random()
    if u < 0.5:
        return np.full(3, rng.integers(0, 5), np.uint8)
    if u < 0.65:
        return np.full(3, rng.integers(251, 256), np.uint8)
    return rng.integers(0, 256, 3).astype(np.uint8)


def shape_mask(kind: str, h: int, w: int, margin: int, rng: np.random.Generator) -> np.ndarray:
    """HxW bool mask of one shape. ``edge``: a band from one side of the region through ``margin`` px
    (the context margin around the training patch) and 1-32 px into the patch, as a frame border is seen from
    a tile at the photo's edge; ``rectangle`` / ``ellipse``: axis-aligned, sides ``MIN_SIDE`` (or half the
    shorter side of a smaller region) to half the shorter side, anywhere."""
    mask = np.zeros((h, w), bool)
    if kind == "edge":
        side, depth = int(rng.integers(4)), margin + int(rng.integers(1, 33))
        band = (mask[:depth], mask[-depth:], mask[:, :depth], mask[:, -depth:])[side]
        band[...] = True
        return mask
    top = max(1, min(h, w) // 2)
    sh, sw = (int(rng.integers(min(MIN_SIDE, top), top + 1)) for _ in range(2))
    y, x = int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1))
    if kind == "rectangle":
        mask[y:y + sh, x:x + sw] = True
        return mask
    yy, xx = np.ogrid[:sh, :sw]
    mask[y:y + sh, x:x + sw] = ((yy + 0.5 - sh / 2) / (sh / 2)) ** 2 + ((xx + 0.5 - sw / 2) / (sw / 2)) ** 2 <= 1
    return mask


def paint_flat_regions(img: np.ndarray, rng: np.random.Generator, margin: int = 0,
                       max_shapes: int = 3) -> np.ndarray:
    """A copy of uint8 HxWx3 ``img`` with 1 to ``max_shapes`` solid shapes (:data:`SHAPES`, each a
    :func:`flat_color`) painted over it; ``margin``: the context margin of a training region (see
    :func:`shape_mask`)."""
    out = np.array(img, copy=True)
    h, w = out.shape[:2]
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        kind = SHAPES[int(rng.integers(len(SHAPES)))]
        out[shape_mask(kind, h, w, margin, rng)] = flat_color(rng)
    return out


def veil(img: np.ndarray, rng: np.random.Generator,
         strength: tuple[float, float] = VEIL_STRENGTH) -> np.ndarray:
    """uint8 HxWx3 ``img`` under a uniform veil: ``(1 - a) * img + a * c`` with ``a`` uniform in ``strength``
    and ``c`` a light grey (0.6-1.0) tinted by up to +-0.05 per channel. Unlike ``haze`` the veil does not
    grow with scene depth, so the target is a pale photo, not a hazy one."""
    a = rng.uniform(*strength)
    c = np.clip(rng.uniform(0.6, 1.0) + rng.uniform(-0.05, 0.05, 3), 0.0, 1.0) * 255.0
    return np.round((1.0 - a) * img.astype(np.float32) + a * c.astype(np.float32)).astype(np.uint8)
