"""2x3 affine matrices mapping LQ pixel coordinates to GT pixel coordinates (the convention of
:mod:`gir.data.align`): composition, inversion, least-squares fits to point pairs, the closest similarity, the
parameters a report shows, and the largest rectangle an LQ covers on the GT grid."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _round(v: float, digits: int = 4) -> float | None:
    """``v`` rounded for JSON; None for inf/NaN (JSON has no such numbers)."""
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def transform_params(matrix: np.ndarray, lq_shape: Sequence[int], gt_shape: Sequence[int]) -> dict[str, float]:
    """(dx, dy, rotation degrees, scale) of an LQ->GT matrix; see :meth:`Alignment.params`."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[:, :2]
    c_lq = np.array([(lq_shape[1] - 1) / 2.0, (lq_shape[0] - 1) / 2.0])
    c_gt = np.array([(gt_shape[1] - 1) / 2.0, (gt_shape[0] - 1) / 2.0])
    d = a @ c_lq + m[:, 2] - c_gt
    rotation = math.degrees(math.atan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))
    scale = math.sqrt(abs(float(np.linalg.det(a))))
    return {"dx": float(d[0]), "dy": float(d[1]), "rotation": rotation, "scale": scale}


def _h(m: np.ndarray) -> np.ndarray:
    """2x3 -> 3x3 homogeneous."""
    return np.vstack([np.asarray(m, dtype=np.float64)[:2], [0.0, 0.0, 1.0]])


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix (e.g. GT -> LQ from LQ -> GT)."""
    return np.linalg.inv(_h(matrix))[:2]


def _compose(*ms: np.ndarray) -> np.ndarray:
    """``ms[0] @ ms[1] @ ...`` of 2x3 matrices (the last one applies first)."""
    out = np.eye(3)
    for m in ms:
        out = out @ _h(m)
    return out[:2]


def _pixel_scale(f: float) -> np.ndarray:
    """Coordinates of an image resized by ``f`` from those of the original (pixel-area convention)."""
    return np.array([[f, 0.0, 0.5 * f - 0.5], [0.0, f, 0.5 * f - 0.5]])


def _about_centre(angle_deg: float, scale: float, centre: tuple[float, float]) -> np.ndarray:
    """Rotation by ``angle_deg`` (positive turns +x towards +y) and scaling about ``centre`` (x, y)."""
    t = math.radians(angle_deg)
    a = scale * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    c = np.asarray(centre, dtype=np.float64)
    return np.hstack([a, (c - a @ c)[:, None]])


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def fit_points(src: np.ndarray, dst: np.ndarray, model: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted least-squares 2x3 matrix of ``model`` sending points ``src`` (N x 2, x/y) to ``dst``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    wts = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if model == "translation":
        t = (wts[:, None] * (dst - src)).sum(axis=0) / wts.sum()
        return _translation(*t)
    n = len(src)
    one, zero = np.ones(n), np.zeros(n)
    if model == "similarity":  # [x'; y'] = [a -b; b a] [x; y] + [tx; ty]
        rows = np.zeros((2 * n, 4))
        rows[0::2] = np.stack([src[:, 0], -src[:, 1], one, zero], axis=1)
        rows[1::2] = np.stack([src[:, 1], src[:, 0], zero, one], axis=1)
    else:
        rows = np.zeros((2 * n, 6))
        rows[0::2, :3] = np.stack([src[:, 0], src[:, 1], one], axis=1)
        rows[1::2, 3:] = np.stack([src[:, 0], src[:, 1], one], axis=1)
    sw = np.sqrt(np.repeat(wts, 2))
    p = np.linalg.lstsq(rows * sw[:, None], dst.reshape(-1) * sw, rcond=None)[0]
    if model == "similarity":
        a, b, tx, ty = p
        return np.array([[a, -b, tx], [b, a, ty]])
    return p.reshape(2, 3)


def _fit_similarity(matrix: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The similarity closest to an affine ``matrix`` (least squares over a 5x5 point grid on ``shape``)."""
    h, w = shape[:2]
    ys, xs = np.meshgrid(np.linspace(0, h - 1, 5), np.linspace(0, w - 1, 5), indexing="ij")
    src = np.stack([xs.ravel(), ys.ravel()], axis=1)
    dst = src @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]
    return fit_points(src, dst, "similarity")


def corner_error(estimated: np.ndarray, true: np.ndarray, lq_shape: Sequence[int]) -> float:
    """Mean distance, GT px, between where two LQ->GT matrices send the four LQ corners."""
    h, w = lq_shape[:2]
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], dtype=np.float64)
    d = corners @ np.asarray(estimated, dtype=np.float64).T - corners @ np.asarray(true, dtype=np.float64).T
    return float(np.mean(np.hypot(d[:, 0], d[:, 1])))


def valid_overlap(matrix: np.ndarray, lq_shape: Sequence[int], gt_shape: Sequence[int], margin: float = 0.0
                  ) -> tuple[int, int, int, int]:
    """The largest axis-aligned rectangle (x, y, w, h) of GT pixels whose LQ source lies inside the LQ.

    A GT pixel counts when ``inverse(matrix)`` sends its centre to within ``[margin, W_lq - 1 - margin] x
    [margin, H_lq - 1 - margin]``, so the crop never samples beyond the LQ's outer pixel centres. Exact for
    the pixel grid: each GT row's valid pixels form one interval (the LQ frame is convex); over every pair of
    top and bottom rows the widest common interval is kept. (0, 0, 0, 0) when nothing overlaps.
    """
    hg, wg = int(gt_shape[0]), int(gt_shape[1])
    hl, wl = int(lq_shape[0]), int(lq_shape[1])
    inv = invert_matrix(matrix)
    y = np.arange(hg, dtype=np.float64)
    lo = np.zeros(hg)
    hi = np.full(hg, wg - 1.0)
    for row, limit in ((inv[0], wl - 1.0), (inv[1], hl - 1.0)):
        p, c = row[0], row[1] * y + row[2]  # source coordinate = p * x + c
        a, b = margin - c, limit - margin - c  # a <= p * x <= b
        if abs(p) < 1e-12:
            bad = (a > 0) | (b < 0)
            lo = np.where(bad, np.inf, lo)
            continue
        x1, x2 = a / p, b / p
        lo = np.maximum(lo, np.minimum(x1, x2))
        hi = np.minimum(hi, np.maximum(x1, x2))
    left = np.ceil(lo - 1e-9)
    right = np.floor(hi + 1e-9)
    width = right - left + 1
    left = np.where(width > 0, left, 0.0)
    right = np.where(width > 0, right, -1.0)
    best, rect = 0, (0, 0, 0, 0)
    max_w = float(np.maximum(width, 0).max()) if hg else 0.0
    for top in range(hg):
        if (hg - top) * max_w <= best:
            break
        if right[top] < left[top]:
            continue
        l_run = np.maximum.accumulate(left[top:])
        r_run = np.minimum.accumulate(right[top:])
        w_run = np.maximum(r_run - l_run + 1, 0)
        area = w_run * np.arange(1, hg - top + 1)
        k = int(np.argmax(area))
        if area[k] > best:
            best = int(area[k])
            rect = (int(l_run[k]), top, int(w_run[k]), k + 1)
    return rect
