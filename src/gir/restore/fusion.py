"""Perceptual mode's fusion (issue 32, paper 003): a fidelity result and a perceptual one, joined by a map of
where the perceptual network's generated detail can be trusted.

The RAIM teams of paper 003 pair a network trained for fidelity with one trained adversarially, and keep the
adversarial one's detail only where it is reliable, because invented detail "in text, patterns and
architectural lines" is worse than none. Two things make detail unreliable here:

* **artifacts** (after DeSRA and LDL): the perceptual result differs from the fidelity one by more, locally,
  than the fidelity result's own texture can explain. The local std of the residual (perceptual minus
  fidelity luma, :data:`WINDOW`-px windows) divided by the local std of the fidelity luma; where that ratio
  passes :data:`ARTIFACT_RATIO` the residual is invented structure (texture on a flat sky, grain on skin);
* **structure**: strong, coherent edges in the fidelity result (text, thin lines, stripes, window grids:
  the structure tensor's coherence over its edge strength), any very strong edge (a letter's curves and
  corners, silhouettes, where GAN halos also sit), and two-tone windows (ink on paper, drawn graphics and
  regular patterns: most pixels near the window's darkest or brightest value, as natural texture's are not),
  where a changed stroke is a changed letter.

The trust map is ``(1 - artifact) * (1 - structure)``, widened and softened so that the seam does not show;
the fused image is ``fidelity + trust * (perceptual - fidelity)``. Trust below :data:`TRUST_FLOOR` counts as
0 and gives the fidelity pixels exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 7  # px: the windows of the local statistics (LDL's patch size)
ARTIFACT_RATIO = (0.35, 0.7)  # residual std / fidelity std: trusted below the first, not above the second
FLAT_STD = 2.0 / 255.0  # texture floor: below this local std a region is flat, whatever the ratio says
EDGE = (0.06, 0.14)  # structure-tensor edge strength (luma per px): weak below, a drawn line above
COHERENCE = (0.4, 0.75)  # structure-tensor coherence: texture below, a line or stroke above
STRONG = (0.1, 0.2)  # edge strength that counts as structure whatever its coherence (letters' curves, corners)
TWO_TONE = (0.45, 0.6)  # share of a window's pixels near its darkest or brightest: texture below, ink above
TONE_RANGE = (0.15, 0.3)  # a window's luma range (max - min) from which two tones count as drawn
TONE_WINDOW = 9  # px
GROW = 2  # px the untrusted regions grow by before the map is softened
STROKE = 3  # px the structure map grows by first: a letter's or line's inside lies within this of its edges
TRUST_FLOOR = 0.1  # trust below this is none: the fidelity pixels exactly (the dot of an i, a faint stroke end)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Fusion:
    """The fused image, the trust map (HxW in [0, 1], 1 = the perceptual pixel) and the mean trust."""

    image: np.ndarray
    trust: np.ndarray

    @property
    def mean_trust(self) -> float:
        return float(self.trust.mean())


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, smoothstep between."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _local_std(a: np.ndarray, size: int = WINDOW) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    m = uniform_filter(a, size, mode="reflect")
    return np.sqrt(np.maximum(uniform_filter(a * a, size, mode="reflect") - m * m, 0.0))


def artifact_map(fidelity: np.ndarray, perceptual: np.ndarray) -> np.ndarray:
    """HxW in [0, 1]: 1 where the perceptual result's departure from the fidelity one is more than the local
    texture explains (see the module docstring)."""
    f = fidelity.astype(np.float32) @ _LUMA
    r = perceptual.astype(np.float32) @ _LUMA - f
    ratio = _local_std(r) / np.maximum(_local_std(f), FLAT_STD)
    return _ramp(ratio, *ARTIFACT_RATIO).astype(np.float32)


def structure_map(fidelity: np.ndarray) -> np.ndarray:
    """HxW in [0, 1]: 1 on strong coherent edges of ``fidelity`` (text, thin lines, regular patterns)."""
    from scipy.ndimage import gaussian_filter, sobel

    f = fidelity.astype(np.float32) @ _LUMA
    gx, gy = sobel(f, axis=1) / 8.0, sobel(f, axis=0) / 8.0
    jxx, jyy, jxy = (gaussian_filter(a, 1.5) for a in (gx * gx, gy * gy, gx * gy))
    root = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy * jxy)
    l1, l2 = 0.5 * (jxx + jyy + root), 0.5 * (jxx + jyy - root)
    coherence = (root / np.maximum(l1 + l2, 1e-8)) ** 2
    edge = np.sqrt(np.maximum(l1, 0.0))
    lines = np.maximum(_ramp(edge, *EDGE) * _ramp(coherence, *COHERENCE), _ramp(edge, *STRONG))
    return np.maximum(lines, _two_tone(f)).astype(np.float32)


def _two_tone(f: np.ndarray) -> np.ndarray:
    """HxW in [0, 1]: 1 where a :data:`TONE_WINDOW` window of luma ``f`` is drawn in two tones (text, graphics)."""
    from scipy.ndimage import maximum_filter, minimum_filter, uniform_filter

    lo, hi = minimum_filter(f, TONE_WINDOW), maximum_filter(f, TONE_WINDOW)
    span = hi - lo
    near = ((f - lo) < 0.25 * span) | ((hi - f) < 0.25 * span)
    share = uniform_filter(near.astype(np.float32), TONE_WINDOW)
    return _ramp(span, *TONE_RANGE) * _ramp(share, *TWO_TONE)


def trust_map(fidelity: np.ndarray, perceptual: np.ndarray) -> np.ndarray:
    """HxW in [0, 1]: where the perceptual pixels are kept (1) or the fidelity ones (0)."""
    from scipy.ndimage import gaussian_filter, maximum_filter

    structure = maximum_filter(structure_map(fidelity), 2 * STROKE + 1, mode="nearest")
    bad = np.maximum(artifact_map(fidelity, perceptual), structure)
    bad = maximum_filter(bad, 2 * GROW + 1, mode="nearest")
    bad = np.maximum(bad, gaussian_filter(bad, GROW))  # soften outwards, never below the grown map
    trust = np.clip(1.0 - bad, 0.0, 1.0)
    return np.where(trust < TRUST_FLOOR, 0.0, trust).astype(np.float32)


def fuse(fidelity: np.ndarray, perceptual: np.ndarray) -> Fusion:
    """Join the two results (float32 HxWx3 in [0, 1], same shape) by :func:`trust_map`."""
    if fidelity.shape != perceptual.shape:
        raise ValueError(f"fuse: shapes differ, {fidelity.shape} against {perceptual.shape}")
    trust = trust_map(fidelity, perceptual)
    out = fidelity + trust[..., None] * (perceptual.astype(np.float32) - fidelity)
    out = np.where(trust[..., None] > 0, out, fidelity)  # trust 0 (below TRUST_FLOOR): the fidelity pixels
    return Fusion(np.clip(out, 0.0, 1.0).astype(np.float32), trust)


def trust_thumbnail(trust: np.ndarray, side: int = 256) -> np.ndarray:
    """The trust map as a small uint8 HxWx3 image for ``--explain`` / ``--json`` (white = perceptual detail
    kept, black = the fidelity result), long side at most ``side`` px."""
    import cv2

    h, w = trust.shape
    k = min(1.0, side / max(h, w))
    small = cv2.resize(trust, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA) if k < 1 else trust
    u8 = np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)
    return np.repeat(u8[..., None], 3, axis=2)
