"""Noise must show where a photo is flat: a check of the analyzer's noise reading against the pixels.

Noise of any useful strength leaves every block of a photo with some spread: an 8x8 block of a flat area under
noise of std 3 (0-255) has a sample std of 3 +- 0.3, never under 1. A photo whose mid-tone blocks are
*exactly* flat in many places has no noise there, so a noise reading elsewhere is texture, not noise: the
analyzer network read 88% (sigma 15) on a drawn grid of 1-px lines over flat blue-grey, and the denoiser, kept
for it, left blotches in the flat cells (32.9 dB against the clean input). :func:`flat_share` counts such
blocks (two grids of blocks, offset by half a block, so that blocks a hard JPEG save reduced to their DC term
alone rarely count: a block across four of them is not flat); :func:`fuse_flatness` caps ``noise`` where the
share is :data:`FLAT_SHARE` or more.

Quantisation can flatten noise too: JPEG at quality 10 over noise of sigma 15 leaves 7-40% of the offset
blocks flat (scikit-image photos), while at quality 30 over sigma 25 none are. So the check is not applied
where the analysis reads JPEG below :data:`JPEG_FLATTENS_BELOW`. Blocks near black or white are left out
(clipping flattens noise). Measured on clean and noisy photos (``benchmarks/flat_noise.py``).
"""
from __future__ import annotations

import numpy as np

BLOCK = 8
FLAT_STD = 1.0 / 255  # a block is flat when no channel's std exceeds this (8-bit rounding leaves up to ~0.5)
MID_TONES = (8.0 / 255, 247.0 / 255)  # blocks whose mean is outside these are left out (clipped noise is flat)
FLAT_SHARE = 0.1
"""The share of mid-tone blocks that must be exactly flat before the noise reading is overruled. Clean
drawings and screenshots are far above it (a drawn grid 0.26, fine text 0.20, RealSRSet's ``ppt3`` and
``comic3`` 0.20-0.22); among the real noisy photos the most is RNI15's ``Audrey_Hepburn.jpg``, 0.05, and
among 520 noisy scikit-image photos that the analyzer reads as noisy, 0."""
JPEG_FLATTENS_BELOW = 40.0
NOISE_CAP = 0.2  # the noise probability where the flat blocks overrule it (below the verifier's ABSENT, 0.3)


def flat_share(rgb: np.ndarray, block: int = BLOCK) -> float:
    """The share of mid-tone ``block`` x ``block`` blocks of ``rgb`` (float HxWx3 in [0, 1]) whose std is at most
    :data:`FLAT_STD` in every channel, over two block grids (offsets 0 and ``block // 2``); 0.0 for an image
    with no mid-tone block."""
    a = np.asarray(rgb, np.float32)
    flat = total = 0
    for off in (0, block // 2):
        v = a[off:, off:]
        h, w = (v.shape[0] // block) * block, (v.shape[1] // block) * block
        if h == 0 or w == 0:
            continue
        b = v[:h, :w].reshape(h // block, block, w // block, block, -1).transpose(0, 2, 1, 3, 4)
        b = b.reshape(-1, block * block, b.shape[-1])
        mean = b.mean(axis=(1, 2))
        mid = (mean > MID_TONES[0]) & (mean < MID_TONES[1])
        total += int(mid.sum())
        flat += int((mid & (b.std(axis=1).max(axis=1) <= FLAT_STD)).sum())
    return flat / total if total else 0.0


def fuse_flatness(diag, share: float, threshold: float) -> None:
    """Overrule ``diag``'s noise reading (in place) where ``share`` (:func:`flat_share` of the photo) is at least
    :data:`FLAT_SHARE`: ``noise.p`` becomes at most :data:`NOISE_CAP`, and its source says why. Not applied
    where the diagnosis reads JPEG (p >= ``threshold``, the detection threshold) at a quality under
    :data:`JPEG_FLATTENS_BELOW`. From that share on, it is kept in the noise finding's strengths
    (``flat_share``), capped or not. The analyzer reads the share only where ``noise.p`` is above the cap."""
    if share < FLAT_SHARE:
        return
    f = diag.findings["noise"]
    f.strength["flat_share"] = round(float(share), 4)
    jpeg = diag.findings["jpeg"]
    if f.p <= NOISE_CAP:
        return
    if jpeg.p >= threshold and jpeg.strength.get("quality", 100.0) < JPEG_FLATTENS_BELOW:
        return
    f.p = NOISE_CAP
    f.source += f" (capped: {share:.0%} of the mid-tone blocks are exactly flat)"
