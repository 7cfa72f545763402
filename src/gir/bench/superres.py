"""The super-resolution protocol of the literature, shared by training validation (objective ``upscale``),
``benchmarks/upscale.py`` and the tests, so that they score one model identically:

* ground truth: each clean image cropped at the bottom / right to a multiple of the scale ("modcrop");
* input: MATLAB ``imresize(gt, 1 / scale)`` (bicubic, antialiased: :mod:`gir.degradations.matlab_resize`)
  stored as 8 bits, as the published LR files are;
* score: PSNR / SSIM on BT.601 Y (one-channel files on their gray values: :func:`load_sr_images`) with ``scale`` pixels shaved from each
  border, of the output as saved (clipped, 8 bits); the baseline ("input" in the tables) is MATLAB's bicubic
  enlargement of the LR image.

Calibrated on Set5 / Set14 against the published bicubic 33.66 / 30.39 / 28.42 and 30.24 / 27.55 / 26.00 dB
at x2 / x3 / x4 (tests/test_upscale.py).
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from gir.data.pairs import Pair
from gir.data.patches import quantize
from gir.degradations.matlab_resize import imresize


def modcrop(gt: np.ndarray, scale: int) -> np.ndarray:
    """``gt`` cropped at the bottom / right so that H and W are multiples of ``scale``."""
    h, w = gt.shape[:2]
    return gt[: h - h % scale, : w - w % scale]


def low_resolution(gt: np.ndarray, scale: int) -> np.ndarray:
    """The LR file of a (modcropped) HR image: MATLAB bicubic down by ``scale``, 8-bit levels, float32."""
    return quantize(np.clip(imresize(gt, 1.0 / scale), 0.0, 1.0))


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: MATLAB ``imresize(lr, scale)``, float32 (unclipped)."""
    return imresize(lr, float(scale)).astype(np.float32)


def load_sr_images(folder) -> Iterator[tuple[str, str, np.ndarray]]:
    """(folder name, file name, float32 image) for the images of ``folder``, sorted: HxWx3, or HxWx1 for a
    one-channel file (scored on its gray values, as the literature does)."""
    from pathlib import Path

    from gir.data.folders import list_images
    from gir.io import read_image

    folder = Path(folder)
    for path in list_images([folder], key=str(folder)):
        img = read_image(path)
        yield folder.name, Path(path).name, img.rgb[..., :1] if img.gray else img.rgb


def rgb_only(method):
    """``method`` (lr HxWx3, scale) -> HR HxWx3, made to take one-channel LR files too: they go in repeated to
    RGB and the mean of the output's channels comes back (HxWx1), as the gray ground truth is scored."""

    def wrapped(lr: np.ndarray, scale):
        if lr.shape[2] != 1:
            return method(lr, scale)
        return method(np.repeat(lr, 3, 2), scale).mean(2, keepdims=True)

    return wrapped


def sr_pairs(images: Iterable[tuple[str, str, np.ndarray]], scales: Sequence[int]) -> Iterator[Pair]:
    """One :class:`Pair` per (image, scale): task ``x<scale>``, ``lq`` the LR file, ``gt`` the modcropped
    image, ``told`` the scale. ``images`` yields (data set, name, float32 HxWx3 or HxWx1 gray)."""
    for dataset, name, gt in images:
        for s in scales:
            hr = modcrop(gt, s)
            yield Pair(f"x{s}", dataset, name, low_resolution(hr, s), hr, int(s))
