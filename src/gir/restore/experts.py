"""The experts of `gir restore`: networks and classical methods behind one interface.

An :class:`Expert` maps a float32 HxWx3 image in [0, 1] to a restored one of the same shape, for the
degradation families it names; the plan (:mod:`gir.restore.plan`) does not care whether it is a network or a
classical method. Network experts run through :class:`gir.restore.engine.Restorer` (tiled for any size) and
load their weights on first use.

The shipped set (:data:`SHIPPED`; which families each restores is the ``expert`` column of the policy table,
:mod:`gir.restore.policy`):

* ``impulse``: the switching median repair of salt-and-pepper samples (:mod:`gir.restore.impulse`);
* ``jpeg`` and ``band`` (resize, ringing): wavelet U-Nets trained here, one per group
  (``configs/experts/*.yaml``; weights ``gir/weights/gir-expert-*.safetensors`` with a card each). The JPEG
  expert is conditioned on the quality (:mod:`gir.models.conditioning`), which the plan's step gives it from
  the analysis (a JPEG file's tables, else the pixels' quantiser lattice, else the analyzer's estimate).
  Down-sampling and ringing share the ``band`` expert: the analyzer calls photos band-limited by ringing's
  sinc filter resized too (p 0.5-0.9), and an expert trained on down-up sampling alone sharpened those by
  -0.4 dB on average; one trained on both helps both (``benchmarks/resize_routing.py``);
* ``denoise`` (:class:`DenoiserExpert`): ``gir-denoiser-camera``, told the noise level the analysis measured:
  ``gir-denoiser`` continued on camera noise (signal-dependent, correlated in space), which a white-noise
  denoiser does not remove at any level it is told (``benchmarks/camera_noise_levels.py``);
* ``deblur`` (:class:`DeblurExpert`): plug-and-play deconvolution (:mod:`gir.restore.pnp`) with the
  white-noise ``gir-denoiser`` as its prior (the camera stage as the prior took a blurred photo's gain from
  +2.6 to +1.8 dB) and the kernel estimated from the photo (:mod:`gir.analysis.kernel`). Both carry
  a model of their degradation (:meth:`Expert.observe`), so verification also judges them by consistency.
  They replaced issue 21's blind ``noise`` and ``sharpen`` networks (issue 28; ``benchmarks/RESULTS.md``);
* ``dehaze``: haze and the veil of snow by the dark-channel prior (:func:`gir.restore.classical.dehaze`), only
  where the dark channel shows a veil on a colour photo. On four held-out photos (the GIR suite's tasks 9
  and 10) it took haze from 10.87 to 21.23 dB and snow from 15.49 to 20.83, where the general network gained
  0.40 and 0.04;
* ``inpaint`` (:class:`InpaintExpert`): scratches, cracks and dust: the mask of the scratch detector
  ``gir-scratch-mask`` (:mod:`gir.analysis.scratches`) filled by biharmonic interpolation
  (:func:`gir.restore.classical.inpaint`; it beat the denoiser as a plug-and-play prior on 5-10 px lines);
* ``brighten`` (:class:`BrightenExpert`): low light, by a gamma curve to a mean luma of 0.4
  (:func:`gir.restore.classical.brighten`) and ``gir-denoiser`` told the noise the curve revealed
  (:func:`gir.restore.classical.noise_std`). It replaced the general network there: on real LOL photos the
  network's output was washed out and soft (NIQE and BRISQUE worse than the dark input on each), the curve's
  better by both and to the eye; on synthetic low light with ground truth the network is 1.9-4 dB higher
  (it was trained on the library's low-light op) (``benchmarks/low_light.py``);
* ``general``: the previous single blind network ``gir-wunet-cpu``, for the families no specialist covers yet
  (demosaicking, rain, raindrops). It runs only where the analyzer
  detects one of them, and the verification step undoes it where it did not help.

An expert whose weights are not installed is left out, and its families are reported as having no expert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from gir.models.shipped import is_shipped
from gir.restore.inpaint import FILL  # the inpainting expert's fill network, where it is installed
from gir.restore.policy import families_of

Image = np.ndarray


def _sigma(strengths: Mapping[str, float] | None) -> float:
    """The noise level (0-255) a step was planned with (``noise.sigma``; 0 when none was measured)."""
    return float((strengths or {}).get("noise.sigma", 0.0) or 0.0)


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

    def observe(self, restored: Image, strengths: Mapping[str, float] | None = None) -> Image | None:
        """What the input should look like (its expectation: noise averaged out) if ``restored`` is right:
        the expert's degradation model applied to its output, for verification by consistency; None for an
        expert without such a model (then only the analyzer judges it)."""
        return None

    def noise_level(self, strengths: Mapping[str, float] | None = None) -> float:
        """The std (0-255) of what :meth:`observe` leaves unexplained in a correct result: the noise the
        step was planned with (``noise.sigma``)."""
        return _sigma(strengths)

    def note(self) -> str:
        """One line about the last run for ``--explain`` (e.g. the kernel a deblurring expert estimated)."""
        return ""

    def measured(self) -> dict[str, float]:
        """Strengths the last run found better than the ones it was given (a denoiser's refit noise level,
        ``{"noise.sigma": 4.2}``); the pipeline verifies and records the step with them. Empty by default."""
        return {}

    def perceptual(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                   ) -> Image | None:
        """The result of the expert's perceptual twin (a network fine-tuned adversarially) on ``rgb``, for
        ``--mode perceptual`` (:mod:`gir.restore.fusion` joins it with the fidelity result); None for an expert
        without one."""
        return None


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
    twin: object = None  # the perceptual twin's weights (:data:`TWINS`), for --mode perceptual
    _restorer: object = field(default=None, init=False, repr=False)
    _twin: object = field(default=None, init=False, repr=False)

    @property
    def restorer(self):
        if self._restorer is None:
            self._restorer = self._make_restorer(self.model)
        return self._restorer

    def _make_restorer(self, model):
        """A tiled :class:`~gir.restore.engine.Restorer` of ``model`` with this expert's ``options``."""
        from gir.restore.engine import Restorer

        return Restorer(model, impulse_repair=False, **self.options)

    def conditions(self, strengths: Mapping[str, float] | None) -> Mapping[str, float] | None:
        """What the network is told, from the strengths the analysis measured (all of them by default)."""
        return strengths

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        return self.restorer(rgb, progress=progress, conditions=self.conditions(strengths))

    def passes(self, height: int, width: int) -> int:
        return self.restorer.passes(height, width)

    def perceptual(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                   ) -> Image | None:
        """The twin (``twin``) told what the fidelity network is told; None where no twin is set."""
        if self.twin is None:
            return None
        if self._twin is None:
            self._twin = self._make_restorer(self.twin)
        return self._twin(rgb, progress=progress, conditions=self.conditions(strengths))


# A denoising told the right level leaves a residual (input - output) whose RMS is 0.87-1.01 times that level
# at sigma 15-30 (0.93-1.27 at 5, where 8-bit rounding adds to it), told twice the level 0.47-0.67, told three
# times 0.33-0.47 (benchmarks/denoise_refit.py: eight scikit-image photos under Gaussian noise, the shipped
# denoiser). So a residual under OVER_TOLD times the level told says the level was too high, and the residual
# itself, divided by RESIDUAL_RATIO, is a better one.
OVER_TOLD = 0.7
RESIDUAL_RATIO = 0.93
REFIT_MIN = 3.0  # levels (0-255) below which no refit is tried


def residual_rms(noisy: Image, denoised: Image, margin: float | None = None) -> float | None:
    """RMS (0-255) of ``noisy - denoised`` over the samples whose denoised value lies in [margin, 1 - margin]
    (clipped noise is smaller there; default: the verification's :data:`gir.restore.verify.CLIP_MARGIN`);
    None when fewer than a tenth of the samples do."""
    if margin is None:
        from gir.restore.verify import CLIP_MARGIN as margin
    keep = (denoised >= margin) & (denoised <= 1.0 - margin)
    if keep.mean() < 0.1:
        return None
    d = (np.asarray(noisy, np.float64) - np.asarray(denoised, np.float64))[keep]
    return float(np.sqrt(np.mean(d * d)) * 255.0)


@dataclass
class DenoiserExpert(NetworkExpert):
    """The noise-level-conditioned denoiser (``gir-denoiser-camera``: ``gir-denoiser`` continued on camera noise,
    which is correlated in space; the white-noise ``gir-denoiser`` stays the prior of plug-and-play deblurring
    and of brightening) told the noise level the analysis measured
    (``noise.sigma``; ``--condition noise.sigma=S`` overrides it). Its degradation model is Gaussian noise of
    that std, clipped to 8 bits: :meth:`observe` gives E[clip(restored + n)], so verification compares the
    input with what clipped noise would have made of the output, not with the output itself.

    With ``refit`` (off by default; the pipeline also turns it off when the level is given), a level the
    residual shows to be too high is corrected: when the residual's RMS (:func:`residual_rms`) is under
    :data:`OVER_TOLD` times the level, the denoiser runs again told RMS / :data:`RESIDUAL_RATIO`, and
    :meth:`measured` reports that level (the pipeline then verifies the step with it). Measured
    (``benchmarks/denoise_refit.py``): on white Gaussian noise told three times too much it recovers nearly all
    of the loss (sigma 30 told 90: 24.39 -> 29.68 dB, told right 29.89), but on noise that later steps filtered
    (JPEG, resampling) the residual under-reads the level: in the GIR suite three tasks lost 0.36-0.51 dB and one
    gained 1.32 (mean unchanged), on RNI15 one photo's NIQE improved and one's worsened. So it is not on."""

    refit: bool = False
    _refit: object = field(default=None, init=False, repr=False)

    def conditions(self, strengths: Mapping[str, float] | None) -> Mapping[str, float]:
        return {"noise.sigma": _sigma(strengths)}

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        sigma = _sigma(strengths)
        out = self.restorer(rgb, progress=progress, conditions=self.conditions(strengths))
        self._refit = None
        if not self.refit or sigma < REFIT_MIN:
            return out
        rms = residual_rms(rgb, out)
        if rms is None or rms >= OVER_TOLD * sigma:
            return out
        self._refit = (sigma, round(rms / RESIDUAL_RATIO, 3))
        return self.restorer(rgb, progress=progress, conditions={"noise.sigma": self._refit[1]})

    def measured(self) -> dict[str, float]:
        return {"noise.sigma": self._refit[1]} if self._refit else {}

    def note(self) -> str:
        if not self._refit:
            return ""
        told, used = self._refit
        return f"told sigma {told:.1f}, the residual showed less: denoised told {used:.1f}"

    def observe(self, restored, strengths=None):
        from gir.restore.operators import expected_clipped

        return expected_clipped(restored, _sigma(strengths))


@dataclass
class PriorExpert(Expert):
    """An expert that calls the noise-level-conditioned denoiser (``model``) as a function
    ``prior(image, sigma_255)`` (:func:`gir.restore.pnp.denoiser_prior`, made on first use with the
    ``device`` and ``tile`` of ``options``)."""

    model: object = "gir-denoiser"
    options: dict = field(default_factory=dict)
    _prior: object = field(default=None, init=False, repr=False)

    @property
    def prior(self):
        if self._prior is None:
            from gir.restore.pnp import denoiser_prior

            opts = {k: v for k, v in self.options.items() if k in ("device", "tile")}
            self._prior = denoiser_prior(self.model, **opts)
        return self._prior


@dataclass
class DeblurExpert(PriorExpert):
    """Plug-and-play deblurring (:func:`gir.restore.pnp.solve`): the blur kernel estimated from the image
    (:func:`gir.analysis.kernel.estimate_kernel`; or ``kernel``, given), the denoiser as the prior. A photo
    whose kernel estimate finds no blur comes back unchanged. ``noise.sigma`` in the step's strengths is the
    observation's noise level (a photo denoised by an earlier step has little left)."""

    kernel: object = None
    _operator: object = field(default=None, init=False, repr=False)
    _note: str = field(default="", init=False, repr=False)

    def _kernel(self, rgb: Image, sigma: float):
        if self.kernel is not None:
            return np.asarray(self.kernel, dtype=np.float64), "the given kernel"
        from gir.analysis.kernel import estimate_kernel, kernel_view

        view = kernel_view(rgb)  # only what the estimate reads is denoised
        est = estimate_kernel(self.prior(view, sigma) if sigma > 2.0 else view)
        return est.kernel, est.describe()

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        from gir.restore.operators import Blur, check_kernel
        from gir.restore.pnp import solve

        sigma = _sigma(strengths)
        kernel, about = self._kernel(rgb, sigma)
        self._operator = None
        self._note = about
        if kernel is None:
            return rgb
        where = "--kernel" if self.kernel is not None else "the estimated kernel"
        self._operator = Blur(check_kernel(kernel, rgb.shape[:2], where=where), label=about)
        return solve(rgb, self._operator, self.prior, sigma)

    def observe(self, restored, strengths=None):
        from gir.restore.operators import expected_clipped

        if self._operator is None:
            return None
        return expected_clipped(self._operator.forward(restored), _sigma(strengths))

    def note(self) -> str:
        return self._note


@dataclass
class InpaintExpert(Expert):
    """Scratch and dust repair: the scratch detector (:func:`gir.analysis.scratches.detect`, run again on the
    step's input, which earlier steps may have cleaned) gives the mask, grown by a pixel, and the fill replaces
    those pixels only: the fill network ``fill`` (:func:`gir.restore.inpaint.network_fill`) where it is
    installed, else the biharmonic fill (:func:`gir.restore.classical.inpaint`; ``fill=None`` asks for it).
    Its model of the degradation is that the masked pixels say nothing: :meth:`observe` is the output outside
    the mask and the input inside, so verification by consistency sees that no other pixel moved, and the
    analyzer's evidence (the detector's) must fall."""

    model: object = "gir-scratch-mask"
    options: dict = field(default_factory=dict)
    fill: str | None = None
    _input: object = field(default=None, init=False, repr=False)
    _hole: object = field(default=None, init=False, repr=False)

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        from gir.analysis.scratches import detect, fill_mask
        from gir.restore.classical import inpaint
        from gir.restore.inpaint import network_fill

        device = str(self.options.get("device", "cpu"))
        hole = fill_mask(detect(rgb, str(self.model), device).mask)
        self._input, self._hole = rgb, hole
        if not hole.any():
            return rgb
        return network_fill(rgb, hole, self.fill, device) if self.fill else inpaint(rgb, hole)

    def observe(self, restored, strengths=None):
        if self._hole is None or self._input is None or self._input.shape != restored.shape:
            return None
        return np.where(self._hole[..., None], self._input, restored).astype(np.float32)

    def note(self) -> str:
        if self._hole is None:
            return ""
        how = f"by {self.fill}" if self.fill else "by biharmonic interpolation"
        return f"filled {100.0 * float(self._hole.mean()):.2f}% of the pixels {how}"


@dataclass
class BrightenExpert(PriorExpert):
    """Low light: :func:`gir.restore.classical.brighten` (a gamma curve to a mean luma of 0.4, only for a photo
    darker than :data:`gir.restore.classical.DARK_MAX` on average; never darkens),
    then the denoiser (``model``) told the noise that :func:`gir.restore.classical.noise_std` reads after the
    curve (the curve amplifies the shadows' noise), where that is above 1/255."""

    _note: str = field(default="", init=False, repr=False)

    def __call__(self, rgb: Image, progress: bool | str = False, strengths: Mapping[str, float] | None = None
                 ) -> Image:
        from gir.restore.classical import brighten, noise_std

        out, g = brighten(rgb)
        if g == 1.0:
            self._note = "not dark enough to brighten (gir.restore.classical.DARK_MAX): left as it is"
            return rgb
        sigma = noise_std(out)
        self._note = f"gamma {g:.2f}, then denoised told sigma {sigma:.1f}" if sigma > 1.0 else f"gamma {g:.2f}"
        return np.clip(self.prior(out, sigma), 0.0, 1.0).astype(np.float32) if sigma > 1.0 else out

    def note(self) -> str:
        return self._note


def _impulse(rgb: Image) -> Image:
    from gir.restore.impulse import repair_impulses

    return repair_impulses(rgb)[0]


def _dehaze(rgb: Image) -> Image:
    from gir.restore.classical import dehaze

    return dehaze(rgb)


# (name, kind, weights or function, about); the families each restores are its rows of the policy table
# (gir.restore.policy: ``expert``). TWINS: an expert's perceptual twin (--mode perceptual), where one ships.
SHIPPED: tuple[tuple[str, str, object, str], ...] = (
    ("impulse", "classical", _impulse, "switching median: replaces isolated 0/1 samples only"),
    ("jpeg", "network", "gir-expert-jpeg",
     "wavelet U-Net told the JPEG quality, trained on quality 10-80, also over camera-like noise and light blur"),
    ("denoise", "denoiser", "gir-denoiser-camera",
     "wavelet U-Net told the noise level (FFDNet's map), trained on Gaussian sigma 0-75, Poisson-Gaussian and "
     "camera noise (signal-dependent, correlated in space)"),
    ("deblur", "pnp", "gir-denoiser",
     "plug-and-play deconvolution (HQS, the denoiser as prior) with the blur kernel estimated from the photo"),
    ("band", "network", "gir-expert-band",
     "wavelet U-Net trained on 1.5-4x down-up sampling and sinc-filter ringing (band-limited photos)"),
    ("dehaze", "classical", _dehaze,
     "dark-channel prior (He et al.), only where the dark channel shows a veil on a colour photo"),
    ("inpaint", "inpaint", "gir-scratch-mask",
     "fills the pixels the scratch detector marks (scratches, cracks, dust): the fill network gir-inpaint, "
     "else biharmonic interpolation"),
    ("brighten", "brighten", "gir-denoiser",
     "gamma curve to a mean luma of 0.4, then the denoiser told the noise the curve revealed"),
    ("general", "network", "gir-wunet-cpu",
     "the previous single blind network (milestone 1), for what no specialist covers yet"),
)


TWINS: dict[str, str] = {"denoise": "gir-denoiser-gan", "jpeg": "gir-expert-jpeg-gan"}


def shipped_experts(options: Mapping | None = None, *, use: Sequence[str] | None = None) -> dict[str, Expert]:
    """The shipped experts whose weights are installed, by name (in :data:`SHIPPED` order). ``options``:
    Restorer keyword arguments for the network experts. ``use``: only these names."""
    experts: dict[str, Expert] = {}
    for name, kind, what, about in SHIPPED:
        if use is not None and name not in use:
            continue
        families = families_of(name)
        if kind == "classical":
            experts[name] = ClassicalExpert(name, families, kind, about, fn=what)
        elif is_shipped(str(what)):
            cls = {"network": NetworkExpert, "denoiser": DenoiserExpert, "pnp": DeblurExpert,
                   "inpaint": InpaintExpert, "brighten": BrightenExpert}[kind]
            experts[name] = cls(name, families, kind, f"{about} ({what})", model=what, options=dict(options or {}))
            if name in TWINS and is_shipped(TWINS[name]):
                experts[name].twin = TWINS[name]
            if kind == "inpaint" and is_shipped(FILL):
                experts[name].fill = FILL
    return experts


def coverage(experts: Mapping[str, Expert]) -> dict[str, str]:
    """family -> the name of the expert that restores it (the first one in ``experts`` to name it)."""
    covers: dict[str, str] = {}
    for name, expert in experts.items():
        for family in expert.families:
            covers.setdefault(family, name)
    return covers
