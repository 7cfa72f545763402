"""Estimation of the LQ->GT transform (:func:`estimate_transform`): a coarse start, phase correlation, ECC and
the tile stage, then the verification of :mod:`gir.data.align.verify`.

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
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from gir.data.align.defaults import (DEFAULT_MAX_RESIDUAL, DEFAULT_MAX_SIDE, DEFAULT_MIN_CORRELATION,
                                     DEFAULT_MIN_OVERLAP, METHODS, MODELS)
from gir.data.align.geometry import (_about_centre, _compose, _fit_similarity, _pixel_scale, _translation,
                                     fit_points, invert_matrix, valid_overlap)
from gir.data.align.phase import (_as_image, _blur, _gray, _resize, _rotation_scale, _tile_shifts, _warp_gray,
                                  phase_shift)
from gir.data.align.verify import Alignment, _verify


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


def estimate_transform(lq: np.ndarray, gt: np.ndarray, model: str = "similarity", method: str = "auto", *,
                       max_residual: float = DEFAULT_MAX_RESIDUAL,
                       min_correlation: float = DEFAULT_MIN_CORRELATION,
                       min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                       pre_blur: float = 1.0) -> Alignment:
    """Register ``lq`` to ``gt`` and verify the result (see the module doc).

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
