"""Blur kernel estimation from the image alone (blind), for the plug-and-play deblurring expert.

Two parametric families, each measured by a classical statistic of the image's gradients (no network):

* **Linear motion** (Yitzhaky & Kopeika 1998): motion of length L along angle theta turns every edge into a
  ramp L pixels long, so the image's derivative along theta is the difference of two copies of the sharp
  image's shifted by L; its autocorrelation along theta has a deep negative minimum at lag L. The direction is
  the one along which the derivative is weakest (the blur removed most there), refined by the depth of that
  minimum over nearby angles.
* **Gaussian** (the re-blur ratio at edges): an ideal edge blurred by sigma has a peak gradient proportional to
  1/sigma; blurred again by a known sigma_r, to 1/sqrt(sigma^2 + sigma_r^2). The ratio R of the two peaks
  gives sigma = sigma_r / sqrt(R^2 - 1), taken as the median over the strongest edge pixels (gradient above
  its 97th percentile). Measured on 20 training photos (Sun-Hays80, BSDS500; 256-px crops, OpenCV blur):
  sigma 1.0 / 1.6 / 2.5 read as 1.03 +- 0.21 / 1.54 +- 0.20 / 2.38 +- 0.23, clean photos as 0.56 +- 0.21 (one
  soft photo 1.20); with the 90th percentile as the edge threshold the spread was 0.22-0.27. Hence
  :data:`MIN_SIGMA`.

:func:`estimate_kernel` returns a :class:`KernelEstimate` (the kind, its parameters, the kernel array and the
evidence), or a "none" estimate when the image shows no blur. Run it on a denoised image when the photo is
noisy: noise sharpens every gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REBLUR_SIGMA = 2.0
MOTION_MIN_DEPTH = 0.45  # the autocorrelation minimum (relative to lag 0) that says "motion"
MOTION_MAX_CROSS = 0.1  # ... while the same lag across the direction shows none
MOTION_MIN_ANISOTROPY = 0.2  # 1 - min/max of the directional derivative energy
MIN_SIGMA = 0.85  # below: sharp (clean photos read 0.26-0.73, ideal pixel-aligned steps 0.80)
MAX_LENGTH = 35
# Largest / smallest median edge width over edge directions (:func:`edge_anisotropy`) above which a blur is
# not taken for a Gaussian. On 16 training photos (Sun-Hays80, BSDS500, 256 px): Gaussian sigma 1.6 and 2.2
# read 1.01-1.61, motion of 7 and 11 px at random angles 1.13-5.36 (26 of 32 above 1.65); an isotropic
# Gaussian estimate of a motion blur took 0.2-7.9 dB off where the deblurring ran.
MAX_EDGE_ANISOTROPY = 1.65


@dataclass
class KernelEstimate:
    """``kind``: "gaussian", "motion", "anisotropic" (blurred, but not by a Gaussian, and no motion
    kernel found: no kernel) or "none"; ``params``: sigma, or length and angle (degrees,
    counter-clockwise from +x as displayed); ``kernel``: the 2-D array (sums to 1; None for "none");
    ``evidence``: the statistics it was decided on."""

    kind: str
    params: dict[str, float] = field(default_factory=dict)
    kernel: np.ndarray | None = None
    evidence: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "gaussian":
            return f"Gaussian blur, sigma {self.params['sigma']:.2f} px (estimated)"
        if self.kind == "motion":
            return (f"motion blur, {self.params['length']:.1f} px at {self.params['angle']:.0f} deg "
                    f"(estimated)")
        if self.kind == "anisotropic":
            return (f"blur wider in one direction (edge widths differ {self.params['anisotropy']:.1f}x: motion?); "
                    f"no kernel estimate, left alone")
        return "no blur found"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": {k: round(float(v), 3) for k, v in self.params.items()},
                "evidence": {k: round(float(v), 4) for k, v in self.evidence.items()}}


def read_kernel(source) -> np.ndarray:
    """A blur kernel from a 2-D array, a ``.npy`` file or an image file (its gray values are the weights),
    normalised to sum 1; a file that is not a kernel (unreadable, empty, not 2-D, not finite, summing to 0 or
    less) raises :class:`gir.restore.operators.KernelError` naming it (checked against an image's size later,
    when the kernel is used)."""
    from pathlib import Path

    from gir.restore.operators import KernelError, check_kernel

    if isinstance(source, np.ndarray):
        return check_kernel(source)
    path = Path(source)
    where = f"--kernel {path}"
    if not path.is_file():
        raise KernelError(f"{where}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            k = np.load(path, allow_pickle=False)
        else:
            from PIL import Image

            with Image.open(path) as im:
                k = np.asarray(im.convert("F"), dtype=np.float64)
    except Exception as e:  # noqa: BLE001 - any reader failure is the file's problem
        raise KernelError(f"{where}: cannot read a kernel from it ({type(e).__name__}: {e})") from None
    return check_kernel(k, where=where)


def _luma(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb, dtype=np.float32)
    if a.ndim == 2:
        return a
    return a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _gradients(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    return gx, gy


def gaussian_kernel_for(sigma: float) -> np.ndarray:
    """The isotropic Gaussian kernel of ``sigma`` px (size 6 sigma + 1, odd), summing to 1."""
    from gir.degradations.kernels import gaussian_kernel

    size = 2 * int(np.ceil(3 * sigma)) + 1
    return gaussian_kernel(max(size, 3), sigma).astype(np.float64)


def motion_kernel_for(length: float, angle: float) -> np.ndarray:
    from gir.degradations.kernels import motion_kernel

    return motion_kernel(length, angle).astype(np.float64)


def edge_anisotropy(sig: np.ndarray, ang: np.ndarray, bins: int = 4, min_count: int = 15) -> float:
    """The largest over the smallest median edge width among edges grouped by direction (``bins`` groups of
    gradient angle; ``sig`` and ``ang`` from :func:`edge_widths`): about 1 for a Gaussian blur, which widens
    every edge alike; large for motion blur, which widens the edges across its direction only. 1.0 when fewer
    than two groups have ``min_count`` edges."""
    width = 180.0 / bins
    group = ((ang + width / 2) // width).astype(int) % bins
    medians = [float(np.median(sig[group == b])) for b in range(bins) if (group == b).sum() >= min_count]
    return max(medians) / max(min(medians), 1e-6) if len(medians) >= 2 else 1.0


def edge_widths(g: np.ndarray, reblur: float = REBLUR_SIGMA, quantile: float = 0.97
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per edge pixel of luma ``g``: the edge width sigma by the re-blur ratio and the gradient angle (degrees,
    0-180). The edges are the pixels whose gradient magnitude is a local maximum across the edge and above
    the ``quantile`` of all gradient magnitudes; their median width is the Gaussian estimate."""
    import cv2

    gx, gy = _gradients(g)
    mag = np.hypot(gx, gy)
    b = cv2.GaussianBlur(g, (0, 0), reblur, borderType=cv2.BORDER_REFLECT)
    bx, by = _gradients(b)
    mag_r = np.hypot(bx, by)
    # non-maximum suppression along the gradient direction (4 directions)
    ang = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    pad = np.pad(mag, 1, mode="edge")
    h, w = mag.shape
    shifts = {0: ((0, 1), (0, -1)), 45: ((1, 1), (-1, -1)), 90: ((1, 0), (-1, 0)), 135: ((1, -1), (-1, 1))}
    keep = np.zeros_like(mag, dtype=bool)
    for centre, ((dy1, dx1), (dy2, dx2)) in shifts.items():
        sel = (np.abs(((ang - centre) + 90) % 180 - 90) <= 22.5)
        n1 = pad[1 + dy1:1 + dy1 + h, 1 + dx1:1 + dx1 + w]
        n2 = pad[1 + dy2:1 + dy2 + h, 1 + dx2:1 + dx2 + w]
        keep |= sel & (mag >= n1) & (mag >= n2)
    border = 8
    keep[:border] = keep[-border:] = False
    keep[:, :border] = keep[:, -border:] = False
    thresh = np.quantile(mag, quantile)
    sel = keep & (mag > max(thresh, 0.01)) & (mag_r > 1e-4)
    ratio, angles = mag[sel] / mag_r[sel], ang[sel]
    ok = ratio > 1.0001
    return reblur / np.sqrt(ratio[ok] ** 2 - 1.0), angles[ok]


def _directional_energy(gx: np.ndarray, gy: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Mean |derivative| along each angle (degrees, counter-clockwise from +x as displayed: y points down)."""
    rad = np.deg2rad(angles)
    return np.array([np.abs(np.cos(a) * gx - np.sin(a) * gy).mean() for a in rad])


def _rotate(g: np.ndarray, angle: float) -> np.ndarray:
    """``g`` rotated so that direction ``angle`` becomes +x (the valid centre kept)."""
    import cv2

    h, w = g.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)  # cv2: positive = counter-clockwise
    out = cv2.warpAffine(g, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    c = int(min(h, w) * 0.15)
    return out[c:h - c, c:w - c]


def motion_autocorrelation(g: np.ndarray, angle: float, max_lag: int = MAX_LENGTH + 5) -> np.ndarray:
    """The autocorrelation (normalised by lag 0) of luma ``g``'s derivative along ``angle``, for lags
    0..max_lag, averaged over the lines along that direction."""
    r = _rotate(g, angle)
    d = np.diff(r, axis=1)
    d = d - d.mean(axis=1, keepdims=True)
    n = d.shape[1]
    f = np.fft.rfft(d, n=2 * n, axis=1)
    ac = np.fft.irfft(f * np.conj(f), axis=1)[:, :max_lag + 1].sum(axis=0)
    return ac / max(ac[0], 1e-12)


def _motion_length(ac: np.ndarray) -> tuple[float, float]:
    """(length, depth) from an autocorrelation: the lag (from 2 on, sub-pixel by a parabola) of its minimum
    and how deep it is (minus its value)."""
    lags = np.arange(len(ac))
    k = int(np.argmin(ac[2:])) + 2
    depth = -float(ac[k])
    if 2 < k < len(ac) - 1:
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den > 1e-12 else 0.0
        return float(lags[k] + np.clip(off, -0.5, 0.5)), depth
    return float(k), depth


def estimate_motion(g: np.ndarray, step: float = 5.0) -> dict[str, float]:
    """The direction whose derivative autocorrelation has the deepest minimum (searched every ``step``
    degrees, then refined), its length and depth, the same lag's depth across (perpendicular), and the
    anisotropy of the directional derivative energy."""
    gx, gy = _gradients(g)
    coarse = np.arange(0.0, 180.0, step)
    energy = _directional_energy(gx, gy, coarse)
    aniso = 1.0 - float(energy.min() / max(energy.max(), 1e-12))
    found = [(a, *_motion_length(motion_autocorrelation(g, a))) for a in coarse]
    angle = max(found, key=lambda f: f[2])[0]
    for a in (angle - step / 2, angle + step / 2):
        found.append((a % 180.0, *_motion_length(motion_autocorrelation(g, a))))
    angle, length, depth = max(found, key=lambda f: f[2])
    across = motion_autocorrelation(g, angle + 90.0)
    lag = int(round(length))
    cross = -float(across[min(lag, len(across) - 1)])
    return {"angle": angle % 180.0, "length": length + 1.0, "depth": depth, "cross": cross, "anisotropy": aniso}


KERNEL_VIEW = 512  # the side of the centre crop a kernel is estimated on (the blur is the same everywhere)


def kernel_view(rgb: np.ndarray, max_side: int = KERNEL_VIEW) -> np.ndarray:
    """The centre crop (at most ``max_side`` px a side) that :func:`estimate_kernel` judges: what a caller
    needs to prepare (denoise) and no more."""
    h, w = rgb.shape[:2]
    top, left = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    return rgb[top:top + max_side, left:left + max_side]


def estimate_kernel(rgb: np.ndarray, max_side: int = KERNEL_VIEW) -> KernelEstimate:
    """The blur of an image (float H x W x 3 or H x W in [0, 1]; denoise a noisy one first): a motion kernel
    where the derivative's autocorrelation shows a clear ramp length along an anisotropic direction, else a
    Gaussian whose width is the re-blur ratio's at edges where edges of every direction are about as wide
    (:data:`MAX_EDGE_ANISOTROPY`; else "anisotropic", no kernel), else "none" (sharp). Large images are judged on a
    centre crop of ``max_side`` px."""
    g = np.ascontiguousarray(_luma(kernel_view(rgb, max_side)), dtype=np.float32)
    motion = estimate_motion(g)
    widths, angles = edge_widths(g)
    n_edges = int(widths.size)
    sigma_edges = float(np.median(widths)) if n_edges >= 20 else 0.0
    sigma = sigma_edges
    aniso = edge_anisotropy(widths, angles)
    evidence = {"edge_sigma": sigma_edges, "edges": n_edges, "edge_anisotropy": aniso,
                **{f"motion_{k}": v for k, v in motion.items()}}
    if (motion["depth"] >= MOTION_MIN_DEPTH and motion["cross"] <= MOTION_MAX_CROSS
            and motion["anisotropy"] >= MOTION_MIN_ANISOTROPY and 3.0 <= motion["length"] <= MAX_LENGTH):
        params = {"length": motion["length"], "angle": motion["angle"]}
        return KernelEstimate("motion", params, motion_kernel_for(params["length"], params["angle"]), evidence)
    if sigma >= MIN_SIGMA and aniso > MAX_EDGE_ANISOTROPY:
        return KernelEstimate("anisotropic", {"sigma": sigma, "anisotropy": aniso}, None, evidence)
    if sigma >= MIN_SIGMA:
        return KernelEstimate("gaussian", {"sigma": sigma}, gaussian_kernel_for(sigma), evidence)
    return KernelEstimate("none", {}, None, evidence)


def refine_kernel(sharp: np.ndarray, observed: np.ndarray, size: int, beta: float = 0.01,
                  floor: float = 0.05) -> np.ndarray:
    """The kernel k (``size`` x ``size``, odd, >= 0, summing to 1) that best explains ``observed`` as
    ``k * sharp`` in the gradient domain (least squares with a Tikhonov weight ``beta`` relative to the
    sharp image's gradient energy; Cho & Lee 2009's kernel step), values below ``floor`` of its peak
    removed. Both images H x W (luma) or H x W x 3."""
    x, y = _luma(sharp), _luma(observed)
    num = 0.0
    den = 0.0
    for axis in (0, 1):
        fx = np.fft.fft2(np.diff(x, axis=axis, append=np.take(x, [0], axis=axis)))
        fy = np.fft.fft2(np.diff(y, axis=axis, append=np.take(y, [0], axis=axis)))
        num = num + np.conj(fx) * fy
        den = den + np.abs(fx) ** 2
    k = np.real(np.fft.ifft2(num / (den + beta * den.mean())))
    r = size // 2
    k = np.fft.fftshift(k)
    cy, cx = k.shape[0] // 2, k.shape[1] // 2
    k = k[cy - r:cy + r + 1, cx - r:cx + r + 1]
    k = np.clip(k, 0.0, None)
    k[k < floor * k.max()] = 0.0
    total = k.sum()
    if total <= 0:
        return np.pad(np.ones((1, 1)), r)
    return k / total
