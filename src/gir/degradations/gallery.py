"""The degradation gallery: every op at its representative setting on one labelled contact sheet."""
from __future__ import annotations

import cv2
import numpy as np

from gir.degradations.base import OPS
from gir.degradations.recipe import Recipe, Step
from gir.viz import contact_sheet, wrap_label


def fit_long_side(img: np.ndarray, long_side: int) -> np.ndarray:
    """Downscale (area) so the longer side is at most ``long_side``; never upscales."""
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def gallery(img: np.ndarray, seed: int = 0, tile: int = 320, cols: int = 5) -> np.ndarray:
    """Contact sheet (uint8 HxWx3) of ``img`` and every registered op applied at its representative
    setting. The image is first fitted to ``tile`` pixels on its long side, so effects show at 1:1."""
    base = fit_long_side(img, tile)
    tiles, labels = [base], ["clean input"]
    for name in OPS:
        recipe = Recipe((Step(name, OPS.get(name).representative()),), seed)
        tiles.append(recipe.apply(base))
        labels.append(wrap_label(recipe.to_text(), width=max(24, tile // 8)))
    return contact_sheet(tiles, labels, cols=cols)
