"""Verification of an estimated LQ->GT transform, apart from the estimator, and the warp that writes it.

The LQ is warped (cubic, as it is written) onto the GT grid, the largest axis-aligned rectangle covered by it
is cut out of both, and phase correlation on up to 3x3 tiles of 128 px of that overlap (a different tiling
than the tile stage's) measures what misalignment is left (:attr:`Alignment.residual` is the median shift
magnitude over textured tiles, ``residual_max`` the largest); :attr:`Alignment.correlation` is the normalised
cross-correlation of the overlap's detail (band-passed luma: Gaussian sigma 1 minus Gaussian sigma 4), which
is near 0 for two different scenes and low for an LQ whose detail is gone (heavy blur): pairs that cannot be
verified.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from gir.data.align.geometry import _round, transform_params, valid_overlap
from gir.data.align.phase import _blur, _tile_shifts


@dataclass
class Alignment:
    """The registration of one LQ image to its GT.

    matrix: float64 2x3, maps LQ pixel coordinates to GT pixel coordinates (:mod:`gir.data.align`).
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


def warp_to(lq: np.ndarray, alignment: Alignment | np.ndarray, shape: Sequence[int],
            interpolation: str = "cubic", border: str = "reflect") -> np.ndarray:
    """Draw ``lq`` (float32 HxW[xC] in [0, 1]) on the GT grid of ``shape`` (H, W[, C]): float32, clipped to [0, 1].

    alignment: an :class:`Alignment` or its LQ->GT 2x3 matrix. interpolation: "cubic" or "linear".
    border: "reflect" (mirrored LQ beyond its edges) or "constant" (black). Only the rectangle
    :func:`valid_overlap` returns is guaranteed to hold LQ content.
    """
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


def _band_pass(gray: np.ndarray) -> np.ndarray:
    return _blur(gray, 1.0) - _blur(gray, 4.0)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


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
