"""Classical (non-learned) restoration methods that the product runs: dehazing by the dark-channel prior,
the biharmonic fill of a mask, and brightening a dark photo by a gamma curve (with a noise estimate for the
denoiser that follows it).

:mod:`gir.restore.experts` runs :func:`dehaze` (:func:`dark_channel_prior` where the dark channel shows a veil)
as its ``dehaze`` expert for haze and snow, and :func:`inpaint` inside its ``inpaint`` expert; the benchmark's
classical baselines (:mod:`gir.bench.classical`) use :func:`dark_channel_prior` for haze and snow.
"""
from __future__ import annotations

import cv2
import numpy as np

from gir.analysis.exposure import DARK_BELOW  # the analysis reads low light under it

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


VEIL_MIN = 0.15  # the 25th percentile of the dark channel above which a photo shows a veil
COLOUR_MIN = 0.045  # the mean channel spread (max - min) a photo needs for the dark channel to mean anything
COLOUR_SCALE = 8  # the spread is read on the photo shrunk by this (area mean): noise in each channel is no colour


def veil_evidence(img: np.ndarray, patch: int = DCP_PATCH) -> tuple[float, float]:
    """(the 25th percentile of the dark channel, the mean channel spread) of float32 HxWx3 ``img``.

    He et al.'s observation is that in haze-free outdoor photos most patches have a channel near zero; a veil
    lifts that floor everywhere. Measured on scikit-image's bundled photos (512 px): clean colour photos
    0.00-0.09, the same photos under the library's haze (A 0.8, beta 0.5, the mildest of its range) 0.21-0.45
    and snow 0.21-0.52. Grey photos have a high dark channel without any veil (camera 0.09, brick 0.32; the
    thin-structure probes up to 0.26), so the spread of the channels says whether the statistic applies. It is
    read on the photo shrunk :data:`COLOUR_SCALE` times, because noise drawn per channel spreads them too: a
    grey brick texture through a camera (noise in linear light, JPEG) had a spread of 0.052 at full size, 0.026
    shrunk, was read as snow and lost 10 dB to the prior; hazy colour photos keep 0.06-0.19 shrunk."""
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (patch, patch))
    dark = cv2.erode(np.ascontiguousarray(img.min(axis=2), np.float32), se)
    h, w = img.shape[:2]
    small = cv2.resize(np.ascontiguousarray(img, np.float32), (max(1, w // COLOUR_SCALE), max(1, h // COLOUR_SCALE)),
                       interpolation=cv2.INTER_AREA).reshape(max(1, h // COLOUR_SCALE), max(1, w // COLOUR_SCALE), 3)
    spread = float((small.max(axis=2) - small.min(axis=2)).mean())
    return float(np.percentile(dark, 25)), spread


def dehaze(img: np.ndarray) -> np.ndarray:
    """:func:`dark_channel_prior` where :func:`veil_evidence` shows a veil on a colour photo; else ``img``
    itself (the prior would stretch the contrast of a clean or grey photo, and nothing can verify that)."""
    floor, spread = veil_evidence(img)
    if floor < VEIL_MIN or spread < COLOUR_MIN:
        return img
    return dark_channel_prior(img)


def inpaint(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``img`` (float32 HxWx3 in [0, 1]) with the pixels of ``hole`` (bool HxW) filled by the biharmonic
    interpolation of their surroundings (scikit-image's ``inpaint_biharmonic``, per colour channel); the other
    pixels are returned exactly. Measured against the denoiser as a plug-and-play prior on 5-10 px lines
    (the library's ``damage`` with the true mask, four scikit-image photos, 256 px): biharmonic 28.7 / 32.3 /
    30.7 / 34.6 dB, OpenCV's Telea 27.8 / 30.7 / 29.2 / 35.7, plug-and-play 20-30 dB (the prior does not
    carry structure across a 5-10 px gap) and no better when started from Telea's fill."""
    from skimage.restoration import inpaint_biharmonic

    hole = np.asarray(hole, bool)
    if not hole.any():
        return img
    filled = inpaint_biharmonic(np.asarray(img, np.float64), hole, channel_axis=-1)
    return np.where(hole[..., None], np.clip(filled, 0.0, 1.0), img).astype(np.float32)


BRIGHT_TARGET = 0.4  # the mean luma (0-1) a dark photo is brightened to
DARK_MAX = DARK_BELOW  # ... and only a photo darker than this on average is (0.2)
"""Real low-light photos have a mean luma of 0.04-0.10 (the three LOL photos of ../shared/data/real) and
0.06-0.31 (LIME: 8 of 9 under 0.2); the library's ``low_light`` takes mid grey to about 0.13. In the GIR suite
the analyzer read low light on a noisy crop of `rocket` (mean luma 0.28, a dark but normally exposed photo),
and brightening it to 0.4 took it 17 dB down; photos that dark are left alone."""


def brighten(img: np.ndarray, target: float = BRIGHT_TARGET, dark_max: float = DARK_MAX
             ) -> tuple[np.ndarray, float]:
    """(``img`` through the gamma curve x ** g that takes its mean luma to ``target``, g). A photo whose mean
    luma is at least ``dark_max`` (or ``target``) comes back as it is (g = 1): this only brightens, and only
    a dark photo."""
    luma = float(cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2GRAY).mean())
    if luma >= min(dark_max, target):
        return img, 1.0
    g = float(np.log(target) / np.log(max(luma, 1e-3)))
    return np.power(np.clip(img, 0.0, 1.0), g).astype(np.float32), g


def noise_std(img: np.ndarray) -> float:
    """Immerkaer's (1996) estimate of the std of white noise in the luma of float HxWx3 ``img`` in [0, 1], on
    the 0-255 scale: the mean absolute response of the 3 x 3 Laplacian difference, which cancels smooth
    image content. Texture raises it somewhat."""
    gray = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    c = cv2.filter2D(gray, -1, k)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * np.abs(c).mean() / 6.0) * 255.0
