"""BRISQUE (Mittal, Moorthy & Bovik 2012), a no-reference quality score this project did not write: the
features and the support-vector regressor of the ``brisque`` package (PyPI ``brisque`` 0.2.0, which ships its
model files: ``brisque/models/svm.txt`` and ``normalize.pickle``; nothing is downloaded). Lower is better
(about 0-100; a clean photo scores low, noise, blur and JPEG raise it).

Install it with ``pip install 'gir[iqa]'`` (it builds ``libsvm-official``, a small C extension). Where it is
missing, :func:`brisque` raises :class:`BrisqueUnavailable` with that hint, and ``gir bench real`` reports
"n/a" in its BRISQUE columns.

One work-around, no change to the metric: the package's ``BRISQUE.score`` stops with ``TypeError: only
0-dimensional arrays can be converted to Python scalars`` under numpy 2 (some of its features are
one-element arrays). :func:`brisque` computes the same features with the package's own
``calculate_brisque_features`` at the same two scales as ``score`` does (the grey image and its bicubic half),
makes them scalars, and asks the package's ``calculate_image_quality_score`` for the score.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from gir.errors import GirError

PACKAGE = "brisque"
ROUND = 6  # decimals kept: the package's score of the same pixels varies in the 11th-12th digit between calls


class BrisqueUnavailable(GirError):
    """The ``brisque`` package is not installed."""


@lru_cache(maxsize=1)
def _model():
    try:
        from brisque import BRISQUE
    except ImportError as e:
        raise BrisqueUnavailable(f"BRISQUE needs the '{PACKAGE}' package ({e}); install it with "
                                 f"pip install 'gir[iqa]'") from None
    return BRISQUE(url=False)


def available() -> bool:
    """Whether :func:`brisque` can run here."""
    try:
        _model()
    except BrisqueUnavailable:
        return False
    return True


def brisque(img: np.ndarray) -> float:
    """The BRISQUE score of an RGB (H x W x 3) or grey (H x W) image, float in [0, 1] or uint8; lower is
    better; rounded to :data:`ROUND` decimals. Raises :class:`BrisqueUnavailable` without the package, :class:`GirError` for an image smaller
    than 16 px a side."""
    import cv2
    from skimage.color import rgb2gray

    a = np.asarray(img)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 16:
        raise GirError(f"BRISQUE needs an image of at least 16 x 16 pixels, got shape {a.shape}")
    a = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else np.clip(a.astype(np.float64), 0.0, 1.0)
    gray = rgb2gray(a[..., :3]) if a.ndim == 3 else a
    model = _model()
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    features = [model.calculate_brisque_features(g, kernel_size=7, sigma=7 / 6) for g in (gray, half)]
    flat = np.array([np.asarray(v, dtype=np.float64).reshape(-1)[0] for v in np.concatenate(features)])
    return round(float(model.calculate_image_quality_score(flat)), ROUND)
