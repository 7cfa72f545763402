"""Upscaling, the last step of the restore path (``gir restore --scale S``, ``gir.restore(..., scale=S)``).

The photo is restored at its own size first (noise, JPEG and blur are what the experts were trained and
verified on), then enlarged by a shipped super-resolution network (one RLFN-style network for x2, x3 and x4
that works at the low resolution and upsamples at the end, :mod:`gir.models.upscale`), tiled at the low
resolution by :class:`gir.restore.engine.Restorer`:

* ``gir-upscale`` (fidelity: trained on clean MATLAB-bicubic down-sampling) for photos that showed nothing
  but down-sampling;
* ``gir-upscale-real`` (the same network fine-tuned on Real-ESRGAN's second-order degradation) for photos
  that showed more (the caller says so: the pipeline passes the families its first analysis detected), so
  that left-over JPEG blocks and noise are not sharpened into texture. Without its weights, the fidelity
  network does both.

Verified by consistency, like every step: the enlargement shrunk back with the same MATLAB bicubic the
network was trained to invert must reproduce its input within :data:`MAX_RESIDUAL` (the real-photo network,
which removes what it reads as degradation: within :data:`MAX_RESIDUAL_REAL`) (0-255 RMS; on Set5 and
Set14 the network's residual is at most 1.7 at any scale, ``benchmarks/upscale.py``). A network output that
does not, and is further from its input than plain bicubic enlargement is, is replaced by that enlargement, and
the record says so (a noisy photo is reproduced exactly by neither: the network is kept when it is closer). Without the shipped weights (or with ``model="bicubic"``) the enlargement is bicubic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gir.errors import GirError

SCALES = (1, 2, 3, 4)
UPSCALE_MODEL = "gir-upscale"
REAL_MODEL = "gir-upscale-real"
MAX_RESIDUAL = 4.0  # 0-255 RMS of (input - output shrunk back); see benchmarks/upscale.py for what it is
# The real-photo network removes the noise and JPEG it reads, so its output, shrunk back, differs from its
# input by about what it removed: 6.6 on average (at most 9.0) on Set5 / Set14 LR files given noise 5 and JPEG 60,
# where it gains over the fidelity network, and 18.6 on a real photo with noise of sigma 19 (OST_009). Its
# bound only catches a broken output.
MAX_RESIDUAL_REAL = 24.0


def parse_scale(value) -> int:
    """``--scale``: 1, 2, 3 or 4 (int or text) -> int; anything else -> one-line :class:`GirError`."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or int(number) not in SCALES:
        raise GirError(f"--scale must be 1, 2, 3 or 4 (the output is that many times the input's width and "
                       f"height), got {text!r}")
    return int(number)


def check_output_size(width: int, height: int, scale: int, limit: int | None = None, name: str = "image") -> None:
    """Refuse (before any work) an enlargement whose output would exceed the pixel limit of
    :mod:`gir.io` (``GIR_MAX_PIXELS``), naming the size."""
    from gir.io import pixel_limit

    limit = pixel_limit(name, limit)
    ow, oh = int(width) * scale, int(height) * scale
    if ow * oh > limit:
        raise GirError(f"{name}: x{scale} of {width}x{height} would be {ow}x{oh} = {ow * oh:,} pixels, over the "
                       f"limit of {limit:,}; use a smaller --scale or raise GIR_MAX_PIXELS")


def bicubic_enlarge(rgb: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-bicubic enlargement, clipped, float32."""
    from gir.degradations.matlab_resize import imresize

    out = imresize(rgb, float(scale), dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)


def shrink_residual(rgb: np.ndarray, out: np.ndarray, scale: int) -> float:
    """RMS (0-255) of ``rgb`` minus ``out`` shrunk back by MATLAB bicubic (the operator the network inverts)."""
    from gir.degradations.matlab_resize import imresize
    from gir.restore.verify import residual_rms

    return residual_rms(rgb, imresize(out, 1.0 / scale, dtype=np.float32))


@dataclass
class UpscaleRecord:
    """What the enlargement did: the method that made the output, its consistency residual, why, seconds."""

    scale: int
    method: str
    residual: float
    why: str
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"scale": self.scale, "method": self.method, "residual": round(self.residual, 3), "why": self.why,
                "seconds": round(self.seconds, 3)}

    def describe(self) -> str:
        return (f"upscale x{self.scale}: {self.method}: {self.why} [shrunk back, residual {self.residual:.2f}"
                f"/255 RMS] ({self.seconds:.2f} s)")


class Upscaler:
    """Enlarge by ``scale`` (2, 3 or 4) with the SR network ``model`` (None: the shipped ``gir-upscale``,
    bicubic when it is not installed; ``"bicubic"``: bicubic) or, for photos that showed more than
    down-sampling, ``real_model`` (None: the shipped ``gir-upscale-real`` where installed and ``model`` is
    the default), checked by :func:`shrink_residual`. device, tile, overlap, half, ensemble: as for
    :class:`gir.restore.engine.Restorer`."""

    def __init__(self, scale: int, model=None, *, real_model=None, device="auto", tile="auto", overlap: int = 16,
                 half: bool | None = None, ensemble: int | str = 1):
        self.scale = parse_scale(scale)
        self.restorer = self.real = None
        self.asked_bicubic = model == "bicubic"
        if self.scale == 1 or model == "bicubic":
            return
        from gir.models.shipped import is_shipped
        from gir.restore.engine import Restorer

        def make(spec):
            return Restorer(spec, device=device, tile=tile, overlap=overlap, half=half, impulse_repair=False,
                            ensemble=ensemble, scale=self.scale)

        if model is not None or is_shipped(UPSCALE_MODEL):
            self.restorer = make(model or UPSCALE_MODEL)
        if real_model is not None or (model is None and is_shipped(REAL_MODEL)):
            self.real = make(real_model or REAL_MODEL)

    @property
    def method(self) -> str:
        return "bicubic" if self.restorer is None else self.restorer.model.name

    def __call__(self, rgb: np.ndarray, progress: bool | str = False, degraded: tuple[str, ...] = ()
                 ) -> tuple[np.ndarray, UpscaleRecord]:
        """(float32 (s H) x (s W) x 3 in [0, 1], its record) for float32 HxWx3 ``rgb``. ``degraded``: the
        families other than down-sampling that the photo showed (the real-photo network is used for them)."""
        import time

        t0 = time.perf_counter()
        s = self.scale
        if s == 1:
            return rgb, UpscaleRecord(1, "none", 0.0, "scale 1", 0.0)
        restorer = self.real if degraded and self.real is not None else self.restorer
        if restorer is None:
            out = bicubic_enlarge(rgb, s)
            why = "" if self.asked_bicubic else "no super-resolution network installed"
            return out, UpscaleRecord(s, "bicubic", shrink_residual(rgb, out, s), why or "asked for",
                                      time.perf_counter() - t0)
        method = restorer.model.name
        chosen = (f"the photo showed {', '.join(degraded)}" if restorer is self.real else
                  "the photo showed only down-sampling" if self.real is not None else "")
        out = restorer(rgb, progress=progress)
        residual = shrink_residual(rgb, out, s)
        bound = MAX_RESIDUAL_REAL if restorer is self.real else MAX_RESIDUAL
        if residual <= bound:
            return out, UpscaleRecord(s, method, residual, "; ".join(x for x in (chosen, "consistent with its input")
                                                                     if x), time.perf_counter() - t0)
        # Noisy or impulsive photos are not reproduced exactly by any enlargement: bicubic replaces the
        # network only where it is the more consistent of the two.
        plain = bicubic_enlarge(rgb, s)
        plain_residual = shrink_residual(rgb, plain, s)
        if plain_residual < residual:
            del out  # one full-size output alive at a time
            return plain, UpscaleRecord(s, "bicubic", plain_residual,
                                        f"{method} did not reproduce its input when shrunk back "
                                        f"({residual:.2f} > {bound}, bicubic {plain_residual:.2f}); "
                                        f"bicubic instead", time.perf_counter() - t0)
        return out, UpscaleRecord(s, method, residual, f"above {bound} but closer to its input than "
                                  f"bicubic ({plain_residual:.2f}): a noisy photo", time.perf_counter() - t0)
