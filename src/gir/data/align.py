"""Registration of captured LQ/GT pairs (paper 001, section 3.2): estimate, verify, warp, crop, write.

Images are float32 HxWxC RGB (or HxW gray) in [0, 1], the project-wide contract. Registration works on a
luma image, lightly pre-blurred (Gaussian sigma ``pre_blur`` px, 1 by default) so that noise, JPEG blocks and
aliasing in the LQ do not drive the estimate, and downscaled so its longer side is at most ``max_side`` px.

Transform convention: :attr:`Alignment.matrix` is the 2x3 affine matrix that maps **LQ pixel coordinates to GT
pixel coordinates** (pixel centres at integer coordinates, x to the right, y down):
``[x_gt, y_gt] = M @ [x_lq, y_lq, 1]``. It is the matrix :func:`cv2.warpAffine` takes to draw the LQ on the GT
grid (:func:`warp_to`).

Estimators (``method``):

* ``"phase"``: phase correlation only. For ``similarity`` and ``affine`` a log-polar phase correlation of the
  two Fourier magnitude spectra first gives rotation and scale (translation-invariant; ~0.05 degrees /
  ~0.1 % accurate), then the de-rotated, de-scaled LQ's global translation; a tile stage finishes it: the LQ
  warped so far is cut into up to 4x4 tiles, each tile's shift is measured by phase correlation and the
  model is fitted (weighted least squares, one round of outlier removal) to the displaced tile centres;
  twice. ``translation`` skips the log-polar step.
* ``"ecc"``: :func:`cv2.findTransformECC` (GT as the template, the LQ as the input image) on a Gaussian
  pyramid, coarse to fine (short side >= 64 px at the top, 4 levels at most), from the centred start (a
  centred scale when the two images differ in size): it needs a start within a few px.
  ``translation`` uses MOTION_TRANSLATION, ``affine`` MOTION_AFFINE, and ``similarity`` runs MOTION_AFFINE
  and projects the result on the closest similarity (least squares over a 5x5 grid of points spanning the
  GT frame) after every level. ECC resamples the LQ bilinearly, which biases it by ~0.05 px (measured).
* ``"auto"`` (default): the coarse phase estimate (log-polar + global translation), refined by the ECC
  pyramid, then one pass of the tile stage, which removes ECC's interpolation bias. When ECC does not
  converge, the phase estimate is kept (and noted).

The phase correlation (:func:`phase_shift`) uses numpy FFTs and a Hanning window
(``cv2.createHanningWindow``); the whitened cross-power spectrum is weighted by a Gaussian low-pass, which
makes the correlation peak a Gaussian blob whose sub-pixel centre a parabola through the log of three
samples recovers (~0.01 px on clean shifts). ``cv2.phaseCorrelate`` is not used: its 5x5 centroid is biased
by up to 0.3 px at half-pixel shifts (measured on skimage's astronaut), too much for a 0.5 px budget.

Verification is separate from the estimator: the LQ is warped (cubic, as it is written) onto the GT grid, the
largest axis-aligned rectangle covered by it is cut out of both, and phase correlation on up to 3x3 tiles
of 128 px of that overlap (a different tiling than the tile stage's) measures what misalignment is left (:attr:`Alignment.residual` is the median shift magnitude over textured tiles,
``residual_max`` the largest); :attr:`Alignment.correlation` is the normalised cross-correlation of the
overlap's detail (band-passed luma: Gaussian sigma 1 minus Gaussian sigma 4), which is near 0 for two
different scenes and low for an LQ whose detail is gone (heavy blur): pairs that cannot be verified.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from gir.errors import GirError

MODELS = ("translation", "similarity", "affine")
METHODS = ("phase", "ecc", "auto")

#: Largest median tile residual of a kept pair, px (the paper-001 style acceptance budget).
DEFAULT_MAX_RESIDUAL = 0.5
#: Smallest band-passed overlap correlation of a kept pair; see :func:`estimate_transform` for the measurements.
DEFAULT_MIN_CORRELATION = 0.5
#: Smallest overlap rectangle of a kept pair, as a fraction of the GT area.
DEFAULT_MIN_OVERLAP = 0.5
#: Registration works on images downscaled to at most this many px on their longer side.
DEFAULT_MAX_SIDE = 1024

_ANGLES = 512          # log-polar angle samples over 360 degrees
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_MIN_SIDE = 24          # smaller images are refused
_TILE_MIN_STD = 0.01    # a verification tile flatter than this (luma std) is not used
_TILE_MIN_PEAK = 0.1    # ... nor one whose correlation peak is below this (no reliable shift)


# ------------------------------------------------------------------------------------------- results


@dataclass
class Alignment:
    """The registration of one LQ image to its GT.

    matrix: float64 2x3, maps LQ pixel coordinates to GT pixel coordinates (module doc).
    model, method: what was estimated and how ("translation"/"similarity"/"affine", "phase"/"ecc"/"auto").
    lq_shape, gt_shape: (height, width) of the two images.
    residual: median misalignment left after warping, px, over the verification tiles (inf when no tile
        could be measured). residual_max: the largest tile's.
    tiles: how many tiles were measured.
    correlation: normalised cross-correlation of the band-passed overlap, in [-1, 1].
    overlap: (x, y, w, h) on the GT grid, the largest rectangle fully covered by the warped LQ;
        overlap_fraction: its area over the GT area.
    ecc: the ECC correlation coefficient of the last pyramid level (None when ECC did not run or failed).
    ok: whether the estimator succeeded and the pair passed the thresholds; why: the reason when not ok
        ("" when ok); notes: what else happened (e.g. ECC did not converge and the phase estimate was kept).
    """

    matrix: np.ndarray
    model: str
    method: str
    lq_shape: tuple[int, int]
    gt_shape: tuple[int, int]
    residual: float = math.inf
    residual_max: float = math.inf
    tiles: int = 0
    correlation: float = 0.0
    overlap: tuple[int, int, int, int] = (0, 0, 0, 0)
    overlap_fraction: float = 0.0
    ecc: float | None = None
    ok: bool = False
    why: str = ""
    notes: list[str] = field(default_factory=list)

    def params(self) -> dict[str, float]:
        """dx, dy: where the LQ's centre lands on the GT grid minus the GT's centre, px; rotation: degrees,
        positive turns +x towards +y, i.e. clockwise on screen (y points down); scale: GT px per LQ px
        (square root of the determinant). An LQ whose content sits 3 px right of the GT's has dx = -3."""
        return transform_params(self.matrix, self.lq_shape, self.gt_shape)

    def to_dict(self) -> dict:
        """JSON-ready summary: dx, dy, rotation_deg, scale, matrix, residual_px, ... (floats rounded, inf/NaN
        as null)."""
        p = self.params()
        return {"ok": self.ok, "why": self.why, "model": self.model, "method": self.method,
                "dx": _round(p["dx"]), "dy": _round(p["dy"]), "rotation_deg": _round(p["rotation"]),
                "scale": _round(p["scale"], 6),
                "matrix": [[_round(v, 6) for v in row] for row in np.asarray(self.matrix).tolist()],
                "residual_px": _round(self.residual), "residual_max_px": _round(self.residual_max),
                "tiles": self.tiles, "correlation": _round(self.correlation),
                "ecc": None if self.ecc is None else _round(self.ecc),
                "overlap": list(self.overlap), "overlap_fraction": _round(self.overlap_fraction),
                "notes": list(self.notes)}


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


# ------------------------------------------------------------------------------------- matrix helpers


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


# --------------------------------------------------------------------------------------- image helpers


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
    import cv2

    if sigma <= 0:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def _resize(img: np.ndarray, f: float) -> np.ndarray:
    import cv2

    if f == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, int(round(w * f))), max(1, int(round(h * f))))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def _warp_gray(img: np.ndarray, matrix: np.ndarray, shape: Sequence[int], cubic: bool = False) -> np.ndarray:
    import cv2

    return cv2.warpAffine(img, np.asarray(matrix, dtype=np.float64), (int(shape[1]), int(shape[0])),
                          flags=cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _hann(h: int, w: int) -> np.ndarray:
    import cv2

    return cv2.createHanningWindow((int(w), int(h)), cv2.CV_32F).astype(np.float64)


# ------------------------------------------------------------------------------------ phase correlation


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
    import cv2

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


# -------------------------------------------------------------------------------------------- estimation


def _initial_matrix(lq_shape: Sequence[int], gt_shape: Sequence[int], model: str) -> np.ndarray:
    """The start: centres on each other, and for similarity/affine the LQ scaled to the GT's size
    (geometric mean of the two side ratios) when the sizes differ."""
    (hl, wl), (hg, wg) = lq_shape[:2], gt_shape[:2]
    s = 1.0 if model == "translation" else math.sqrt((hg / hl) * (wg / wl))
    c_lq = np.array([(wl - 1) / 2.0, (hl - 1) / 2.0])
    c_gt = np.array([(wg - 1) / 2.0, (hg - 1) / 2.0])
    return np.hstack([s * np.eye(2), (c_gt - s * c_lq)[:, None]])


def _phase_stage(lq: np.ndarray, gt: np.ndarray, matrix: np.ndarray, model: str, refine: bool = True
                 ) -> tuple[np.ndarray, list[str]]:
    """Refine an LQ->GT ``matrix`` by phase correlation: log-polar rotation/scale (not for translation), the
    global translation, then :func:`_tile_refine`. Returns the matrix and notes."""
    if model != "translation":
        angle, scale, _ = _rotation_scale(_warp_gray(lq, matrix, gt.shape), gt)
        centre = ((gt.shape[1] - 1) / 2.0, (gt.shape[0] - 1) / 2.0)
        matrix = _compose(_about_centre(angle, scale, centre), matrix)
    dx, dy, _ = phase_shift(_warp_gray(lq, matrix, gt.shape, cubic=True), gt)
    matrix = _compose(_translation(dx, dy), matrix)
    if not refine:
        return matrix, []
    return _tile_refine(lq, gt, matrix, model)


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


_MIN_TILES = {"translation": 1, "similarity": 3, "affine": 4}


def _tile_refine(lq: np.ndarray, gt: np.ndarray, matrix: np.ndarray, model: str, passes: int = 2,
                 grid: int = 4) -> tuple[np.ndarray, list[str]]:
    """Polish an LQ->GT ``matrix``: warp the LQ (cubic), measure the shift of up to ``grid`` x ``grid`` tiles
    of the overlap by phase correlation, fit ``model`` to the displaced tile centres (weighted by peak, one
    round of outlier removal) and compose the correction; ``passes`` times."""
    for _ in range(passes):
        x, y, w, h = valid_overlap(matrix, lq.shape, gt.shape)
        tile = min(128, max(32, min(w, h) // 2))
        if min(w, h) < 32:
            return matrix, ["overlap too small for the tile refinement"]
        warped = _warp_gray(lq, matrix, gt.shape, cubic=True)[y:y + h, x:x + w]
        centres, shifts, peaks = _tile_shifts(warped, gt[y:y + h, x:x + w], grid, tile)
        if len(centres) < _MIN_TILES[model]:
            return matrix, [f"{len(centres)} textured tile(s): tile refinement skipped"]
        src, dst = centres + shifts, centres  # the warped content at c + d belongs at c
        fit = fit_points(src, dst, model, peaks)
        err = np.hypot(*(src @ fit[:, :2].T + fit[:, 2] - dst).T)
        keep = err <= 3.0 * np.median(err) + 0.1
        if keep.sum() >= _MIN_TILES[model] and not keep.all():
            fit = fit_points(src[keep], dst[keep], model, peaks[keep])
        offset = _translation(x, y)
        matrix = _compose(offset, fit, invert_matrix(offset), matrix)
    return matrix, []


def _pyramid_levels(shape: Sequence[int], coarsest: int = 64, most: int = 4) -> int:
    """How many times to halve an image of ``shape`` for the ECC pyramid (its short side stays >= coarsest)."""
    n, side = 0, min(shape[:2])
    while n < most - 1 and side / 2 >= coarsest:
        side /= 2
        n += 1
    return n


def _ecc_stage(lq: np.ndarray, gt: np.ndarray, matrix: np.ndarray, model: str, iterations: int = 100,
               eps: float = 1e-6) -> tuple[np.ndarray, float]:
    """Refine an LQ->GT ``matrix`` by ECC on a Gaussian pyramid; returns it and the final ECC coefficient.

    Raises cv2.error when ECC does not converge at some level."""
    import cv2

    motion = cv2.MOTION_TRANSLATION if model == "translation" else cv2.MOTION_AFFINE
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, int(iterations), float(eps))
    warp = invert_matrix(matrix)  # ECC's warp maps template (GT) coordinates to input (LQ) coordinates
    coefficient = float("nan")
    for level in range(_pyramid_levels(gt.shape), -1, -1):
        f = 0.5 ** level
        s = _pixel_scale(f)
        lq_l, gt_l = _resize(lq, f), _resize(gt, f)
        w_l = _compose(s, warp, invert_matrix(s)).astype(np.float32)
        if model == "translation":
            w_l[:, :2] = np.eye(2, dtype=np.float32)
        coefficient, w_l = cv2.findTransformECC(gt_l, lq_l, w_l, motion, criteria, None, 1)
        warp = _compose(invert_matrix(s), w_l.astype(np.float64), s)
        if model == "similarity":
            warp = _fit_similarity(warp, gt.shape)
    return invert_matrix(warp), float(coefficient)


def _register(lq: np.ndarray, gt: np.ndarray, model: str, method: str, max_side: int, pre_blur: float
              ) -> tuple[np.ndarray, float | None, list[str]]:
    """LQ->GT matrix (full-resolution coordinates) of two luma images; plus the ECC coefficient and notes."""
    import cv2

    f = min(1.0, float(max_side) / max(*lq.shape, *gt.shape))
    a = _blur(_resize(lq, f), pre_blur)
    b = _blur(_resize(gt, f), pre_blur)
    matrix = _initial_matrix(a.shape, b.shape, model)
    notes: list[str] = []
    if method in ("phase", "auto"):
        matrix, notes = _phase_stage(a, b, matrix, model, refine=(method == "phase"))
    coefficient = None
    if method in ("ecc", "auto"):
        try:
            matrix, coefficient = _ecc_stage(a, b, matrix, model)
        except cv2.error:
            if method == "ecc":
                raise _EstimateFailed("ECC did not converge") from None
            notes.append("ECC did not converge; kept the phase-correlation estimate")
    if method == "auto":
        matrix, more = _tile_refine(a, b, matrix, model, passes=1 if coefficient is not None else 2)
        notes += more
    if model == "similarity":
        matrix = _fit_similarity(matrix, a.shape)
    elif model == "translation":
        matrix = np.hstack([np.eye(2), matrix[:, 2:]])
    _check_matrix(matrix)
    s = _pixel_scale(f)
    return _compose(invert_matrix(s), matrix, s), coefficient, notes


def _check_matrix(matrix: np.ndarray) -> None:
    """Raise _EstimateFailed for a non-finite or degenerate estimate (scale change over 10x, or a flip)."""
    m = np.asarray(matrix)
    det = float(np.linalg.det(m[:, :2])) if np.all(np.isfinite(m)) else float("nan")
    if not 0.01 <= det <= 100.0:
        raise _EstimateFailed(f"degenerate transform estimate (determinant {det:.3g})")


class _EstimateFailed(Exception):
    """The estimator found no transform (the message says why)."""


# ------------------------------------------------------------------------------------ warp and overlap


def warp_to(lq: np.ndarray, alignment: Alignment | np.ndarray, shape: Sequence[int],
            interpolation: str = "cubic", border: str = "reflect") -> np.ndarray:
    """Draw ``lq`` (float32 HxW[xC] in [0, 1]) on the GT grid of ``shape`` (H, W[, C]): float32, clipped to [0, 1].

    alignment: an :class:`Alignment` or its LQ->GT 2x3 matrix. interpolation: "cubic" or "linear".
    border: "reflect" (mirrored LQ beyond its edges) or "constant" (black). Only the rectangle
    :func:`valid_overlap` returns is guaranteed to hold LQ content.
    """
    import cv2

    matrix = alignment.matrix if isinstance(alignment, Alignment) else np.asarray(alignment)
    interp = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}.get(interpolation)
    mode = {"reflect": cv2.BORDER_REFLECT, "constant": cv2.BORDER_CONSTANT}.get(border)
    if interp is None or mode is None:
        raise ValueError(f"interpolation must be cubic/linear and border reflect/constant, got "
                         f"{interpolation!r}, {border!r}")
    src = np.asarray(lq, dtype=np.float32)
    out = cv2.warpAffine(src, np.asarray(matrix, dtype=np.float64), (int(shape[1]), int(shape[0])), flags=interp,
                         borderMode=mode, borderValue=0)
    if src.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0)


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


# -------------------------------------------------------------------------------------------- verification


def _band_pass(gray: np.ndarray) -> np.ndarray:
    return _blur(gray, 1.0) - _blur(gray, 4.0)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _tile_origins(size: int, tile: int, n: int) -> list[int]:
    if size <= tile:
        return [0]
    return sorted({int(round(v)) for v in np.linspace(0, size - tile, n)})


def tile_residuals(lq_on_gt: np.ndarray, gt: np.ndarray, tile: int = 128, grid: int = 3, pre_blur: float = 1.0
                   ) -> np.ndarray:
    """Misalignment left between two same-size luma crops: the phase-correlation shift magnitude (px) of
    each of up to ``grid`` x ``grid`` tiles (side ``tile``, or the crop's short side when smaller) that has
    texture (luma std >= 0.01 in both) and a clear correlation peak (>= 0.1). Empty when none qualifies."""
    if min(gt.shape) < 16:
        return np.zeros(0)
    _, shifts, _ = _tile_shifts(_blur(lq_on_gt, pre_blur), _blur(gt, pre_blur), grid, tile)
    return np.hypot(shifts[:, 0], shifts[:, 1])


def _verify(result: Alignment, lq_gray: np.ndarray, gt_gray: np.ndarray, max_residual: float,
            min_correlation: float, min_overlap: float, pre_blur: float) -> Alignment:
    """Fill in overlap, residual, correlation, ok and why of ``result`` (the matrix is set)."""
    x, y, w, h = valid_overlap(result.matrix, lq_gray.shape, gt_gray.shape)
    result.overlap = (x, y, w, h)
    result.overlap_fraction = w * h / float(gt_gray.shape[0] * gt_gray.shape[1])
    if min(w, h) >= 16:
        warped = warp_to(lq_gray, result.matrix, gt_gray.shape)[y:y + h, x:x + w]
        crop = gt_gray[y:y + h, x:x + w]
        result.correlation = _ncc(_band_pass(warped), _band_pass(crop))
        res = tile_residuals(warped, crop, pre_blur=pre_blur)
        result.tiles = int(res.size)
        if res.size:
            result.residual, result.residual_max = float(np.median(res)), float(res.max())
    result.why = _rejection(result, max_residual, min_correlation, min_overlap)
    result.ok = not result.why
    return result


def _rejection(r: Alignment, max_residual: float, min_correlation: float, min_overlap: float) -> str:
    """The first failed check, or "": correlation (when an overlap could be measured), overlap, residual."""
    measured = min(r.overlap[2:]) >= 16
    if measured and r.correlation < min_correlation:
        return f"correlation {r.correlation:.2f} < {min_correlation:.2f} (different scene or detail lost)"
    if r.overlap_fraction < min_overlap:
        return f"overlap {100 * r.overlap_fraction:.0f}% of the GT < {100 * min_overlap:.0f}%"
    if r.correlation < min_correlation:
        return f"correlation {r.correlation:.2f} < {min_correlation:.2f} (different scene or detail lost)"
    if r.tiles == 0:
        return "no textured tile to verify the alignment on"
    if not r.residual <= max_residual:
        return f"residual {r.residual:.2f} px > {max_residual:.2f} px"
    return ""


def estimate_transform(lq: np.ndarray, gt: np.ndarray, model: str = "similarity", method: str = "auto", *,
                       max_residual: float = DEFAULT_MAX_RESIDUAL,
                       min_correlation: float = DEFAULT_MIN_CORRELATION,
                       min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                       pre_blur: float = 1.0) -> Alignment:
    """Register ``lq`` to ``gt`` and verify the result (module doc).

    lq, gt: float32 HxWxC RGB (or HxW) in [0, 1]; they may differ in size. model: "translation",
    "similarity" or "affine"; method: "phase", "ecc" or "auto". The returned :class:`Alignment` has
    ``ok=False`` and a one-line ``why`` when the estimator failed or a threshold is not met:

    * max_residual (px, default 0.5): median tile residual. Measured by benchmarks/align_synthetic.py
      (384 px windows of 15 photos, shifts <= 20 px, rotation <= 3 degrees, scale 0.97-1.03, 40 pairs per
      condition): with phase or auto the median residual is 0.002-0.03 px and the true error at most
      0.17 px, clean or with noise sigma 10/255, blur sigma 1 or JPEG q40, and no such pair is rejected;
      a translation model fitted to a pair rotated by 1.5 degrees shows 0.6 px, different scenes > 4 px.
      0.5 px leaves a wide margin for real captures (noisier, slightly non-rigid) while refusing pairs
      whose misalignment a pixel loss would notice.
    * min_correlation (default 0.5): band-passed NCC of the overlap (Gaussian sigma 1 minus sigma 4 of
      the luma). Measured on exactly aligned 8-bit 256 px crops: clean 1.0; noise sigma 10/255 >= 0.92,
      25/255 >= 0.68; JPEG q40 >= 0.98, q20 >= 0.96; blur sigma 1 >= 0.97, 2 >= 0.85, 3 >= 0.74; blur
      sigma 8 0.27-0.42; different scenes |c| <= 0.17 (also after registration). 0.5 sits between blur
      sigma 3 and 8: an LQ blurred with sigma 8 has lost the detail that sub-pixel registration and its
      verification need (its tile residual stays deceptively low, 0.2-0.7 px, while the transform is off by
      ~2-5 px), so such pairs are refused rather than kept misaligned.
    * min_overlap (default 0.5): the overlap rectangle's share of the GT area.

    max_side: registration runs on copies downscaled to this longer side (verification at full size).
    pre_blur: Gaussian sigma (px) applied to both luma images before estimating and verifying.
    Raises ValueError for an unknown model/method or an image that is not HxW[xC] or under 24 px a side.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    lq_gray = _gray(_as_image(lq, "lq"))
    gt_gray = _gray(_as_image(gt, "gt"))
    result = Alignment(matrix=_initial_matrix(lq_gray.shape, gt_gray.shape, model), model=model, method=method,
                       lq_shape=tuple(lq_gray.shape), gt_shape=tuple(gt_gray.shape))
    try:
        result.matrix, result.ecc, result.notes = _register(lq_gray, gt_gray, model, method, max_side, pre_blur)
    except _EstimateFailed as e:
        result.why = str(e)
        return result
    except np.linalg.LinAlgError as e:
        result.why = f"degenerate transform estimate ({e})"
        return result
    return _verify(result, lq_gray, gt_gray, max_residual, min_correlation, min_overlap, pre_blur)


# ----------------------------------------------------------------------------------------- batch of pairs


@dataclass
class PairResult:
    """One pair of a batch: ``name`` is the file name written under OUT/lq and OUT/gt (when kept)."""

    name: str
    lq: str
    gt: str
    kept: bool = False
    why: str = ""
    alignment: Alignment | None = None
    frame_error: float | None = None
    size: tuple[int, int] | None = None  # (width, height) of the written crops

    def to_dict(self) -> dict:
        row = {"name": self.name, "lq": self.lq, "gt": self.gt, "kept": self.kept, "why": self.why}
        if self.frame_error is not None:
            row["frame_error_s"] = _round(self.frame_error, 6)
        if self.size is not None:
            row["width"], row["height"] = self.size
        if self.alignment is not None:
            detail = self.alignment.to_dict()
            for key in ("ok", "why"):
                detail.pop(key)
            row.update(detail)
        return row


@dataclass
class AlignReport:
    """What :func:`align_pairs` / :func:`align_frames` did: one :class:`PairResult` per pair, in order."""

    out_dir: Path
    settings: dict
    pairs: list[PairResult]
    unmatched: dict | None = None  # frame mode: {"lq": n, "gt": n} frames left without a partner

    @property
    def kept(self) -> list[PairResult]:
        return [p for p in self.pairs if p.kept]

    @property
    def rejected(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.kept]

    def to_dict(self) -> dict:
        out = {"settings": self.settings, "kept": len(self.kept), "rejected": len(self.rejected),
               "pairs": [p.to_dict() for p in self.pairs]}
        if self.unmatched is not None:
            out["unmatched_frames"] = self.unmatched
        return out

    def table(self) -> str:
        """A plain-text table: name, kept/rejected, dx, dy, rotation, scale, residual, correlation, why."""
        head = ("name", "status", "dx", "dy", "rot", "scale", "resid px", "corr", "why")
        rows = [head]
        for p in self.pairs:
            a = p.alignment
            if a is None:
                nums = ("-",) * 6
            else:
                q = a.params()
                nums = (f"{q['dx']:+.2f}", f"{q['dy']:+.2f}", f"{q['rotation']:+.3f}", f"{q['scale']:.4f}",
                        f"{a.residual:.3f}" if math.isfinite(a.residual) else "-", f"{a.correlation:.2f}")
            rows.append((p.name, "kept" if p.kept else "rejected", *nums, p.why))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
        lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 + "  " + r[-1] for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def summary(self) -> str:
        extra = ""
        if self.unmatched:
            extra = f"; frames without a partner: {self.unmatched['lq']} LQ, {self.unmatched['gt']} GT"
        return (f"kept {len(self.kept)} of {len(self.pairs)} pair(s), rejected {len(self.rejected)}{extra}; "
                f"wrote {self.out_dir / 'report.json'}")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if isinstance(e, GirError) and text else f"{type(e).__name__}: {text}".rstrip(": ")


def _check_folder(path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise GirError(f"{p}: {what} folder does not exist" if not p.exists() else f"{p}: {what} is not a folder")
    return p


def _prepare_out(out_dir, names: Sequence[str], overwrite: bool) -> Path:
    """Create OUT/lq and OUT/gt; refuse (GirError) when an output file exists and not ``overwrite``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GirError(f"{out}: exists and is not a folder")
    if not overwrite:
        planned = [out / "report.json", out / "report.txt"]
        planned += [out / sub / n for n in names for sub in ("lq", "gt")]
        existing = [p for p in planned if p.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise GirError(f"{existing[0]}: already exists{more}; pass overwrite=True (--overwrite) to replace")
    for sub in ("lq", "gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def _align_one(item: PairResult, out: Path, kwargs: dict) -> None:
    """Register, crop and write one pair (fills ``item``; exceptions propagate to the caller)."""
    from gir.io import read_image, write_image

    lq_img, gt_img = read_image(item.lq), read_image(item.gt)
    a = estimate_transform(lq_img.rgb, gt_img.rgb, **kwargs)
    item.alignment = a
    if not a.ok:
        item.why = a.why
        return
    x, y, w, h = a.overlap
    lq_crop = warp_to(lq_img.rgb, a, gt_img.rgb.shape)[y:y + h, x:x + w]
    gt_crop = gt_img.rgb[y:y + h, x:x + w]
    write_image(out / "lq" / item.name, lq_crop, bit_depth=lq_img.bit_depth, gray=lq_img.gray)
    write_image(out / "gt" / item.name, gt_crop, bit_depth=gt_img.bit_depth, gray=gt_img.gray)
    item.kept, item.size = True, (w, h)


def _run_batch(items: list[PairResult], out_dir, overwrite: bool, settings: dict, kwargs: dict,
               unmatched: dict | None = None, log=None) -> AlignReport:
    from gir.batch import atomic_write_text

    out = _prepare_out(out_dir, [it.name for it in items], overwrite)
    for item in items:
        try:
            _align_one(item, out, kwargs)
        except Exception as e:  # noqa: BLE001 - one bad pair never stops the batch; the report says why
            item.kept, item.why = False, _one_line(e)
        if not item.kept:
            for sub in ("lq", "gt"):  # with overwrite, drop what an earlier run kept under this name
                (out / sub / item.name).unlink(missing_ok=True)
        if log is not None:
            log(f"{item.name}: {'kept' if item.kept else 'rejected: ' + item.why}")
    report = AlignReport(out, settings, items, unmatched)
    atomic_write_text(out / "report.json", json.dumps(report.to_dict(), indent=1) + "\n")
    atomic_write_text(out / "report.txt", report.table() + "\n\n" + report.summary() + "\n")
    return report


def _settings(model, method, max_residual, min_correlation, min_overlap, max_side) -> tuple[dict, dict]:
    if model not in MODELS:
        raise GirError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if method not in METHODS:
        raise GirError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not max_residual > 0:
        raise GirError(f"max_residual must be > 0 px, got {max_residual!r}")
    if not 0 <= min_overlap <= 1:
        raise GirError(f"min_overlap must be in [0, 1], got {min_overlap!r}")
    if int(max_side) < 64:
        raise GirError(f"max_side must be >= 64 px, got {max_side!r}")
    kwargs = {"model": model, "method": method, "max_residual": float(max_residual),
              "min_correlation": float(min_correlation), "min_overlap": float(min_overlap),
              "max_side": int(max_side)}
    return dict(kwargs), kwargs


def align_pairs(lq_dir, gt_dir, out_dir, model: str = "similarity", method: str = "auto",
                max_residual: float = DEFAULT_MAX_RESIDUAL, min_correlation: float = DEFAULT_MIN_CORRELATION,
                min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                overwrite: bool = False, log=None) -> AlignReport:
    """Register every LQ image of ``lq_dir`` to the GT of the same file stem in ``gt_dir`` and write the
    aligned crops.

    Files are paired by stem (:func:`gir.data.datasets.match_pairs`, the folders' own files, not
    sub-folders); a GT without an LQ is an error (GirError), an LQ without a GT is ignored. Each pair is
    registered by :func:`estimate_transform` (model, method and thresholds as there) and, when it passes,
    the LQ warped onto the GT grid and the GT are cropped to the overlap rectangle and written as PNG:
    ``OUT/lq/NAME`` and ``OUT/gt/NAME`` with NAME = the GT's stem + ".png", same size, 8 or 16 bits like
    the source (gray sources stay gray; alpha is dropped). ``OUT/report.json`` lists every pair (kept or
    rejected, why, dx/dy/rotation/scale, matrix, residual, correlation, overlap) and ``OUT/report.txt``
    holds :meth:`AlignReport.table` and the summary line.

    An unreadable or unregistrable pair is rejected with its reason; the batch goes on. Existing outputs
    are refused (GirError, before anything is written) unless ``overwrite``; with ``overwrite`` the outputs
    of pairs rejected now are removed, so the folder matches the report. Deterministic. ``log``: called
    with one line per pair. Raises GirError for missing folders, unpairable folders and bad settings.
    """
    from gir.data.datasets import match_pairs
    from gir.errors import ConfigError

    settings, kwargs = _settings(model, method, max_residual, min_correlation, min_overlap, max_side)
    lq_root, gt_root = _check_folder(lq_dir, "LQ"), _check_folder(gt_dir, "GT")
    try:
        pairs = match_pairs(lq_root, gt_root, recursive=False, key="align")
    except ConfigError as e:
        raise GirError(f"cannot pair {lq_root} with {gt_root}: {e}") from None
    items = [PairResult(name=g.stem + ".png", lq=str(q), gt=str(g)) for q, g in pairs]
    settings.update(lq_dir=str(lq_root), gt_dir=str(gt_root), mode="pairs")
    return _run_batch(items, out_dir, overwrite, settings, kwargs, log=log)


# ------------------------------------------------------------------------------------------------ frames

TIMES_FILES = ("times.txt", "times.csv")


def _natural_key(name: str) -> list:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _frame_files(folder: Path) -> list[Path]:
    from gir.data.folders import IMAGE_SUFFIXES

    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _parse_times(path: Path) -> list[tuple[Path, float]]:
    """Read ``filename time_seconds`` lines (whitespace or comma separated; '#' comments, a header line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GirError(f"{path}: cannot read ({_one_line(e)})") from None
    out: list[tuple[Path, float]] = []
    seen: set[str] = set()
    first = True
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header_allowed, first = first, False
        parts = [s.strip() for s in (line.rsplit(",", 1) if "," in line else line.rsplit(None, 1))]
        if len(parts) != 2 or not parts[0]:
            raise GirError(f"{path}:{number}: expected 'filename time_seconds', got {line!r}")
        try:
            t = float(parts[1])
        except ValueError:
            if header_allowed:  # e.g. "filename,time"
                continue
            raise GirError(f"{path}:{number}: {parts[1]!r} is not a time in seconds") from None
        if not math.isfinite(t):
            raise GirError(f"{path}:{number}: time {parts[1]!r} is not finite")
        frame = path.parent / parts[0]
        if not frame.is_file():
            raise GirError(f"{path}:{number}: frame file {frame} does not exist")
        if parts[0] in seen:
            raise GirError(f"{path}:{number}: frame {parts[0]} is listed twice")
        seen.add(parts[0])
        out.append((frame, t))
    if not out:
        raise GirError(f"{path}: lists no frames")
    return out


def read_frame_times(folder, fps: float | None = None) -> list[tuple[Path, float]]:
    """(frame file, time in seconds) of a frame folder, in time order.

    With ``fps``: the folder's images in natural name order (frame_2 before frame_10), frame k at k / fps.
    Without: the folder's ``times.txt`` or ``times.csv``, one ``filename time_seconds`` per line (whitespace
    or a comma between; blank lines, '#' comments and one header line are skipped; names are relative to
    the folder). Raises GirError for a missing folder, no frames, no fps and no times file, a bad line.
    """
    root = _check_folder(folder, "frame")
    if fps is not None:
        if not float(fps) > 0:
            raise GirError(f"{root}: fps must be > 0, got {fps!r}")
        files = _frame_files(root)
        if not files:
            raise GirError(f"{root}: no frame images")
        return [(p, k / float(fps)) for k, p in enumerate(files)]
    for name in TIMES_FILES:
        if (root / name).is_file():
            frames = _parse_times(root / name)
            return sorted(frames, key=lambda ft: ft[1])
    raise GirError(f"{root}: no {' or '.join(TIMES_FILES)} in the folder; give its frame rate (fps)")


def match_frames(lq_times: Sequence[float], gt_times: Sequence[float], max_error: float | None = None
                 ) -> list[tuple[int, int, float]]:
    """Pair LQ frames with GT frames by timing: a list of (i, j, |lq_times[i] - gt_times[j]|).

    Each LQ frame takes the GT frame nearest in time (ties: the earlier GT frame); when several LQ frames
    take the same GT frame, only the one with the smallest error keeps it (ties: the earlier LQ frame) and
    the others stay unmatched, so the pairing is one-to-one. Nearest-neighbour assignment of sorted times
    is non-decreasing, so the result is monotone: sorted by LQ time, GT times strictly increase. Pairs
    with an error over ``max_error`` (seconds) are dropped. Indices refer to the given sequences, which
    need not be sorted. O((n + m) log m), greedy (not a global optimum of the summed error).
    """
    lq = np.asarray(lq_times, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt_times, dtype=np.float64).reshape(-1)
    if lq.size == 0 or gt.size == 0:
        return []
    gt_order = np.argsort(gt, kind="stable")
    gt_sorted = gt[gt_order]
    best: dict[int, tuple[float, int]] = {}
    for i in np.argsort(lq, kind="stable"):
        k = int(np.searchsorted(gt_sorted, lq[i]))
        candidates = [c for c in (k - 1, k) if 0 <= c < gt_sorted.size]
        c = min(candidates, key=lambda c: (abs(gt_sorted[c] - lq[i]), c))
        err = abs(float(gt_sorted[c] - lq[i]))
        if max_error is not None and err > max_error:
            continue
        j = int(gt_order[c])
        if j not in best or err < best[j][0]:
            best[j] = (err, int(i))
    pairs = [(i, j, err) for j, (err, i) in best.items()]
    return sorted(pairs, key=lambda p: (lq[p[0]], p[0]))


def align_frames(lq_dir, gt_dir, out_dir, lq_fps: float | None = None, gt_fps: float | None = None,
                 max_frame_error: float | None = None, model: str = "similarity", method: str = "auto",
                 max_residual: float = DEFAULT_MAX_RESIDUAL, min_correlation: float = DEFAULT_MIN_CORRELATION,
                 min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                 overwrite: bool = False, log=None) -> AlignReport:
    """:func:`align_pairs` for two frame folders (e.g. two videos' frames, synchronised on a marker).

    Frame times come from :func:`read_frame_times` (``lq_fps`` / ``gt_fps``, else each folder's times
    file), frames are paired by :func:`match_frames` (one-to-one, smallest timing error, at most
    ``max_frame_error`` seconds), and each matched pair is registered and written like a pair of
    :func:`align_pairs` under the GT frame's stem + ".png"; the report adds each pair's timing error and
    how many frames were left without a partner.
    """
    settings, kwargs = _settings(model, method, max_residual, min_correlation, min_overlap, max_side)
    if max_frame_error is not None and not max_frame_error >= 0:
        raise GirError(f"max_frame_error must be >= 0 seconds, got {max_frame_error!r}")
    lq = read_frame_times(lq_dir, lq_fps)
    gt = read_frame_times(gt_dir, gt_fps)
    matches = match_frames([t for _, t in lq], [t for _, t in gt], max_frame_error)
    names = [gt[j][0].stem + ".png" for _, j, _ in matches]
    if len(set(names)) != len(names):
        raise GirError(f"{gt_dir}: two GT frames share a file stem; rename them")
    items = [PairResult(name=n, lq=str(lq[i][0]), gt=str(gt[j][0]), frame_error=err)
             for n, (i, j, err) in zip(names, matches)]
    settings.update(lq_dir=str(lq_dir), gt_dir=str(gt_dir), mode="frames", lq_fps=lq_fps, gt_fps=gt_fps,
                    max_frame_error=max_frame_error)
    unmatched = {"lq": len(lq) - len(matches), "gt": len(gt) - len(matches)}
    return _run_batch(items, out_dir, overwrite, settings, kwargs, unmatched=unmatched, log=log)
