"""Where a photo is scratched, cracked or dusty: a per-pixel mask from the shipped detector
``gir-scratch-mask`` (a ``mask_unet``, :mod:`gir.models.masknet`, trained by ``configs/experts/scratch_mask.yaml``
on :mod:`gir.degradations.scratches`).

:func:`detect` gives the probability map and the mask; :func:`fuse_scratches` puts it into a
:class:`gir.analysis.analyze.Diagnosis`: the ``damage`` finding gets the mask, its covered ``area`` (percent
of the photo) and a probability from the map (:func:`damage_probability`), the larger of that and the
analyzer network's own. The inpainting expert (:class:`gir.restore.experts.InpaintExpert`) fills the mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DETECTOR = "gir-scratch-mask"
THRESHOLD = 0.5  # a pixel with probability above this is damaged
TILE = 1024  # px: the detector runs on tiles this size (plus the margin) on larger photos
MARGIN = 96  # px of context each tile gets on every side (the dilated middle reaches further, but weakly:
# 96-px tiles with this margin moved no probability by more than 0.003 against one pass, tests/test_scratches.py)
# damage_probability: a logistic in log10(area %) with its midpoint at MID_AREA and this slope (the
# measurement is in the function's docstring).
MID_AREA = 0.2
SLOPE = 6.0
DILATE = 1  # px the mask grows by before inpainting (the anti-aliased rim of a scratch)


@dataclass(frozen=True)
class ScratchMap:
    """``prob``: float32 HxW in [0, 1]; ``mask``: bool HxW, prob > :data:`THRESHOLD` (scattered single pixels
    removed); ``area``: the mask's share of the photo in percent."""

    prob: np.ndarray
    mask: np.ndarray

    @property
    def area(self) -> float:
        return 100.0 * float(self.mask.mean()) if self.mask.size else 0.0


def detector(weights: str = DETECTOR, device: str = "cpu"):
    """The detector network, in eval mode (loaded once per file and device by the project's model cache,
    :func:`gir.restore.loading.load_cached`)."""
    import torch

    from gir.restore.loading import load_cached

    return load_cached(weights, torch.device(device)).module.eval()


def probability_map(rgb: np.ndarray, net) -> np.ndarray:
    """float32 HxW: the detector's probability per pixel, in tiles of :data:`TILE` px with :data:`MARGIN` px
    of context (the network has only local layers; its dilated middle reaches further than the margin, but
    so weakly that tiles change the probabilities by less than 0.01)."""
    import torch

    from gir.restore.tiling import margin_tiles

    h, w = rgb.shape[:2]
    out = np.zeros((h, w), np.float32)
    device = next(net.parameters()).device
    for t in margin_tiles(h, w, TILE, MARGIN):
        window = np.ascontiguousarray(rgb[t.window].transpose(2, 0, 1), np.float32)
        with torch.inference_mode():
            logit = net(torch.from_numpy(window)[None].to(device)).float()[0, 0].cpu().numpy()
        out[t.core] = 1.0 / (1.0 + np.exp(-logit[t.inner]))
    return out


def detect(rgb: np.ndarray, weights: str = DETECTOR, device: str = "cpu") -> ScratchMap:
    """The scratch map of a float32 HxWx3 photo in [0, 1]."""
    prob = probability_map(np.asarray(rgb, np.float32), detector(weights, device))
    return ScratchMap(prob, mask_of(prob))


def mask_of(prob: np.ndarray) -> np.ndarray:
    """The detector's mask (bool HxW) from its probability map: above :data:`THRESHOLD`, scattered single
    pixels removed unless they are above 0.9."""
    from scipy import ndimage

    mask = prob > THRESHOLD
    return ndimage.binary_opening(mask, structure=np.ones((2, 2), bool)) | (mask & (prob > 0.9))


def damage_probability(area: float) -> float:
    """p(damage) from the mask's area (percent of the photo): 1 / (1 + exp(-SLOPE (log10 area - log10
    MID_AREA))), 0.5 at 0.2%, 0.9 at 0.5%. On held-out clean photos (scikit-image's, 256 px) the shipped
    detector marks 0-0.8%, except thin bright structure (text, a fence, a window grid, line art: 6-21%, and
    a coffee cup's rim 2.2%, which is why the plan also asks the analyzer network, :mod:`gir.restore.policy`);
    the four scanned old prints of ``../shared/data/real`` 0.2-3.8%."""
    if area <= 0:
        return 0.0
    return float(1.0 / (1.0 + np.exp(-SLOPE * (np.log10(area) - np.log10(MID_AREA)))))


def fill_mask(mask: np.ndarray, grow: int = DILATE) -> np.ndarray:
    """The pixels to inpaint: ``mask`` grown by ``grow`` px (square neighbourhood)."""
    from scipy import ndimage

    if grow <= 0:
        return mask.astype(bool)
    return ndimage.binary_dilation(mask, structure=np.ones((2 * grow + 1, 2 * grow + 1), bool))


AGREE = 0.5  # the analyzer network's p(damage) from which the mask's probability counts as the family's
NO_MARKS_CAP = 0.2
"""The network's p(damage) where the detector marks no pixel at all: the damage the family stands for
(scratches, cracks, dust, holes) is marks, and its repair fills the detector's mask, so with none it is not
there to repair. On a clean tile of scikit-image's `coins` (a photo JPEG-compressed once) the network read
0.61 with no mark."""


def fuse_scratches(diag, mask: np.ndarray) -> None:
    """Put a scratch mask (bool HxW, :attr:`ScratchMap.mask`) into ``diag``'s ``damage`` finding (in place):
    ``mask``, ``strength["area"]`` (percent) and ``strength["p_mask"]`` (:func:`damage_probability`, the
    detector's own evidence). Where the analyzer network agrees that the photo is damaged (its p at least
    :data:`AGREE`), p becomes the larger of the two and ``clean`` at most 1 - that; elsewhere p stays the
    network's: the detector also marks thin bright structure (text, fences, window grids), which the network,
    trained with such structure as clean, tells from damage. The plan still counts ``p_mask`` when asked to
    repair scratches (``--only damage``: scanned prints, which the network calls clean), and verification
    always does (:mod:`gir.restore.policy`, ``mask_p``). Where the detector marks no pixel, p is at most
    :data:`NO_MARKS_CAP`."""
    f = diag.findings["damage"]
    area = 100.0 * float(mask.mean()) if mask.size else 0.0
    p_map = damage_probability(area)
    f.mask = mask
    f.strength["area"] = round(area, 3)
    f.strength["p_mask"] = round(p_map, 4)
    if f.p >= AGREE and p_map > f.p:
        f.p = p_map
        diag.clean = min(diag.clean, 1.0 - p_map)
    if "scratch detector" not in f.source:
        f.source += " + scratch detector"
    if area == 0.0 and f.p > NO_MARKS_CAP:
        f.p = NO_MARKS_CAP
        f.source += " (capped: the detector marks nothing)"
    if f.p < AGREE and p_map >= AGREE:
        diag.notes.append(f"the scratch detector marks {area:.2f}% of the photo, which the analyzer does not "
                          f"call damage (thin bright structure looks alike); --only damage repairs it")


def carry_scratches(diag, before) -> None:
    """``diag`` (an analysis made without the detector) given the mask of ``before`` (one made with it), for a
    step that cannot have changed the damage; nothing when ``before`` has no mask."""
    mask = before.findings["damage"].mask
    if mask is not None and mask.shape == tuple(diag.size):
        fuse_scratches(diag, mask)
