"""BRISQUE through the `brisque` package (gir.metrics.brisque): what it claims, on scikit-image photos with
degradations written here (numpy noise, OpenCV blur, Pillow JPEG)."""
import io

import numpy as np
import pytest

from gir.errors import GirError
from gir.metrics import brisque as B

needs_package = pytest.mark.skipif(not B.available(), reason="the brisque package is not installed (gir[iqa])")


def photo():
    skimage = pytest.importorskip("skimage.data")
    return skimage.astronaut()


@needs_package
def test_clean_scores_lower_than_noisy_blurred_and_jpeg_and_worse_is_higher():
    import cv2
    from PIL import Image

    img = photo()
    rng = np.random.default_rng(0)
    clean = B.brisque(img)
    noise = [B.brisque(np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8)) for s in (10, 25, 50)]
    blur = [B.brisque(cv2.GaussianBlur(img, (0, 0), s)) for s in (1.0, 2.0, 4.0)]

    def jpeg(q):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=q)
        return B.brisque(np.asarray(Image.open(buf)))

    jpegs = [jpeg(q) for q in (50, 10)]
    assert clean < min(noise + blur + jpegs)
    assert noise == sorted(noise) and blur == sorted(blur) and jpegs == sorted(jpegs)


@needs_package
def test_same_image_same_score_for_uint8_float_and_repeat():
    img = photo()[100:300, 150:350]
    a = B.brisque(img)
    assert a == B.brisque(img) == pytest.approx(B.brisque(img.astype(np.float32) / 255.0), abs=1e-4)
    assert np.isfinite(a)


def test_too_small_an_image_is_refused():
    with pytest.raises(GirError, match="16 x 16"):
        B.brisque(np.zeros((8, 40, 3), np.float32))


def test_without_the_package_the_error_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_brisque(name, *args, **kwargs):
        if name == "brisque":
            raise ImportError("No module named 'brisque'")
        return real_import(name, *args, **kwargs)

    B._model.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_brisque)
    try:
        assert not B.available()
        with pytest.raises(B.BrisqueUnavailable, match=r"pip install 'gir\[iqa\]'"):
            B.brisque(np.zeros((32, 32, 3), np.float32))
    finally:
        monkeypatch.undo()
        B._model.cache_clear()
