"""Blur kernels and filtering shared by the ops (all kernels are float32, odd-sized, summing to 1)."""
from __future__ import annotations

import cv2
import numpy as np
from scipy import special


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> np.ndarray:
    """Gaussian kernel of odd ``size``; anisotropic when ``sigma_y`` differs, rotated by ``theta`` radians."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    r = (size - 1) / 2
    ax = np.arange(size, dtype=np.float64) - r
    xx, yy = np.meshgrid(ax, ax)
    c, s = np.cos(theta), np.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (k / k.sum()).astype(np.float32)


def sinc_kernel(size: int, omega: float) -> np.ndarray:
    """Circular low-pass (2-D sinc) kernel with cutoff ``omega`` radians/pixel: omega*J1(omega r)/(2 pi r)."""
    r = (size - 1) / 2
    ax = np.arange(size, dtype=np.float64) - r
    xx, yy = np.meshgrid(ax, ax)
    rad = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = omega * special.j1(omega * rad) / (2 * np.pi * rad)
    k[rad == 0] = omega**2 / (4 * np.pi)  # limit of the expression at r = 0
    return (k / k.sum()).astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased uniform disk (defocus point-spread function) of the given radius in pixels."""
    r = int(np.ceil(radius))
    size = 2 * r + 1
    # 4x supersampling gives a smooth rim for fractional radii.
    ss = 4
    ax = (np.arange(size * ss, dtype=np.float64) + 0.5) / ss - (size / 2)
    xx, yy = np.meshgrid(ax, ax)
    inside = (xx**2 + yy**2 <= max(radius, 0.5) ** 2).astype(np.float64)
    k = inside.reshape(size, ss, size, ss).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve each channel of HxWxC ``img`` with ``kernel`` (true convolution, reflected borders)."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1])
    return cv2.filter2D(img, -1, flipped, borderType=cv2.BORDER_REFLECT_101)
