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


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Straight-line (linear motion) kernel ``length`` pixels long, odd-sized, summing to 1.

    ``angle`` is the direction of motion in degrees, counter-clockwise from the +x axis as the image is
    displayed (90 = vertical). The path is sampled at >= 4 points per pixel and splatted bilinearly, so its
    second moment along the path is that of a uniform segment (length**2 / 12). Length 0 is the identity.
    """
    half = max(length, 0.0) / 2.0
    r = int(np.ceil(half)) + 1
    size = 2 * r + 1
    n = max(2, int(np.ceil(4 * length)))
    t = (np.arange(n) + 0.5) * (2 * half / n) - half
    a = np.deg2rad(angle)
    xs, ys = r + t * np.cos(a), r - t * np.sin(a)  # image y points down
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    k = np.zeros((size, size), dtype=np.float64)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(k, (y0 + dy, x0 + dx), wy * wx)
    return (k / k.sum()).astype(np.float32)


def gaussian_size(sigma: float, truncate: float = 3.0) -> int:
    """Odd kernel size covering +-``truncate`` standard deviations (at least 1)."""
    return 2 * int(np.ceil(truncate * max(sigma, 0.0))) + 1
