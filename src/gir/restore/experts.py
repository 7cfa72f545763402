"""The experts of `gir restore`: networks and classical methods behind one interface.

An :class:`Expert` maps a float32 HxWx3 image in [0, 1] to a restored one of the same shape, for the
degradation families it names; the plan (:mod:`gir.restore.plan`) does not care whether it is a network or a
classical method. Network experts run through :class:`gir.restore.engine.Restorer` (tiled for any size) and
load their weights on first use.

The shipped set (:data:`SHIPPED`), first expert to name a family wins:

* ``impulse``: the switching median repair of salt-and-pepper samples (:mod:`gir.restore.impulse`);
* ``jpeg``, ``noise``, ``sharpen`` (blur), ``band`` (resize, ringing): wavelet U-Nets trained here, one per
  group (``configs/experts/*.yaml``; weights ``gir/weights/gir-expert-*.safetensors`` with a card each). The JPEG
  expert is conditioned on the quality (:mod:`gir.models.conditioning`), which the plan's step gives it from
  the analysis (a JPEG file's tables, else the pixels' quantiser lattice, else the analyzer's estimate). The
  sharpening expert was trained on blur and down-up sampling together, but it is routed for blur only: on x2
  down-up sampling it measured below its input (Set14 validation 26.19 against 26.47 dB; held-out bicubic x2
  -0.58 dB). Down-sampling and ringing share the ``band`` expert: the analyzer calls photos band-limited by
  ringing's sinc filter resized too (p 0.5-0.9), and an expert trained on down-up sampling alone sharpened
  those by -0.4 dB on average; one trained on both helps both (``benchmarks/resize_routing.py``);
* ``general``: the previous single blind network ``gir-wunet-cpu``, for the families no specialist covers yet
  (demosaicking, scratches, rain, raindrops, snow, haze, low light). It runs only where the analyzer
  detects one of them, and the verification step undoes it where it did not help.

An expert whose weights are not installed is left out, and its families are reported as having no expert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from gir.errors import GirError

Image = np.ndarray


@dataclass
class Expert:
    """A restorer for ``families``. ``kind``: ``network`` or ``classical``; ``about``: one line for
    ``--explain``. Call it with an image (float32 HxWx3 in [0, 1]) -> a new image of the same shape."""

    name: str
    families: tuple[str, ...]
    kind: str
    about: str

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:  # pragma: no cover - abstract
        """``strengths``: what the analysis measured (``"jpeg.quality" -> 31.0``, the plan step's strengths);
        a conditioned network takes its conditioning inputs from them, the other experts ignore them."""
        raise NotImplementedError

    def passes(self, height: int, width: int) -> int:
        """How many times the expert runs on an H x W image (a network's self-ensemble; else 1)."""
        return 1


@dataclass
class ClassicalExpert(Expert):
    """A function HxWx3 -> HxWx3 (float32 in [0, 1])."""

    fn: Callable[[Image], Image] = field(default=lambda rgb: rgb, repr=False)

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        return np.clip(self.fn(rgb), 0.0, 1.0).astype(np.float32, copy=False)


@dataclass
class NetworkExpert(Expert):
    """A restoration network given by shipped name, checkpoint path or ``nn.Module``; run tiled by a
    :class:`~gir.restore.engine.Restorer` made on first use with ``options`` (device, tile, overlap, half,
    ensemble)."""

    model: object = None
    options: dict = field(default_factory=dict)
    _restorer: object = field(default=None, init=False, repr=False)

    @property
    def restorer(self):
        if self._restorer is None:
            from gir.restore.engine import Restorer

            self._restorer = Restorer(self.model, impulse_repair=False, **self.options)
        return self._restorer

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        return self.restorer(rgb, progress=progress, conditions=strengths)

    def passes(self, height: int, width: int) -> int:
        return self.restorer.passes(height, width)


def _impulse(rgb: Image) -> Image:
    from gir.restore.impulse import repair_impulses

    return repair_impulses(rgb)[0]


def _dehaze(rgb: Image) -> Image:
    from gir.bench.classical import dark_channel_prior

    return dark_channel_prior(rgb)


# (name, families, kind, weights or function, about). Order matters: the first expert to name a family wins.
SHIPPED: tuple[tuple[str, tuple[str, ...], str, object, str], ...] = (
    ("impulse", ("impulse",), "classical", _impulse, "switching median: replaces isolated 0/1 samples only"),
    ("jpeg", ("jpeg",), "network", "gir-expert-jpeg",
     "wavelet U-Net told the JPEG quality, trained on quality 10-80, also over camera-like noise and light blur"),
    ("noise", ("noise",), "network", "gir-expert-noise",
     "wavelet U-Net trained on Gaussian, Poisson and shot+read noise, sigma 1-55"),
    ("sharpen", ("blur",), "network", "gir-expert-sharpen",
     "wavelet U-Net trained on Gaussian, motion and defocus blur and 1.5-4x down-up sampling; routed for blur "
     "only (below its input on down-up sampling)"),
    ("band", ("resize", "ringing"), "network", "gir-expert-band",
     "wavelet U-Net trained on 1.5-4x down-up sampling and sinc-filter ringing (band-limited photos)"),
    ("general", ("demosaic", "damage", "rain", "raindrop", "snow", "haze", "low_light"), "network",
     "gir-wunet-cpu", "the previous single blind network (milestone 1), for what no specialist covers yet"),
)
CLASSICAL = {"dehaze": (("haze",), _dehaze, "dark-channel prior")}


def _installed(name: str) -> bool:
    from gir.restore.engine import WEIGHTS_DIR, WEIGHTS_SUFFIX

    return (WEIGHTS_DIR / f"{name}{WEIGHTS_SUFFIX}").is_file()


def shipped_experts(options: Mapping | None = None, *, use: Sequence[str] | None = None) -> dict[str, Expert]:
    """The shipped experts whose weights are installed, by name (in :data:`SHIPPED` order). ``options``:
    Restorer keyword arguments for the network experts. ``use``: only these names."""
    experts: dict[str, Expert] = {}
    for name, families, kind, what, about in SHIPPED:
        if use is not None and name not in use:
            continue
        if kind == "classical":
            experts[name] = ClassicalExpert(name, families, kind, about, fn=what)
        elif _installed(str(what)):
            experts[name] = NetworkExpert(name, families, kind, f"{about} ({what})", model=what,
                                          options=dict(options or {}))
    return experts


def classical_expert(name: str) -> ClassicalExpert:
    """One of the optional classical experts (:data:`CLASSICAL`) by name."""
    if name not in CLASSICAL:
        raise GirError(f"unknown classical expert {name!r}; known: {', '.join(CLASSICAL)}")
    families, fn, about = CLASSICAL[name]
    return ClassicalExpert(name, families, "classical", about, fn=fn)


def coverage(experts: Mapping[str, Expert]) -> dict[str, str]:
    """family -> the name of the expert that restores it (the first one in ``experts`` to name it)."""
    covers: dict[str, str] = {}
    for name, expert in experts.items():
        for family in expert.families:
            covers.setdefault(family, name)
    return covers
