"""Captures as people bring them (issue 32): camera noise, underexposure with bright lights left bright,
scratched and cracked prints, and monochrome prints.

The library's ``noise`` is white and independent per channel, its ``low_light`` darkens the whole frame and
drowns it in shot noise, and its ``damage`` draws straight lines 5-10 px wide. Real photos differ: a camera's
noise grows with the signal and is correlated in space (demosaicking, the camera's own denoising) and across
channels (colour correction), underexposed scenes keep their lamps and windows bright, and old prints crack
and gather dust. These ops give the analyzer those looks with labels (families in
:data:`gir.analysis.families.OP_FAMILY`); ``monochrome`` has no family, so a grey or sepia print stays clean.

Every op draws from the ``numpy.random.Generator`` it is given: the same seed gives the same bytes.
"""
from __future__ import annotations

import numpy as np

from gir.degradations.base import Param, register_op
from gir.degradations.ops_extra import _linear_to_srgb, _luma, _poisson_residual, _srgb_to_linear
from gir.degradations.scratches import _colour, scratch_coverage

REAL = "realistic captures (issue 32; paper 003's real photos)"


def _gaussian_gain(s: float) -> float:
    """Std of unit white noise after scipy's 2-D Gaussian filter of std ``s`` (its truncated, normalised
    kernel): the 1-D kernel's sum of squares, once per axis."""
    r = int(4.0 * s + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / s) ** 2)
    k /= k.sum()
    return float((k * k).sum())


def _correlated(shape: tuple[int, int, int], rng: np.random.Generator, correlation: float,
                chroma: float) -> np.ndarray:
    """Unit-variance noise field HxWx3: a luma part shared by the channels plus ``chroma`` of independent
    colour noise, blurred by a Gaussian of ``correlation`` px (0: white) and rescaled to unit variance."""
    from scipy.ndimage import gaussian_filter

    shared = rng.standard_normal(shape[:2], dtype=np.float32)[..., None]
    own = rng.standard_normal(shape, dtype=np.float32)
    field = (shared + chroma * own) / np.float32(np.sqrt(1.0 + chroma * chroma))
    if correlation > 0:
        field = gaussian_filter(field, sigma=(correlation, correlation, 0), mode="reflect")
        field = field / np.float32(_gaussian_gain(correlation))
    return field.astype(np.float32)


@register_op("camera_noise", [
    Param("sigma", "float", 8.0, (1.0, 30.0), (0.0, 100.0), "noise std at mid grey", unit="0-255"),
    Param("shot", "float", 0.6, (0.0, 1.0), (0.0, 1.0), "share of the variance that grows with the signal "
          "(shot noise); 0 is signal-independent"),
    Param("correlation", "float", 0.6, (0.0, 1.2), (0.0, 3.0), "std of the Gaussian that correlates the "
          "noise in space (demosaicking, in-camera denoising)", unit="px"),
    Param("chroma", "float", 0.5, (0.1, 1.0), (0.0, 2.0), "colour noise relative to the luma noise"),
], source=REAL)
def camera_noise(img, rng, sigma, shot, correlation, chroma):
    """A camera's noise in the sRGB photo: variance ``(sigma/255)^2 * (shot * 2 * luma + 1 - shot)`` (so
    ``sigma`` at mid grey), correlated in space by ``correlation`` px and across channels (a shared luma
    part plus ``chroma`` of colour noise)."""
    if sigma <= 0:
        return img.copy()
    std = np.float32(sigma / 255.0) * np.sqrt(shot * 2.0 * np.clip(_luma(img), 0, 1) + (1.0 - shot))
    return img + _correlated(img.shape, rng, correlation, chroma) * std[..., None].astype(np.float32)


@register_op("underexposure", [
    Param("exposure", "float", 0.15, (0.04, 0.3), (0.01, 1.0), "fraction of the light reaching the sensor "
          "(linear) in the shadows and mid-tones"),
    Param("knee", "float", 0.9, (0.8, 1.0), (0.3, 1.0), "linear intensity above which light sources and "
          "sky keep their brightness (1: none do)"),
    Param("photons", "float", 8000.0, (1500.0, 40000.0), (10.0, 1e7), "photon count of a white pixel at full "
          "exposure; lower is noisier", unit="photons"),
], source=REAL)
def underexposure(img, rng, exposure, knee, photons):
    """An underexposed capture of a scene with lights in it: in linear light the image is scaled by
    ``exposure``, except that intensities above ``knee`` blend back towards their full value (smoothstep),
    then it takes mild shot noise and is encoded back to sRGB. LIME-like photos: dark but clean, with
    windows and lamps still bright."""
    lin = _srgb_to_linear(img)
    t = np.clip((lin - knee) / max(1.0 - knee, 1e-3), 0.0, 1.0) if knee < 1.0 else np.zeros_like(lin)
    keep = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    dark = lin * (exposure + (1.0 - exposure) * keep)
    return _linear_to_srgb(dark + _poisson_residual(dark, rng, photons, gray=False))


@register_op("scratches", [
    Param("bright", "float", 0.75, (0.4, 1.0), (0.0, 1.0), "probability that a component is paper white "
          "or cream rather than near black"),
], source=REAL)
def scratches(img, rng, bright):
    """Damage of an old print: a mixture of straight lines (as ``damage``), thin scratches, branching
    cracks and dust specks (:func:`gir.degradations.scratches.scratch_coverage`); draws at least one
    component."""
    h, w = img.shape[:2]
    out = np.ascontiguousarray(img, np.float32).copy()
    parts = []
    while not parts:
        parts = scratch_coverage(h, w, rng)
    for cover, opacity in parts:
        a = (cover * opacity)[..., None]
        out = out * (1 - a) + _colour(rng, bright) * a
    return out.astype(np.float32)


@register_op("monochrome", [
    Param("tone", "choice", "gray", ("gray", "sepia"), doc="a grey print or a sepia-toned one"),
    Param("warmth", "float", 0.15, (0.05, 0.3), (0.0, 0.5), "how far blue (and half as far green) falls "
          "below red in a sepia tone"),
], source=REAL)
def monochrome(img, rng, tone, warmth):
    """A grey or sepia print of the photo. Not a degradation (no analyzer family): it teaches that an old
    print's tone is not damage."""
    g = _luma(img)[..., None]
    if tone == "gray":
        return np.repeat(g, 3, axis=2).astype(np.float32)
    tint = np.array([1.0, 1.0 - warmth / 2.0, 1.0 - warmth], np.float32)
    return np.clip(g * tint, 0, 1).astype(np.float32)
