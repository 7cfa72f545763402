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


STRUCTURES = ("stripes", "grid", "fence", "text", "lines")


def _structure_color(rng: np.random.Generator) -> tuple[int, int, int]:
    """Mostly near-white or near-black (paint, frames, blinds), sometimes any colour."""
    u = rng.random()
    if u < 0.4:
        return (int(rng.integers(225, 256)),) * 3
    if u < 0.75:
        return (int(rng.integers(0, 40)),) * 3
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _parallel_lines(canvas: np.ndarray, rng: np.random.Generator, angle: float, period: float, thick: int,
                    color) -> None:
    import cv2

    h, w = canvas.shape[:2]
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    reach = int(np.hypot(h, w))
    offset = rng.uniform(0, period)
    for k in np.arange(-reach - offset, reach, period):
        cx, cy = w / 2 + k * -s, h / 2 + k * c  # centre of the k-th line, stepping across it
        p0 = (int(round(cx - reach * c)), int(round(cy - reach * s)))
        p1 = (int(round(cx + reach * c)), int(round(cy + reach * s)))
        cv2.line(canvas, p0, p1, color, thick, cv2.LINE_AA)


def _draw_structure(canvas: np.ndarray, kind: str, rng: np.random.Generator) -> None:
    import cv2

    h, w = canvas.shape[:2]
    color = _structure_color(rng)
    axis = float(rng.choice([0.0, 90.0])) if rng.random() < 0.7 else float(rng.uniform(0, 180))
    if kind == "stripes":  # blinds, siding, corrugated roofs
        _parallel_lines(canvas, rng, axis, rng.uniform(4, 24), int(rng.integers(1, 7)), color)
    elif kind == "grid":  # window grids, mullions, tiles
        period = rng.uniform(8, 48)
        thick = int(rng.integers(1, 5))
        _parallel_lines(canvas, rng, axis, period, thick, color)
        _parallel_lines(canvas, rng, axis + 90, period * rng.uniform(0.5, 2.0), thick, color)
    elif kind == "fence":  # pickets with gaps, and one or two rails
        _parallel_lines(canvas, rng, axis, rng.uniform(10, 32), int(rng.integers(3, 12)), color)
        for _ in range(int(rng.integers(1, 3))):
            y = int(rng.integers(0, h))
            cv2.line(canvas, (0, y), (w, y), color, int(rng.integers(3, 9)), cv2.LINE_AA) if axis == 90.0 else \
                cv2.line(canvas, (y % w, 0), (y % w, h), color, int(rng.integers(3, 9)), cv2.LINE_AA)
    elif kind == "text":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-"
        scale = rng.uniform(0.3, 1.2)
        step = int(28 * scale) + 4
        for y in range(int(rng.integers(step // 2, step + 1)), h + step, step):
            line = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 40))
            cv2.putText(canvas, line, (int(rng.integers(-20, 5)), y), int(rng.integers(0, 8)), scale, color,
                        int(rng.integers(1, 3)), cv2.LINE_AA)
    else:  # line art: a few long thin polylines
        for _ in range(int(rng.integers(2, 8))):
            pts = rng.integers(-w // 4, max(w, h) * 5 // 4, (int(rng.integers(2, 6)), 2)).astype(np.int32)
            cv2.polylines(canvas, [pts], False, color, int(rng.integers(1, 4)), cv2.LINE_AA)


def paint_structure(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of uint8 HxWx3 ``img`` with thin regular structure drawn into a random rectangle covering 30-100%
    of it: one of :data:`STRUCTURES` (stripes as of blinds, a window grid, a fence, rows of text, line art),
    anti-aliased, in near-white, near-black or a random colour. Clean photos full of such structure must not
    be taken for scratched (``damage``), rainy or resized ones, so they appear in clean training samples and
    under every degradation."""
    out = np.array(img, copy=True)
    h, w = out.shape[:2]
    kind = STRUCTURES[int(rng.integers(len(STRUCTURES)))]
    canvas = out.copy()
    _draw_structure(canvas, kind, rng)
    rh, rw = (int(round(n * rng.uniform(0.3, 1.0))) for n in (h, w))
    y, x = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    out[y:y + rh, x:x + rw] = canvas[y:y + rh, x:x + rw]
    return out


def to_gray(img: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 ``img`` made grey: its Rec. 601 luma (OpenCV's RGB -> grey) in all three channels."""
    import cv2

    return cv2.cvtColor(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
