"""Real user images from ../shared/data (skipped in a plain clone, where the data sets are absent)."""
from __future__ import annotations

import numpy as np

from gir.batch import expand_inputs
from gir.degradations import Recipe
from gir.io import read_image


def test_every_real_photo_reads_and_degrades(shared_data):
    """The real/ set mixes RGBA, grayscale, palette and odd sizes: all must read and go through a chain."""
    paths, problems = expand_inputs([str(shared_data / "real")])
    assert paths and not problems
    recipe = Recipe.parse("blur > noise(sigma=10) > jpeg(quality=60)").with_seed(0)
    kinds = set()
    for p in paths:
        img = read_image(p)
        h, w = img.rgb.shape[:2]
        assert img.rgb.dtype == np.float32 and img.rgb.shape == (h, w, 3), p
        assert 0.0 <= img.rgb.min() and img.rgb.max() <= 1.0, p
        kinds.add("alpha" if img.alpha is not None else "gray" if img.gray else "rgb")
        crop = np.ascontiguousarray(img.rgb[:64, :64])
        out = recipe.apply(crop)
        assert out.shape == crop.shape and np.isfinite(out).all(), p
    assert {"alpha", "rgb"} <= kinds
