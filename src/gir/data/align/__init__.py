"""Registration of captured LQ/GT pairs (paper 001, section 3.2): estimate, verify, warp, crop, write.

Images are float32 HxWxC RGB (or HxW gray) in [0, 1], the project-wide contract. Registration works on a
luma image, lightly pre-blurred (Gaussian sigma ``pre_blur`` px, 1 by default) so that noise, JPEG blocks and
aliasing in the LQ do not drive the estimate, and downscaled so its longer side is at most ``max_side`` px.

Transform convention: :attr:`Alignment.matrix` is the 2x3 affine matrix that maps **LQ pixel coordinates to GT
pixel coordinates** (pixel centres at integer coordinates, x to the right, y down):
``[x_gt, y_gt] = M @ [x_lq, y_lq, 1]``. It is the matrix :func:`cv2.warpAffine` takes to draw the LQ on the GT
grid (:func:`warp_to`).

Estimation (:func:`estimate_transform`, :mod:`~gir.data.align.estimate`): phase correlation, ECC or both,
then a tile stage; verification (:mod:`~gir.data.align.verify`) is separate from the estimator and measures the
misalignment left on tiles of the overlap, and how much detail the two share.

The package, by concern: :mod:`~gir.data.align.defaults` (models, estimators, thresholds),
:mod:`~gir.data.align.geometry` (LQ->GT matrices), :mod:`~gir.data.align.phase` (image helpers, phase
correlation), :mod:`~gir.data.align.estimate` (:func:`estimate_transform`), :mod:`~gir.data.align.verify`
(:class:`Alignment`, residuals, :func:`warp_to`), :mod:`~gir.data.align.pairs` (:func:`align_pairs`) and
:mod:`~gir.data.align.frames` (:func:`align_frames`). Importing the package loads only the defaults (the
command-line parser reads them); the names below load their module, and OpenCV, on first use.
"""
from __future__ import annotations

import importlib

from gir.data.align.defaults import (DEFAULT_MAX_RESIDUAL, DEFAULT_MAX_SIDE, DEFAULT_MIN_CORRELATION,  # noqa: F401
                                     DEFAULT_MIN_OVERLAP, METHODS, MODELS)

_EXPORTS = {
    **dict.fromkeys(("transform_params", "invert_matrix", "fit_points", "corner_error", "valid_overlap",
                     "_compose", "_about_centre", "_translation"), "geometry"),
    **dict.fromkeys(("phase_shift",), "phase"),
    **dict.fromkeys(("Alignment", "warp_to", "tile_residuals"), "verify"),
    **dict.fromkeys(("estimate_transform",), "estimate"),
    **dict.fromkeys(("PairResult", "AlignReport", "align_pairs"), "pairs"),
    **dict.fromkeys(("read_frame_times", "match_frames", "align_frames"), "frames"),
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gir.data.align.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gir.data.align' has no attribute {name!r}")


__all__ = ["DEFAULT_MAX_RESIDUAL", "DEFAULT_MAX_SIDE", "DEFAULT_MIN_CORRELATION", "DEFAULT_MIN_OVERLAP", "METHODS",
           "MODELS", *(n for n in _EXPORTS if not n.startswith("_"))]
