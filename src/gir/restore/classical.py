"""Classical (non-learned) restoration methods that the product runs: dehazing by the dark-channel prior.

:mod:`gir.restore.experts` runs :func:`dark_channel_prior` as its ``dehaze`` expert; the benchmark's classical
baselines (:mod:`gir.bench.classical`) use the same function for haze and snow.
"""
from __future__ import annotations

import cv2
import numpy as np

DCP_PATCH, DCP_OMEGA, DCP_T0 = 15, 0.95, 0.1


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a gray ``guide`` (HxW), both float32; box windows of side 2r+1."""
    box = (2 * radius + 1, 2 * radius + 1)

    def mean(x):
        return cv2.blur(x, box, borderType=cv2.BORDER_REFLECT)

    mg, ms = mean(guide), mean(src)
    a = (mean(guide * src) - mg * ms) / (mean(guide * guide) - mg * mg + eps)
    b = ms - a * mg
    return mean(a) * guide + mean(b)


def dark_channel_prior(img: np.ndarray, patch: int = DCP_PATCH, omega: float = DCP_OMEGA,
                       t0: float = DCP_T0) -> np.ndarray:
    """Single-image dehazing (He et al. 2009): atmospheric light from the brightest 0.1% of the dark channel,
    transmission 1 - omega * dark(I / A) refined by a guided filter, then J = (I - A) / max(t, t0) + A."""
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (patch, patch))
    dark = cv2.erode(img.min(axis=2), se)
    n = max(1, dark.size // 1000)
    idx = np.argpartition(dark.ravel(), -n)[-n:]
    airlight = np.maximum(img.reshape(-1, 3)[idx].mean(axis=0), 1e-3)
    t = 1.0 - omega * cv2.erode((img / airlight).min(axis=2).astype(np.float32), se)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    t = guided_filter(gray, t.astype(np.float32), radius=max(8, min(img.shape[:2]) // 16), eps=1e-3)
    t = np.maximum(t, t0)[..., None]
    return np.clip((img - airlight) / t + airlight, 0.0, 1.0).astype(np.float32)
