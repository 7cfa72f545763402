"""Upscaling, the last step of the restore path (``gir restore --scale S``, ``gir.restore(..., scale=S)``).

The photo is restored at its own size first (noise, JPEG and blur are what the experts were trained and
verified on), then enlarged by the shipped super-resolution network (``gir-upscale``: one RLFN-style network
for x2, x3 and x4 that works at the low resolution and upsamples at the end, :mod:`gir.models.upscale`),
tiled at the low resolution by :class:`gir.restore.engine.Restorer`.

Verified by consistency, like every step: the enlargement shrunk back with the same MATLAB bicubic the
network was trained to invert must reproduce its input within :data:`MAX_RESIDUAL` (0-255 RMS; on Set5 and
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
MAX_RESIDUAL = 4.0  # 0-255 RMS of (input - output shrunk back); see benchmarks/upscale.py for what it is


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
    from gir.io import _pixel_limit

    limit = _pixel_limit(name, limit)
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
    bicubic when it is not installed; ``"bicubic"``: bicubic), checked by :func:`shrink_residual`.
    device, tile, overlap, half, ensemble: as for :class:`gir.restore.engine.Restorer`."""

    def __init__(self, scale: int, model=None, *, device="auto", tile="auto", overlap: int = 16,
                 half: bool | None = None, ensemble: int | str = 1):
        self.scale = parse_scale(scale)
        self.restorer = None
        if self.scale == 1 or model == "bicubic":
            return
        from gir.models.shipped import is_shipped
        from gir.restore.engine import Restorer

        if model is None and not is_shipped(UPSCALE_MODEL):
            return
        self.restorer = Restorer(model or UPSCALE_MODEL, device=device, tile=tile, overlap=overlap, half=half,
                                 impulse_repair=False, ensemble=ensemble, scale=self.scale)

    @property
    def method(self) -> str:
        return "bicubic" if self.restorer is None else self.restorer.model.name

    def __call__(self, rgb: np.ndarray, progress: bool | str = False) -> tuple[np.ndarray, UpscaleRecord]:
        """(float32 (s H) x (s W) x 3 in [0, 1], its record) for float32 HxWx3 ``rgb``."""
        import time

        t0 = time.perf_counter()
        s = self.scale
        if s == 1:
            return rgb, UpscaleRecord(1, "none", 0.0, "scale 1", 0.0)
        if self.restorer is None:
            out = bicubic_enlarge(rgb, s)
            why = "no super-resolution network installed" if self.method == "bicubic" else ""
            return out, UpscaleRecord(s, "bicubic", shrink_residual(rgb, out, s), why or "asked for",
                                      time.perf_counter() - t0)
        out = self.restorer(rgb, progress=progress)
        residual = shrink_residual(rgb, out, s)
        if residual <= MAX_RESIDUAL:
            return out, UpscaleRecord(s, self.method, residual, "consistent with its input",
                                      time.perf_counter() - t0)
        # Noisy or impulsive photos are not reproduced exactly by any enlargement: bicubic replaces the
        # network only where it is the more consistent of the two.
        plain = bicubic_enlarge(rgb, s)
        plain_residual = shrink_residual(rgb, plain, s)
        if plain_residual < residual:
            del out  # one full-size output alive at a time
            return plain, UpscaleRecord(s, "bicubic", plain_residual,
                                        f"{self.method} did not reproduce its input when shrunk back "
                                        f"({residual:.2f} > {MAX_RESIDUAL}, bicubic {plain_residual:.2f}); "
                                        f"bicubic instead", time.perf_counter() - t0)
        return out, UpscaleRecord(s, self.method, residual, f"above {MAX_RESIDUAL} but closer to its input than "
                                  f"bicubic ({plain_residual:.2f}): a noisy photo", time.perf_counter() - t0)
