"""Degradations from GRIDS (paper 002), DCPT (paper 004), FoundIR (paper 001) and the Real-ESRGAN-style
composite used by the NTIRE RAIM teams (paper 003).

GRIDS' eleven degradations that GIR's ten do not already cover are motion blur, defocus blur, Poisson noise,
salt & pepper noise, free-form inpainting holes and bicubic SR. DCPT's ten-task set and FoundIR's captured
data add low light, demosaicing and lens raindrops. ``realesrgan`` is the second-order pipeline the RAIM
teams train with ("degradation hyper-parameters the same as Real-ESRGAN").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gir.degradations.base import Param, register_op
from gir.degradations.kernels import disk_kernel, filter2d, gaussian_kernel, motion_kernel, sinc_kernel
from gir.degradations.ops_gir import INTERP, down_up, jpeg

GRIDS = "GRIDS (paper 002)"
DCPT = "DCPT (paper 004)"
FOUNDIR_DCPT = "FoundIR (paper 001), DCPT (paper 004)"
RAIM = "Real-ESRGAN second-order pipeline, as used by the NTIRE RAIM teams (paper 003)"

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601 luma weights


# ------------------------------------------------------------------------------------------------ helpers
def _luma(img: np.ndarray) -> np.ndarray:
    """HxWx3 -> HxW BT.601 luma."""
    return img @ _LUMA


def _poisson_residual(img: np.ndarray, rng: np.random.Generator, peak: float, gray: bool) -> np.ndarray:
    """Shot-noise residual Poisson(x*peak)/peak - x for HxWx3 ``img``; one draw shared by the channels
    (computed on luma) when ``gray``. ``peak`` is the photon count of a white pixel."""
    sig = _luma(img)[..., None] if gray else img
    lam = np.clip(sig, 0.0, None).astype(np.float64) * peak
    res = (rng.poisson(lam) / peak - sig).astype(np.float32)
    return np.broadcast_to(res, img.shape) if gray else res


def _resize(img: np.ndarray, h: int, w: int, mode: str) -> np.ndarray:
    """Resize HxWx3 ``img`` to (max(h,1), max(w,1)) with an :data:`INTERP` kernel; keeps the channel axis."""
    h, w = max(1, int(h)), max(1, int(w))
    if (h, w) == img.shape[:2]:
        return img
    return cv2.resize(img, (w, h), interpolation=INTERP[mode]).reshape(h, w, img.shape[2])


# ------------------------------------------------------------------------------------------ GRIDS (002)
@register_op("motion_blur", [
    Param("length", "float", 15.0, (5.0, 25.0), (0.0, 101.0), "path length; 15 px gives a clearly visible "
          "streak", unit="px"),
    Param("angle", "float", 45.0, (0.0, 180.0), (-360.0, 360.0), "direction, counter-clockwise from "
          "horizontal", unit="degrees"),
], source=GRIDS)
def motion_blur(img, rng, length, angle):
    """Linear camera/object motion blur: convolution with a straight line kernel of the given length and
    direction (GRIDS, paper 002; DCPT's motion deblurring, paper 004). Deterministic."""
    return filter2d(img, motion_kernel(length, angle))


@register_op("defocus_blur", [
    Param("radius", "float", 4.0, (1.0, 8.0), (0.0, 30.0), "radius of the circle of confusion; 4 px is "
          "clearly out of focus", unit="px"),
], source=GRIDS)
def defocus_blur(img, rng, radius):
    """Out-of-focus blur: convolution with a uniform disk (the geometric-optics defocus PSF) of the given
    radius (GRIDS, paper 002; DCPT's defocus deblurring, paper 004). Deterministic."""
    return filter2d(img, disk_kernel(radius))


@register_op("poisson_noise", [
    Param("peak", "float", 50.0, (10.0, 300.0), (1.0, 1e6), "photon count of a white pixel; lower is "
          "noisier (50: std 0.1 at mid grey)", unit="photons"),
    Param("gray", "bool", False, (False, True), doc="one luma noise field shared by R, G, B instead of "
          "independent colour noise"),
], source=GRIDS)
def poisson_noise(img, rng, peak, gray):
    """Photon shot noise: each value is a photon count Poisson(img * peak) divided by ``peak``, so the
    variance equals intensity / peak (GRIDS, paper 002)."""
    return img + _poisson_residual(img, rng, peak, gray)


@register_op("salt_pepper", [
    Param("density", "float", 0.05, (0.01, 0.1), (0.0, 1.0), "expected fraction of corrupted pixels"),
    Param("salt", "float", 0.5, (0.3, 0.7), (0.0, 1.0), "fraction of corrupted pixels set to white "
          "(salt); the rest become black (pepper)"),
    Param("hits", "choice", "pixels", None, ("pixels", "channels"), "'pixels': all channels of a pixel at "
          "once (GRIDS); 'channels': each channel of each pixel independently (skimage's s&p)"),
], source=GRIDS)
def salt_pepper(img, rng, density, salt, hits):
    """Impulse (salt & pepper) noise: each pixel (or, with ``hits="channels"``, each sample) independently,
    with probability ``density``, is replaced by white (probability ``salt``) or black (GRIDS, paper 002)."""
    shape = img.shape[:2] if hits == "pixels" else img.shape
    hit = rng.random(shape) < density
    white = rng.random(shape) < salt
    out = img.copy()
    out[hit & white] = 1.0
    out[hit & ~white] = 0.0
    return out


def _stroke_mask(rng: np.random.Generator, h: int, w: int, area: float, width: int) -> np.ndarray:
    """HxW uint8 mask (1 = hole) of random brush polylines, grown segment by segment until the hole
    fraction reaches ``area`` (overshoot at most one segment)."""
    mask = np.zeros((h, w), dtype=np.uint8)
    target = area * h * w
    if target <= 0:
        return mask
    reach = max(h, w)
    for _ in range(10_000):  # guard; the target is normally met after a few dozen segments
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        heading = rng.uniform(0, 2 * np.pi)
        thick = int(rng.integers(max(1, width // 2), width + 1))
        for _ in range(int(rng.integers(4, 11))):
            heading += rng.normal(0.0, 0.8)  # brush turns smoothly
            step = rng.uniform(0.05, 0.25) * reach
            nx = float(np.clip(x + step * np.cos(heading), 0, w - 1))
            ny = float(np.clip(y + step * np.sin(heading), 0, h - 1))
            cv2.line(mask, (int(round(x)), int(round(y))), (int(round(nx)), int(round(ny))), 1, thick)
            x, y = nx, ny
            if np.count_nonzero(mask) >= target:
                return mask
    return mask


@register_op("inpainting", [
    Param("area", "float", 0.2, (0.05, 0.4), (0.0, 0.9), "fraction of the image covered by holes"),
    Param("width", "int", 15, (5, 30), (1, 200), "largest brush width; each stroke draws its width from "
          "[width/2, width]", unit="px"),
    Param("fill", "choice", "black", ("black", "white", "mean"), doc="what the holes contain: black, "
          "white, or the image's mean colour"),
], source=GRIDS)
def inpainting(img, rng, area, width, fill):
    """Free-form holes for blind inpainting: random brush strokes (polylines of random width) covering
    about ``area`` of the image, filled with a constant that the network must replace (GRIDS, paper 002;
    DCPT's inpainting, paper 004)."""
    mask = _stroke_mask(rng, img.shape[0], img.shape[1], area, width).astype(bool)
    value = {"black": 0.0, "white": 1.0}.get(fill)
    out = img.copy()
    out[mask] = img.reshape(-1, 3).mean(axis=0) if value is None else value
    return out


@register_op("sr", [
    Param("scale", "choice", 4, (2, 3, 4), (1, 2, 3, 4), "bicubic down- and up-sampling factor (1 = none)"),
], source=GRIDS)
def sr(img, rng, scale):
    """Super-resolution degradation: bicubic downsampling by ``scale`` and bicubic upsampling back to the
    input size, so the task is restoring the lost detail (GRIDS, paper 002). Deterministic."""
    return down_up(img, float(scale), "bicubic", "bicubic")


# ---------------------------------------------------------------------------- DCPT (004), FoundIR (001)
def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


@register_op("low_light", [
    Param("exposure", "float", 0.1, (0.05, 0.4), (0.001, 1.0), "fraction of the light reaching the "
          "sensor (linear); 0.1 turns mid grey 0.5 into about 0.13"),
    Param("gamma", "float", 1.2, (1.0, 1.5), (0.5, 3.0), "extra power on linear intensity; > 1 crushes "
          "the shadows more than the highlights"),
    Param("photons", "float", 500.0, (100.0, 2000.0), (1.0, 1e7), "photon count of a white pixel at full "
          "exposure; lower is noisier (shot noise)", unit="photons"),
    Param("read_noise", "float", 0.002, (0.0005, 0.005), (0.0, 0.1), "std of signal-independent sensor "
          "read noise", unit="linear intensity"),
], source=FOUNDIR_DCPT, acquisition=True)
def low_light(img, rng, exposure, gamma, photons, read_noise):
    """Low-light capture: in linear light the image is darkened to exposure * lin^gamma, then takes
    Poisson-Gaussian sensor noise (shot noise with ``photons`` at white plus read noise), and is encoded
    back to sRGB, which amplifies the noise in the shadows (DCPT's low-light task, paper 004; FoundIR's
    captured low-light data, paper 001)."""
    dark = exposure * _srgb_to_linear(img) ** gamma
    noisy = dark + _poisson_residual(dark, rng, photons, gray=False)
    noisy = noisy + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(read_noise)
    return _linear_to_srgb(noisy)


# Colour filter pattern (2x2, row-major) -> OpenCV code. OpenCV names a Bayer layout after the second row's
# second and third pixels, so its "BG" is the sensor layout commonly called RGGB.
_BAYER = {"RGGB": cv2.COLOR_BayerBG2RGB, "BGGR": cv2.COLOR_BayerRG2RGB,
          "GRBG": cv2.COLOR_BayerGB2RGB, "GBRG": cv2.COLOR_BayerGR2RGB}


def _mosaic(img: np.ndarray, pattern: str) -> np.ndarray:
    """Sample one channel per pixel according to the 2x2 colour filter ``pattern`` (e.g. "RGGB")."""
    out = np.empty(img.shape[:2], dtype=img.dtype)
    for i, letter in enumerate(pattern):
        dy, dx = divmod(i, 2)
        out[dy::2, dx::2] = img[dy::2, dx::2, "RGB".index(letter)]
    return out


@register_op("demosaic", [
    Param("pattern", "choice", "RGGB", ("RGGB", "BGGR", "GRBG", "GBRG"), doc="Bayer colour filter layout"),
], source=DCPT)
def demosaic(img, rng, pattern):
    """Bayer demosaicing artefacts: the image is sampled through a Bayer colour filter array and
    reconstructed by bilinear interpolation, leaving zipper edges and false colour on fine detail (DCPT's
    demosaicing task, paper 004). Deterministic."""
    pad = 2  # even, so the Bayer phase of the image is unchanged; also lets 1-pixel images work
    h, w = img.shape[:2]
    big = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    raw = (np.clip(_mosaic(big, pattern), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    rgb = cv2.cvtColor(raw, _BAYER[pattern])
    return rgb[pad:pad + h, pad:pad + w].astype(np.float32) / 65535.0


def _drop_layer(img: np.ndarray, rng: np.random.Generator, radius: float):
    """One lens droplet: (y0, x0, patch, alpha) where ``patch`` is the refracted, blurred view through an
    elliptical drop and ``alpha`` its soft coverage, both on the drop's bounding box at (y0, x0)."""
    h, w = img.shape[:2]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    a = radius * rng.uniform(0.8, 1.2)
    b = a * rng.uniform(0.6, 1.0)  # drops are slightly elongated
    rot = rng.uniform(0, np.pi)
    mag = rng.uniform(1.5, 3.0)  # the drop shows a flipped view of a region `mag` times its size
    ext = int(math.ceil(1.2 * a)) + 1
    y0, y1 = max(0, int(cy) - ext), min(h, int(cy) + ext + 1)
    x0, x1 = max(0, int(cx) - ext), min(w, int(cx) + ext + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    dy, dx = yy - cy, xx - cx
    c, s = math.cos(rot), math.sin(rot)
    u, v = (c * dx + s * dy) / a, (-s * dx + c * dy) / b
    r = np.sqrt(u * u + v * v)
    # Spherical-cap lens: flipped and magnified, bulging more towards the rim.
    gain = mag * (1.0 + 0.3 * np.minimum(r, 1.0) ** 2)
    map_x = (cx - gain * dx - 0.5).astype(np.float32)
    map_y = (cy - gain * dy - 0.5).astype(np.float32)
    view = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    view = view.reshape(map_x.shape + (3,))
    sigma = max(0.5, 0.15 * a)  # the drop sits on the lens, far out of focus
    view = cv2.GaussianBlur(view, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101).reshape(view.shape)
    rim = np.clip((1.0 - r) / 0.2, 0.0, 1.0)
    alpha = rim * rim * (3 - 2 * rim)  # smoothstep: soft edge over the outer 20 % of the radius
    shade = 1.0 - 0.25 * np.exp(-(((r - 0.9) / 0.12) ** 2))  # darker rim from internal reflection
    return y0, x0, view * shade[..., None], alpha[..., None]


@register_op("raindrop", [
    Param("count", "int", 20, (5, 40), (0, 500), "number of drops"),
    Param("size", "float", 0.04, (0.02, 0.08), (0.001, 0.5), "mean drop radius as a fraction of the "
          "image's shorter side (0.04: 10 px on a 256 px image)"),
], source=FOUNDIR_DCPT, acquisition=True)
def raindrop(img, rng, count, size):
    """Water droplets on the lens or a glass pane: inside each random elliptical drop the scene is seen
    refracted (a flipped, magnified view of the neighbourhood) and defocused, with a soft, slightly dark
    rim; elsewhere the image is unchanged (FoundIR's captured raindrop data, paper 001; DCPT, paper 004)."""
    out = img.copy()
    base = size * min(img.shape[:2])
    for _ in range(count):
        radius = max(0.75, base * rng.uniform(0.5, 1.5))
        y0, x0, patch, alpha = _drop_layer(img, rng, radius)
        ph, pw = patch.shape[:2]
        region = out[y0:y0 + ph, x0:x0 + pw]
        region[...] = alpha * patch + (1.0 - alpha) * region
    return out


# ------------------------------------------------------------------------------ Real-ESRGAN (RAIM, 003)
def _sigma_matrix_inv(sx: float, sy: float, theta: float) -> np.ndarray:
    """Inverse covariance of a Gaussian with axis std (sx, sy) rotated by ``theta``."""
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    return np.linalg.inv(rot @ np.diag([sx * sx, sy * sy]) @ rot.T)


def _shaped_kernel(size: int, sx: float, sy: float, theta: float, beta: float, shape: str) -> np.ndarray:
    """Generalised-Gaussian (exp(-0.5 q^beta)) or plateau (1 / (1 + q^beta)) kernel, q the squared
    Mahalanobis radius; beta = 1 generalised is the ordinary Gaussian."""
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2
    xx, yy = np.meshgrid(ax, ax)
    m = _sigma_matrix_inv(sx, sy, theta)
    q = m[0, 0] * xx * xx + 2 * m[0, 1] * xx * yy + m[1, 1] * yy * yy
    k = np.exp(-0.5 * q**beta) if shape == "generalized" else 1.0 / (1.0 + q**beta)
    return (k / k.sum()).astype(np.float32)


def _span(lo: float, hi: float, strength: float) -> tuple[float, float]:
    """The part [lo, lo + strength * (hi - lo)] of a range whose ``lo`` end is the mildest."""
    return lo, lo + strength * (hi - lo)


@dataclass(frozen=True)
class _Round:
    """Ranges of one Real-ESRGAN degradation round (at strength 1)."""

    blur_prob: float
    sigma: tuple[float, float]
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]
    noise_sigma: tuple[float, float]  # Gaussian, on the 0-255 scale
    poisson_scale: tuple[float, float]
    jpeg_quality: tuple[int, int]


_FIRST = _Round(1.0, (0.2, 3.0), (0.2, 0.7, 0.1), (0.15, 1.5), (1.0, 30.0), (0.05, 3.0), (30, 95))
_SECOND = _Round(0.8, (0.2, 1.5), (0.3, 0.4, 0.3), (0.3, 1.2), (1.0, 25.0), (0.05, 2.5), (30, 95))
_KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
_KERNEL_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
_SINC_PROB = 0.1
_FINAL_SINC_PROB = 0.8
_MODES = ("area", "bilinear", "bicubic")


def _sinc_omega(rng: np.random.Generator, size: int, strength: float) -> float:
    """Sinc cutoff: uniform in [pi/3, pi] (pi/5 for kernels of 13 px and more); low cutoffs are strong."""
    lo = np.pi / 3 if size < 13 else np.pi / 5
    return float(rng.uniform(np.pi - strength * (np.pi - lo), np.pi))


def _random_blur_kernel(rng: np.random.Generator, sigma: tuple[float, float], strength: float) -> np.ndarray:
    """One of Real-ESRGAN's random blur kernels (size 7-21, odd): a sinc with probability 0.1, otherwise a
    Gaussian, generalised-Gaussian or plateau kernel, isotropic or anisotropic."""
    size = int(2 * rng.integers(3, 11) + 1)
    if rng.random() < _SINC_PROB:
        return sinc_kernel(size, _sinc_omega(rng, size, strength))
    kind = _KERNEL_TYPES[int(rng.choice(len(_KERNEL_TYPES), p=_KERNEL_PROBS))]
    lo, hi = _span(*sigma, strength)
    sx = float(rng.uniform(lo, hi))
    if kind.endswith("aniso"):
        sy, theta = float(rng.uniform(lo, hi)), float(rng.uniform(-np.pi, np.pi))
    else:
        sy, theta = sx, 0.0
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sx, sy, theta)
    if kind.startswith("generalized"):
        beta = float(rng.uniform(0.5, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, 4.0))
        return _shaped_kernel(size, sx, sy, theta, beta, "generalized")
    return _shaped_kernel(size, sx, sy, theta, float(rng.uniform(1.0, 2.0)), "plateau")


def _random_noise(img: np.ndarray, rng: np.random.Generator, rd: _Round, strength: float) -> np.ndarray:
    """Gaussian or Poisson noise (even odds), grey (shared by channels) with probability 0.4; clipped."""
    gray = rng.random() < 0.4
    if rng.random() < 0.5:
        sigma = float(rng.uniform(*_span(*rd.noise_sigma, strength))) / 255.0
        shape = img.shape[:2] + (1,) if gray else img.shape
        out = img + rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    else:
        scale = float(rng.uniform(*_span(*rd.poisson_scale, strength)))
        out = img + np.float32(scale) * _poisson_residual(img, rng, 255.0, gray)  # 8-bit intensity levels
    return np.clip(out, 0.0, 1.0)


def _random_jpeg(img: np.ndarray, rng: np.random.Generator, rd: _Round, strength: float) -> np.ndarray:
    lo, hi = rd.jpeg_quality
    return jpeg(img, rng, int(rng.integers(round(hi - strength * (hi - lo)), hi + 1)))


def _random_resize_factor(rng: np.random.Generator, rd: _Round, strength: float) -> float:
    kind = int(rng.choice(3, p=rd.resize_probs))
    lo, hi = rd.resize_range
    if kind == 0:  # up
        return float(rng.uniform(1.0, 1.0 + strength * (hi - 1.0)))
    if kind == 1:  # down
        return float(rng.uniform(1.0 - strength * (1.0 - lo), 1.0))
    return 1.0


def _degrade_round(img, rng, rd: _Round, strength: float, ref_hw: tuple[int, int]) -> np.ndarray:
    """blur -> random resize (relative to ``ref_hw``) -> noise -> JPEG."""
    if rng.random() < rd.blur_prob:
        img = filter2d(img, _random_blur_kernel(rng, rd.sigma, strength))
    f = _random_resize_factor(rng, rd, strength)
    img = _resize(img, round(ref_hw[0] * f), round(ref_hw[1] * f), _MODES[int(rng.integers(3))])
    img = _random_noise(img, rng, rd, strength)
    return _random_jpeg(img, rng, rd, strength)


def _final_sinc(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    if rng.random() >= _FINAL_SINC_PROB:
        return img
    size = int(2 * rng.integers(3, 11) + 1)
    omega = float(rng.uniform(np.pi - strength * (np.pi - np.pi / 3), np.pi))
    return filter2d(img, sinc_kernel(size, omega))


@register_op("realesrgan", [
    Param("scale", "float", 2.0, (1.0, 4.0), (1.0, 8.0), "total downscaling; the result is brought back "
          "to the input size by bicubic upsampling (1: Real-ESRGAN x1, as most RAIM teams trained)"),
    Param("strength", "float", 0.5, (0.25, 1.0), (0.0, 1.0), "fraction of Real-ESRGAN's blur, resize, "
          "noise and JPEG ranges used, from the mild end (1 = the full published ranges)"),
], source=RAIM, composite=True)
def realesrgan(img, rng, scale, strength):
    """Real-ESRGAN's second-order degradation, used for training by the NTIRE 2024 RAIM teams
    (paper 003): two rounds of random blur (Gaussian / generalised / plateau, iso- or anisotropic, or sinc),
    random resize, Gaussian or Poisson noise (colour or grey) and JPEG; then, in random order, JPEG and
    [resize to 1/``scale`` of the input + optional sinc]. The low-resolution result is upsampled (bicubic)
    back to the input size. Every inner choice is drawn from ``rng``."""
    h, w = img.shape[:2]
    return _resize(realesrgan_low_resolution(img, rng, scale, strength), h, w, "bicubic")


def realesrgan_low_resolution(img: np.ndarray, rng: np.random.Generator, scale: float, strength: float
                              ) -> np.ndarray:
    """The low-resolution image of :func:`realesrgan` (round(H / scale) x round(W / scale); not clipped: the
    final sinc may overshoot), before its final bicubic enlargement: what a blind super-resolution network for
    real photos trains on."""
    h, w = img.shape[:2]
    lh, lw = max(1, round(h / scale)), max(1, round(w / scale))
    out = _degrade_round(img, rng, _FIRST, strength, (h, w))
    out = _degrade_round(out, rng, _SECOND, strength, (lh, lw))
    mode = _MODES[int(rng.integers(3))]
    if rng.random() < 0.5:
        out = _final_sinc(_resize(out, lh, lw, mode), rng, strength)
        out = _random_jpeg(np.clip(out, 0.0, 1.0), rng, _SECOND, strength)
    else:
        out = _random_jpeg(out, rng, _SECOND, strength)
        out = _final_sinc(_resize(out, lh, lw, mode), rng, strength)
    return out
