"""Image quality metrics: full-reference PSNR and SSIM (MATLAB conventions) and their registry.

``METRICS.build({"type": "psnr_y", "crop_border": 4})`` returns a :class:`Metric`, a callable
``(img, ref) -> float``. Registered: ``psnr``, ``ssim`` (RGB, or gray as given; ``y_channel`` may be set)
and ``psnr_y``, ``ssim_y`` (BT.601 luma only). Each factory takes ``crop_border`` (default 0).
``niqe`` is no-reference (``metric(img)``, lower is better; option ``model``: a pristine ``.npz`` path,
default the shipped one); see :mod:`gir.metrics.niqe` (``from gir.metrics.niqe import niqe``).

Importing this package needs only numpy and OpenCV (no torch).
"""
from __future__ import annotations

from gir.metrics.base import METRICS, Metric
from gir.metrics.color import rgb_to_y
from gir.metrics.fidelity import gaussian_window, psnr, score_restored, ssim
from gir.metrics.niqe import load_pristine
from gir.metrics.niqe import niqe as _niqe  # the name gir.metrics.niqe stays the module


def _register_fidelity(name: str, fn, y_only: bool) -> None:
    def factory(crop_border: int = 0, **kw) -> Metric:
        if y_only and "y_channel" in kw:
            raise TypeError(f"metric {name!r} always uses the Y channel; do not pass y_channel")
        y_channel = kw.pop("y_channel", y_only)
        if kw:
            raise TypeError(f"metric {name!r} got unknown option(s) {sorted(kw)}; known: crop_border"
                            + ("" if y_only else ", y_channel"))
        if int(crop_border) < 0:
            raise ValueError(f"metric {name!r}: crop_border must be >= 0, got {crop_border!r}")
        return Metric(name, fn, {"crop_border": int(crop_border), "y_channel": bool(y_channel)})

    factory.__name__ = f"{name}_metric"
    factory.__doc__ = f"Build {name!r}: {fn.__name__}(img, ref, crop_border, y_channel={y_only or 'False'})."
    METRICS.add(name, factory)


_register_fidelity("psnr", psnr, y_only=False)
_register_fidelity("ssim", ssim, y_only=False)
_register_fidelity("psnr_y", psnr, y_only=True)
_register_fidelity("ssim_y", ssim, y_only=True)


def _niqe_metric(crop_border: int = 0, model: str | None = None) -> Metric:
    """Build 'niqe': niqe(img, model, crop_border); ``model`` is a pristine .npz path (None: the shipped one)."""
    if int(crop_border) < 0:
        raise ValueError(f"metric 'niqe': crop_border must be >= 0, got {crop_border!r}")
    options = {"crop_border": int(crop_border), "model": None if model is None else load_pristine(model)}
    return Metric("niqe", _niqe, options, higher_is_better=False, needs_reference=False)


METRICS.add("niqe", _niqe_metric)

__all__ = ["METRICS", "Metric", "psnr", "ssim", "score_restored", "rgb_to_y", "gaussian_window"]
