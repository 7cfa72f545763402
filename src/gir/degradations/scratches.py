"""Scratches, cracks and dust with the mask of what they cover: the training data of the scratch detector
(:mod:`gir.analysis.scratches`) and the held-out probes of the inpainting expert.

The library's ``damage`` op (:func:`gir.degradations.ops_gir.damage`) draws straight white or black lines
5-10 px wide, the inpainting task of paper 000. Scanned old photos show something else: thin (1-4 px)
jagged cracks that branch, in paper white or cream, and dust specks, often on a sepia or grey print that was
then scanned (soft, grainy, JPEG-compressed). :func:`synthesize_scratches` draws a mixture of both kinds,
with that acquisition after them, and returns the coverage so that a network can learn *where* (not only
whether) a photo is damaged.

Everything draws from the ``numpy.random.Generator`` it is given: the same seed gives the same bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from gir.degradations.ops_gir import line_mask, scratch_lines

Image = np.ndarray


@dataclass(frozen=True)
class ScratchSample:
    """``image``: the damaged float32 HxWx3 photo in [0, 1]; ``mask``: float32 HxW in {0, 1}, the pixels the
    damage changed by at least ``COVERED`` of its full strength after the acquisition blurred it."""

    image: Image
    mask: np.ndarray


COVERED = 0.15  # coverage above which a pixel counts as damaged (a 15% blend with white is plainly visible)


def crack_mask(h: int, w: int, rng: np.random.Generator, steps: int, step: float, thickness: float,
               branch: float = 0.15, depth: int = 1) -> np.ndarray:
    """HxW coverage of one crack: a random walk of ``steps`` segments ``step`` px long from a uniform start,
    its direction drifting by N(0, 0.35 rad) per step; at each step, with probability ``branch``, a thinner
    side crack of a third of the remaining length leaves at an angle (``depth`` levels of branching)."""
    out = np.zeros((h, w), np.float32)
    _walk(out, rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * np.pi), steps, step, thickness,
          branch, depth)
    return out


def _walk(out: np.ndarray, rng: np.random.Generator, x: float, y: float, ang: float, steps: int, step: float,
          thickness: float, branch: float, depth: int) -> None:
    """Draw one crack from (x, y) heading ``ang`` into ``out`` (maximum of coverages), side cracks included."""
    h, w = out.shape
    for k in range(steps):
        ang += rng.normal(0.0, 0.35)
        nx, ny = x + step * np.cos(ang), y + step * np.sin(ang)
        np.maximum(out, line_mask(h, w, (x, y), (nx, ny), thickness), out=out)
        if depth > 0 and rng.random() < branch:
            side = ang + rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.2)
            _walk(out, rng, nx, ny, side, max(1, (steps - k) // 3), step, max(0.8, 0.6 * thickness), branch,
                  depth - 1)
        x, y = nx, ny


def _colour(rng: np.random.Generator, bright: float) -> np.ndarray:
    """An RGB damage colour: paper white to cream (probability ``bright``), else near black."""
    if rng.random() < bright:
        base = rng.uniform(0.78, 1.0)
        tint = np.array([1.0, rng.uniform(0.93, 1.0), rng.uniform(0.8, 1.0)])
        return np.clip(base * tint, 0, 1).astype(np.float32)
    return np.full(3, rng.uniform(0.0, 0.2), np.float32)


def _tone_old(img: Image, rng: np.random.Generator) -> Image:
    """A grey or sepia print of ``img`` (old photos are mostly monochrome)."""
    g = img @ np.array([0.299, 0.587, 0.114], np.float32)
    if rng.random() < 0.5:
        return np.repeat(g[..., None], 3, axis=2)
    tint = np.array([1.0, rng.uniform(0.85, 0.95), rng.uniform(0.65, 0.85)], np.float32)
    return np.clip(g[..., None] * tint + rng.uniform(0.0, 0.08), 0, 1).astype(np.float32)


def _gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """``a`` (HxW or HxWx3) blurred over its first two axes."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a, sigma=sigma, axes=(0, 1), mode="reflect").astype(np.float32)


def _jpeg(img: Image, quality: int) -> Image:
    """Pillow's JPEG round trip, 8-bit rounding by ``np.round``. Not the library's ``jpeg`` op (OpenCV, rounding
    by +0.5): the two differ on ties and in 2 of 40 samples here, and the shipped detector was trained on this
    one, so ``configs/experts/scratch_mask.yaml`` re-creates it only with this one."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(PILImage.open(buf).convert("RGB"), np.float32) / 255.0


def scratch_coverage(h: int, w: int, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """The damage of one photo as (coverage HxW, opacity) components, drawn from a mixture: the library's
    straight lines (count 1-10, 5-10 px, as the ``damage`` op), thin lines (1-4 px), cracks (1-3.5 px,
    branching) and dust specks (0.7-3 px radius); each kind present with its own probability."""
    parts: list[tuple[np.ndarray, float]] = []
    diag = float(np.hypot(h, w))
    if rng.random() < 0.35:  # the library's damage: straight lines 5-10 px, opaque
        count = int(rng.integers(1, 11))
        for x0, y0, x1, y1 in scratch_lines(h, w, rng, count):
            parts.append((line_mask(h, w, (x0, y0), (x1, y1), float(rng.integers(5, 11))), 1.0))
    if rng.random() < 0.35:  # thin straight scratches
        count = int(rng.integers(1, 6))
        for x0, y0, x1, y1 in scratch_lines(h, w, rng, count):
            parts.append((line_mask(h, w, (x0, y0), (x1, y1), rng.uniform(1.0, 4.0)), rng.uniform(0.5, 1.0)))
    if rng.random() < 0.6:  # cracks
        for _ in range(int(rng.integers(1, 7))):
            step = rng.uniform(3.0, 8.0)
            steps = int(rng.integers(4, max(5, int(0.8 * diag / step))))
            parts.append((crack_mask(h, w, rng, steps, step, rng.uniform(1.0, 3.5)), rng.uniform(0.6, 1.0)))
    if rng.random() < 0.4:  # dust
        for _ in range(int(rng.integers(1, 25))):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.7, 3.0)
            parts.append((line_mask(h, w, (x, y), (x, y), 2 * r), rng.uniform(0.6, 1.0)))
    return parts


def synthesize_scratches(img: Image, rng: np.random.Generator, damaged: float = 0.75) -> ScratchSample:
    """``img`` (float32 HxWx3 in [0, 1]) as a scanned damaged print, with its mask (see the module docstring).

    With probability 1 - ``damaged`` nothing is drawn (the mask is empty) but the rest happens, so that a
    detector learns that grain, blur and JPEG are not damage. Steps: a grey or sepia print (probability 0.4);
    the damage components blended in, each with its own colour and opacity; then the scan: Gaussian blur
    sigma 0.3-1.2 (0.3), Gaussian noise sigma 1-12/255 (0.5), JPEG quality 30-95 (0.5)."""
    h, w = img.shape[:2]
    out = np.ascontiguousarray(img, np.float32)
    if rng.random() < 0.4:
        out = _tone_old(out, rng)
    alpha = np.zeros((h, w), np.float32)
    if rng.random() < damaged:
        bright = rng.uniform(0.5, 1.0)
        for cover, opacity in scratch_coverage(h, w, rng):
            a = (cover * opacity)[..., None]
            out = out * (1 - a) + _colour(rng, bright) * a
            np.maximum(alpha, cover * opacity, out=alpha)
    if rng.random() < 0.3:
        s = rng.uniform(0.3, 1.2)
        out, alpha = _gaussian(out, s), _gaussian(alpha, s)
    if rng.random() < 0.5:
        out = out + rng.normal(0.0, rng.uniform(1.0, 12.0) / 255.0, out.shape).astype(np.float32)
    out = np.clip(out, 0, 1)
    if rng.random() < 0.5:
        out = _jpeg(out, int(rng.integers(30, 96)))
    return ScratchSample(out.astype(np.float32), (alpha >= COVERED).astype(np.float32))


@dataclass(frozen=True)
class FillSample:
    """``image``: the damaged float32 HxWx3 photo; ``target``: the same photo through the same steps without
    the damage; ``mask``: bool HxW, where the two differ visibly (the pixels a fill must replace)."""

    image: Image
    target: Image
    mask: np.ndarray


AFTER_OPS = ("blur", "resize", "ringing", "rl_artifact", "jpeg", "noise")
"""The library's ops that may follow the damage in a training pair of the fill network (as in the GIR suite's
chains, where scratches are blurred, resampled, ringed or compressed before anything restores them)."""
# the ops that may soften the photo before the damage is drawn over it (GIR suite chains ending in damage:
# noise is left out, since the pipeline denoises before it fills)
BEFORE_OPS = ("blur", "resize", "ringing", "rl_artifact", "jpeg")
VISIBLE = 0.05  # |damaged - undamaged| (any channel) from which a pixel counts as covered after those ops


def _library_ops(images: tuple[np.ndarray, ...], names: tuple[str, ...], rng: np.random.Generator, most: int
                 ) -> tuple[np.ndarray, ...]:
    """``images`` each through the same one to ``most`` ops drawn from ``names`` with random parameters, every
    op applied to each image with a generator of the same seed (same noise, same kernels)."""
    from gir.degradations.base import OPS

    for name in rng.choice(names, size=int(rng.integers(1, most + 1)), replace=False):
        spec = OPS.get(str(name))
        params = spec.sample_params(rng)
        seed = int(rng.integers(0, 2**62))
        images = tuple(spec.apply(im, np.random.default_rng(seed), params) for im in images)
    return images


def synthesize_fill_pair(img: Image, rng: np.random.Generator, after: float = 0.6, before: float = 0.0
                         ) -> FillSample:
    """A training pair for the fill network (:mod:`gir.training.inpaint`): with probability ``before``, one
    or two of :data:`BEFORE_OPS` with random parameters degrade ``img`` (float32 HxWx3 in [0, 1]) first (the
    target keeps them: the fill repairs the damage, later steps the rest); then damage from
    :func:`scratch_coverage` (at least one component) blended over it; then, with probability ``after``, one to
    three of :data:`AFTER_OPS`, applied alike to the damaged and the undamaged photo. The mask is where the two
    end up differing by at least :data:`VISIBLE`. ``before=0`` draws nothing for it (the pairs of earlier
    configs, byte for byte)."""
    h, w = img.shape[:2]
    clean = np.ascontiguousarray(img, np.float32)
    if before > 0 and rng.random() < before:
        (clean,) = _library_ops((clean,), BEFORE_OPS, rng, 2)
        clean = np.clip(clean, 0, 1).astype(np.float32)
    parts: list[tuple[np.ndarray, float]] = []
    while not parts:
        parts = scratch_coverage(h, w, rng)
    bright = rng.uniform(0.5, 1.0)
    damaged = clean
    for cover, opacity in parts:
        a = (cover * opacity)[..., None]
        damaged = damaged * (1 - a) + _colour(rng, bright) * a
    damaged = np.clip(damaged, 0, 1).astype(np.float32)
    if rng.random() < after:
        damaged, clean = _library_ops((damaged, clean), AFTER_OPS, rng, 3)
    mask = np.abs(damaged - clean).max(axis=2) >= VISIBLE
    return FillSample(damaged, clean, mask)
