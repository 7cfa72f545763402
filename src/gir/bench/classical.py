"""Classical (non-learned) restoration baselines, one per degradation op, and their step-by-step chaining.

Each method is a function ``method(img, params) -> img`` on float32 HxWx3 RGB in [0, 1], where ``params`` are
the op's resolved parameters: the baselines are told which op was applied and with which setting (the
kernel for deconvolution, the noise level for non-local means, the scale for interpolation), so they are an
informed upper bound for what the classical method can do, not blind methods. A chain is undone in reverse
order (:func:`undo_recipe`), the "step-by-step" oracle of paper 000.

Methods (``CLASSICAL[op]``):

* noise, poisson_noise: OpenCV non-local means (``fastNlMeansDenoisingColored``), h proportional to the
  noise level; jpeg, rl_artifact: the same with h from the quality / a fixed small h (deblocking / degraining).
* blur, motion_blur, defocus_blur: Richardson-Lucy deconvolution with the true kernel (``RL_ITERATIONS``).
* resize, sr: bicubic interpolation of the low-resolution image (what the degraded input already is when the
  op upsampled bicubically).
* ringing: bilateral filter. damage, inpainting: Telea inpainting of the pure-white/black pixels.
* rain, salt_pepper: median filter. haze: dark-channel prior (He et al. 2009) with a guided-filter
  refined transmission (:func:`gir.restore.classical.dark_channel_prior`, also the ``dehaze`` expert of
  ``gir restore``). snow: median filter, then the dark-channel prior for the veil.
* low_light: gamma curve that maps the image's mean luminance to 0.4.
Ops without a method (e.g. demosaic, raindrop) pass the image through unchanged and are listed by
:func:`missing_methods`.
"""
from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from gir.degradations.base import OPS
from gir.degradations.kernels import disk_kernel, gaussian_kernel, motion_kernel
from gir.degradations.ops_gir import down_up, richardson_lucy, to_uint8
from gir.degradations.recipe import Recipe
from gir.restore.classical import dark_channel_prior

Method = Callable[[np.ndarray, dict[str, Any]], np.ndarray]
CLASSICAL: dict[str, tuple[str, Method]] = {}

RL_ITERATIONS = 20
NLM_H_PER_SIGMA = 0.6       # h / sigma (0-255 scale) for colour NLM; best of 0.4-1.2 on Set14 (not a test set)
JPEG_H_PER_QUALITY_LOSS = 1 / 25  # h = (100 - quality) / 25: larger h only lowered PSNR on Set14


def classical(op: str, name: str):
    def deco(fn: Method) -> Method:
        CLASSICAL[op] = (name, fn)
        return fn
    return deco


def _f32(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def nlm(img: np.ndarray, h: float) -> np.ndarray:
    """Colour non-local means (7x7 patches, 21x21 search) with filter strength ``h`` on the 0-255 scale."""
    if h <= 0:
        return img.copy()
    bgr = cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h=float(h), hColor=float(h), templateWindowSize=7,
                                          searchWindowSize=21)
    return _f32(cv2.cvtColor(out, cv2.COLOR_BGR2RGB))


def deconvolve(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Richardson-Lucy with the true ``kernel`` (the degradation library's own), from a floor of 1e-3 so
    black pixels can still change."""
    return np.clip(richardson_lucy(np.clip(img, 1e-3, 1.0), kernel, RL_ITERATIONS), 0.0, 1.0)


def median(img: np.ndarray, size: int) -> np.ndarray:
    return _f32(cv2.medianBlur(to_uint8(img), size))


@classical("noise", "non-local means")
def _noise(img, p):
    return nlm(img, NLM_H_PER_SIGMA * p["sigma"])


@classical("poisson_noise", "non-local means")
def _poisson(img, p):
    return nlm(img, NLM_H_PER_SIGMA * 255.0 * np.sqrt(0.25 / p["peak"]))  # std at mid grey


@classical("jpeg", "non-local means")
def _jpeg(img, p):
    return nlm(img, JPEG_H_PER_QUALITY_LOSS * (100 - p["quality"]))


@classical("rl_artifact", "non-local means")
def _rl_artifact(img, p):
    return nlm(img, 4.0)


@classical("blur", "Richardson-Lucy")
def _blur(img, p):
    if p["shape"] == "isotropic":
        k = gaussian_kernel(p["size"], p["sigma"])
    else:
        k = gaussian_kernel(p["size"], p["sigma"], p["sigma2"], np.deg2rad(p["theta"]))
    return deconvolve(img, k)


@classical("motion_blur", "Richardson-Lucy")
def _motion(img, p):
    return deconvolve(img, motion_kernel(p["length"], p["angle"]))


@classical("defocus_blur", "Richardson-Lucy")
def _defocus(img, p):
    return deconvolve(img, disk_kernel(p["radius"]))


@classical("resize", "bicubic")
@classical("sr", "bicubic")
def _bicubic(img, p):
    return down_up(img, p["scale"], "area", "bicubic")


@classical("ringing", "bilateral filter")
def _ringing(img, p):
    return np.clip(cv2.bilateralFilter(img, 9, 0.1, 3.0), 0, 1)


def extreme_pixel_mask(img: np.ndarray, tol: float = 3 / 255) -> np.ndarray:
    """uint8 mask (255 = hole) of pixels that are pure white or pure black in every channel, dilated 1 px."""
    hole = (img.min(axis=2) >= 1 - tol) | (img.max(axis=2) <= tol)
    return cv2.dilate(hole.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))


def inpaint_extremes(img: np.ndarray) -> np.ndarray:
    """Telea inpainting of the pure-white/black pixels (scratches, filled holes)."""
    mask = extreme_pixel_mask(img)
    if not mask.any():
        return img.copy()
    return _f32(cv2.inpaint(to_uint8(img), mask, 5, cv2.INPAINT_TELEA))


@classical("damage", "Telea inpainting")
@classical("inpainting", "Telea inpainting")
def _holes(img, p):
    return inpaint_extremes(img)


@classical("rain", "median filter")
def _rain(img, p):
    return median(img, 3)


@classical("salt_pepper", "median filter")
def _salt_pepper(img, p):
    return median(img, 3 if p["density"] <= 0.1 else 5)


@classical("haze", "dark-channel prior")
def _haze(img, p):
    return dark_channel_prior(img)


@classical("snow", "median + dark-channel prior")
def _snow(img, p):
    return dark_channel_prior(median(img, 5))


@classical("low_light", "gamma")
def _low_light(img, p):
    luma = float(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).mean())
    gamma = np.log(0.4) / np.log(min(max(luma, 1e-3), 0.99))
    return np.power(np.clip(img, 0, 1), gamma).astype(np.float32)


def missing_methods() -> list[str]:
    """Registered ops that have no classical method (their step is passed through)."""
    return sorted(set(OPS.names()) - set(CLASSICAL))


def method_name(op: str) -> str:
    return CLASSICAL[op][0] if op in CLASSICAL else "identity"


def undo_recipe(img: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Step-by-step classical restoration: each step's method, last step first. float32 HxWx3 in [0, 1]."""
    out = np.ascontiguousarray(img, dtype=np.float32)
    for step in reversed(recipe.steps):
        if step.op in CLASSICAL:
            params = OPS.get(step.op).resolve(step.params)
            out = np.clip(CLASSICAL[step.op][1](out, params), 0, 1).astype(np.float32)
    return out


def describe(recipe: Recipe) -> str:
    """Human-readable chain of the methods :func:`undo_recipe` applies, e.g. 'NLM <- RL'."""
    return " then ".join(method_name(s.op) for s in reversed(recipe.steps))
