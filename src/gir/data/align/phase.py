"""Image helpers and phase correlation: luma, blur, resize and warp of registration images, and the
sub-pixel shift between two images (:func:`phase_shift`), rotation and scale from log-polar spectra, and the
shifts of a grid of tiles.

The phase correlation uses numpy FFTs and a Hanning window (``cv2.createHanningWindow``); the whitened
cross-power spectrum is weighted by a Gaussian low-pass, which makes the correlation peak a Gaussian blob
whose sub-pixel centre a parabola through the log of three samples recovers (~0.01 px on clean shifts).
``cv2.phaseCorrelate`` is not used: its 5x5 centroid is biased by up to 0.3 px at half-pixel shifts
(measured on skimage's astronaut), too much for a 0.5 px budget.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

_ANGLES = 512          # log-polar angle samples over 360 degrees
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_MIN_SIDE = 24          # smaller images are refused
_TILE_MIN_STD = 0.01    # a verification tile flatter than this (luma std) is not used
_TILE_MIN_PEAK = 0.1    # ... nor one whose correlation peak is below this (no reliable shift)


def _as_image(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"{what}: expected an HxW or HxWxC image, got shape {a.shape}")
    if min(a.shape[:2]) < _MIN_SIDE:
        raise ValueError(f"{what}: {a.shape[1]}x{a.shape[0]} is too small to register (min side {_MIN_SIDE} px)")
    return a.astype(np.float32, copy=False)


def _gray(img: np.ndarray) -> np.ndarray:
    """Luma (BT.601) of an HxWxC image, float32 HxW; HxW passes through."""
    if img.ndim == 2:
        return np.ascontiguousarray(img, dtype=np.float32)
    if img.shape[2] == 1:
        return np.ascontiguousarray(img[:, :, 0], dtype=np.float32)
    return np.ascontiguousarray(img[:, :, :3] @ _LUMA, dtype=np.float32)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def _resize(img: np.ndarray, f: float) -> np.ndarray:
    if f == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, int(round(w * f))), max(1, int(round(h * f))))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def _warp_gray(img: np.ndarray, matrix: np.ndarray, shape: Sequence[int], cubic: bool = False) -> np.ndarray:
    return cv2.warpAffine(img, np.asarray(matrix, dtype=np.float64), (int(shape[1]), int(shape[0])),
                          flags=cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _hann(h: int, w: int) -> np.ndarray:
    return cv2.createHanningWindow((int(w), int(h)), cv2.CV_32F).astype(np.float64)


def phase_shift(ref: np.ndarray, mov: np.ndarray, window: np.ndarray | None = None,
                lowpass: float | None = 0.15) -> tuple[float, float, float]:
    """Translation of ``mov`` relative to ``ref`` by phase correlation: (dx, dy, peak).

    ``mov(x, y) ~ ref(x - dx, y - dy)``. Both are float HxW of the same shape. The images are mean-removed and
    multiplied by ``window`` (default: a Hanning window); the whitened cross-power spectrum is weighted by a
    Gaussian low-pass (``lowpass``: its standard deviation in cycles/px, None for none), which keeps noise
    out and turns the correlation peak into a Gaussian blob (sigma ~1 px at 0.15), whose sub-pixel centre a
    parabola through the logarithms of the three samples around the integer peak recovers (per axis).
    peak: the correlation peak over its largest possible value, in [0, 1] (1: a pure shift).
    """
    h, w = ref.shape
    win = _hann(h, w) if window is None else window
    a = (ref - ref.mean()) * win
    b = (mov - mov.mean()) * win
    cross = np.fft.fft2(b) * np.conj(np.fft.fft2(a))
    cross /= np.abs(cross) + 1e-12 * float(np.abs(cross).max() + 1e-30)
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    weight = np.ones((h, w))
    if lowpass:
        weight = np.exp(-0.5 * (fy[:, None] ** 2 + fx[None, :] ** 2) / float(lowpass) ** 2)
    if h % 2 == 0:
        weight[h // 2, :] = 0.0  # the Nyquist row/column has no defined sub-pixel phase
    if w % 2 == 0:
        weight[:, w // 2] = 0.0
    cross *= weight
    surface = np.fft.ifft2(cross).real
    iy, ix = np.unravel_index(int(np.argmax(surface)), surface.shape)
    col = surface[[(iy - 1) % h, iy, (iy + 1) % h], ix]
    row = surface[iy, [(ix - 1) % w, ix, (ix + 1) % w]]
    dy = (iy - h if iy > h // 2 else iy) + _peak_offset(col)
    dx = (ix - w if ix > w // 2 else ix) + _peak_offset(row)
    best = float(weight.sum()) / (h * w)
    return float(dx), float(dy), float(np.clip(surface[iy, ix] / best, 0.0, 1.0))


def _peak_offset(v: np.ndarray) -> float:
    """Sub-sample offset of a peak from three samples around it, in [-0.5, 0.5]: the vertex of the
    parabola through their logarithms (exact for a Gaussian peak, which the low-passed correlation surface
    is), or through the samples themselves when one is not positive."""
    if np.all(v > 0):
        v = np.log(v)
    den = v[0] - 2 * v[1] + v[2]
    return 0.0 if den >= 0 else float(np.clip(0.5 * (v[0] - v[2]) / den, -0.5, 0.5))


def _log_polar_spectrum(img: np.ndarray, radii: int, angles: int) -> tuple[np.ndarray, float]:
    """Log-polar resampling of the high-passed Fourier magnitude of the centre square of ``img``.

    Returns the (angles x log-radii) image, ``angles`` rows over 360 degrees by ``radii`` columns, and the
    log-radius step per column.
    """
    h, w = img.shape
    n = min(h, w)
    sq = img[(h - n) // 2:(h - n) // 2 + n, (w - n) // 2:(w - n) // 2 + n]
    spec = np.abs(np.fft.fftshift(np.fft.fft2((sq - sq.mean()) * _hann(n, n))))
    f = np.fft.fftshift(np.fft.fftfreq(n))
    x = np.cos(np.pi * f[:, None]) * np.cos(np.pi * f[None, :])
    spec = np.log1p(spec * (1.0 - x) * (2.0 - x)).astype(np.float32)  # high-pass: low frequencies dominate
    max_r = n / 2.0
    polar = cv2.warpPolar(spec, (radii, angles), (n / 2.0, n / 2.0), max_r,
                          cv2.INTER_LINEAR | cv2.WARP_POLAR_LOG | cv2.WARP_FILL_OUTLIERS)
    return polar.astype(np.float64), math.log(max_r) / radii


def _rotation_scale(ref: np.ndarray, mov: np.ndarray) -> tuple[float, float, float]:
    """Rotation (degrees, in [-90, 90)) and scale of ``mov`` relative to ``ref`` by log-polar phase
    correlation of their magnitude spectra (which a translation leaves unchanged); and the peak."""
    radii = 1 << int(math.ceil(math.log2(max(64, min(ref.shape)))))
    angles = _ANGLES
    lp_ref, step = _log_polar_spectrum(ref, radii, angles)
    lp_mov, _ = _log_polar_spectrum(mov, radii, angles)
    # Angle is periodic (no window along it); log-radius is not.
    window = np.outer(np.ones(angles), np.hanning(radii))
    d_rho, d_theta, peak = phase_shift(lp_ref, lp_mov, window=window, lowpass=0.25)
    angle = d_theta * 360.0 / angles
    angle = (angle + 90.0) % 180.0 - 90.0  # the magnitude spectrum is symmetric under a half turn
    # An image scaled by s has its spectrum scaled by 1/s: the log-radius moves by -ln(s).
    scale = math.exp(-d_rho * step)
    return angle, scale, peak


def _tile_origins(size: int, tile: int, n: int) -> list[int]:
    if size <= tile:
        return [0]
    return sorted({int(round(v)) for v in np.linspace(0, size - tile, n)})


def _tile_shifts(warped: np.ndarray, ref: np.ndarray, grid: int, tile: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tile centres (N x 2, x/y, crop coordinates), phase-correlation shifts of ``warped`` against ``ref``
    there (N x 2) and peaks (N), over up to ``grid`` x ``grid`` textured tiles of side ``tile``."""
    h, w = ref.shape
    t = int(min(tile, h, w))
    win = _hann(t, t)
    centres, shifts, peaks = [], [], []
    for y0 in _tile_origins(h, t, grid):
        for x0 in _tile_origins(w, t, grid):
            ta, tb = warped[y0:y0 + t, x0:x0 + t], ref[y0:y0 + t, x0:x0 + t]
            if min(float(ta.std()), float(tb.std())) < _TILE_MIN_STD:
                continue
            dx, dy, peak = phase_shift(tb, ta, window=win)
            if peak >= _TILE_MIN_PEAK:
                centres.append((x0 + (t - 1) / 2.0, y0 + (t - 1) / 2.0))
                shifts.append((dx, dy))
                peaks.append(peak)
    return np.asarray(centres).reshape(-1, 2), np.asarray(shifts).reshape(-1, 2), np.asarray(peaks)
