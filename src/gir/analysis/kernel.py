"""Blur kernel estimation from the image alone (blind), for the plug-and-play deblurring expert.

A small network, ``gir-kernel`` (:mod:`gir.models.kernelnet`, trained by ``configs/experts/kernel.yaml``),
reads the autocorrelation of the photo's luma differences (a Gaussian blur shows there as a round blob, a
linear motion as a ridge with a dip at its length, resampling as a band limit) and says which of "none",
"gaussian", "motion" or "resample" blurred the photo, with the Gaussian's sigma or the motion's length and
angle. :func:`estimate_kernel` turns that into a :class:`KernelEstimate` with the kernel array, or no kernel
where there is nothing to deconvolve: a sharp photo, a Gaussian narrower than :data:`MIN_SIGMA`, or a photo
enlarged from fewer pixels (a band limit, which the ``band`` expert and upscaling handle).

It replaced two classical statistics (the re-blur ratio at edges for a Gaussian, the 1-D derivative
autocorrelation of Yitzhaky & Kopeika for motion), which read a Gaussian sigma 1.6 as 1.13-1.90 and found the
motion kernel on 1 of 13 held-out photos (``benchmarks/RESULTS.md``, issue 28). Run it on a denoised image
when the photo is noisy: noise hides the blur's correlation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KERNEL_NET = "gir-kernel"
MIN_SIGMA = 0.85  # a narrower Gaussian is left alone: deconvolving it gains little and risks ringing
MAX_LENGTH = 25  # the longest motion the network was trained on


@dataclass
class KernelEstimate:
    """``kind``: "gaussian", "motion", "resample" (enlarged from fewer pixels: no kernel), "gaussian-narrow"
    (too narrow to deconvolve), "uncertain" (the views of the photo disagree: no kernel) or "none";
    ``params``: sigma, or length and angle (degrees, counter-clockwise from +x as displayed); ``kernel``: the
    2-D array (sums to 1; None where there is nothing to deconvolve); ``evidence``: the network's probability
    of each kind."""

    kind: str
    params: dict[str, float] = field(default_factory=dict)
    kernel: np.ndarray | None = None
    evidence: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "gaussian":
            return f"Gaussian blur, sigma {self.params['sigma']:.2f} px (estimated)"
        if self.kind == "motion":
            return (f"motion blur, {self.params['length']:.1f} px at {self.params['angle']:.0f} deg "
                    f"(estimated)")
        if self.kind == "resample":
            return "resampled (enlarged from fewer pixels): a band limit, not a blur to deconvolve"
        if self.kind == "uncertain":
            return (f"a {self.params['kind']} blur, read differently in different parts of the photo: no kernel "
                    f"trusted, left alone")
        if self.kind == "gaussian-narrow":
            return f"Gaussian blur, sigma {self.params['sigma']:.2f} px: too narrow to deconvolve"
        return "no blur found"

    def to_dict(self) -> dict:
        num = lambda v: round(float(v), 3) if isinstance(v, (int, float, np.floating)) else v  # noqa: E731
        return {"kind": self.kind, "params": {k: num(v) for k, v in self.params.items()},
                "evidence": {k: round(float(v), 4) for k, v in self.evidence.items()}}


def read_kernel(source) -> np.ndarray:
    """A blur kernel from a 2-D array, a ``.npy`` file or an image file (its gray values are the weights),
    normalised to sum 1; a file that is not a kernel (unreadable, empty, not 2-D, not finite, summing to 0 or
    less) raises :class:`gir.restore.operators.KernelError` naming it (checked against an image's size later,
    when the kernel is used)."""
    from pathlib import Path

    from gir.restore.operators import KernelError, check_kernel

    if isinstance(source, np.ndarray):
        return check_kernel(source)
    path = Path(source)
    where = f"--kernel {path}"
    if not path.is_file():
        raise KernelError(f"{where}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            k = np.load(path, allow_pickle=False)
        else:
            from PIL import Image

            with Image.open(path) as im:
                k = np.asarray(im.convert("F"), dtype=np.float64)
    except Exception as e:  # noqa: BLE001 - any reader failure is the file's problem
        raise KernelError(f"{where}: cannot read a kernel from it ({type(e).__name__}: {e})") from None
    return check_kernel(k, where=where)


def gaussian_kernel_for(sigma: float) -> np.ndarray:
    """The isotropic Gaussian kernel of ``sigma`` px (size 6 sigma + 1, odd), summing to 1."""
    from gir.degradations.kernels import gaussian_kernel

    size = 2 * int(np.ceil(3 * sigma)) + 1
    return gaussian_kernel(max(size, 3), sigma).astype(np.float64)


def motion_kernel_for(length: float, angle: float) -> np.ndarray:
    from gir.degradations.kernels import motion_kernel

    return motion_kernel(length, angle).astype(np.float64)


KERNEL_VIEW = 512  # the side of the centre crop a kernel is estimated on (the blur is the same everywhere)


def kernel_view(rgb: np.ndarray, max_side: int = KERNEL_VIEW) -> np.ndarray:
    """The centre crop (at most ``max_side`` px a side) that :func:`estimate_kernel` judges: what a caller
    needs to prepare (denoise) and no more."""
    h, w = rgb.shape[:2]
    top, left = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    return rgb[top:top + max_side, left:left + max_side]


def kernel_net(weights: str = KERNEL_NET, device: str = "cpu"):
    """The kernel predictor, in eval mode (loaded once per file and device by the project's model cache,
    :func:`gir.restore.loading.load_cached`)."""
    import torch

    from gir.restore.loading import load_cached

    return load_cached(weights, torch.device(device)).module.eval()


def predict_kernel(rgb: np.ndarray, weights: str = KERNEL_NET):
    """The network's :class:`gir.models.kernelnet.KernelGuess` for a float H x W x 3 (or H x W) image in
    [0, 1], judged whole: pass :func:`kernel_view`'s crop for a large photo."""
    import torch

    from gir.models.kernelnet import decode

    a = np.asarray(rgb, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(a[None, None] if a.ndim == 2 else a[..., :3].transpose(2, 0, 1)[None]))
    with torch.no_grad():
        return decode(kernel_net(weights)(x))[0]


PART = 0.75  # the four corner views that must agree with the whole are this fraction of its sides
MAX_SPREAD = 0.35  # sigma or length: (largest - smallest) / median over the five views, at most ...
MAX_ANGLE_SPREAD = 10.0  # ... and the motion angles within this many degrees of their median


def corner_views(view: np.ndarray, part: float = PART) -> list[np.ndarray]:
    """The four corner crops of ``view``, each ``part`` of its height and width."""
    h, w = view.shape[:2]
    ph, pw = int(round(h * part)), int(round(w * part))
    return [view[t:t + ph, l:l + pw] for t in (0, h - ph) for l in (0, w - pw)]


def _agreement(guesses) -> tuple[dict[str, float] | None, dict[str, float]]:
    """(the median parameters, or None where the views disagree; the spreads) of guesses of one kind."""
    kind = guesses[0].kind
    if kind == "gaussian":
        v = np.array([g.sigma for g in guesses])
        spread = float((v.max() - v.min()) / np.median(v))
        return ({"sigma": float(np.median(v))} if spread <= MAX_SPREAD else None), {"spread": spread}
    v = np.array([g.length for g in guesses])
    ref = guesses[0].angle
    d = np.array([((g.angle - ref + 90.0) % 180.0) - 90.0 for g in guesses])  # signed, -90..90 from the whole's
    mid = float(np.median(d))
    spread, angle_spread = float((v.max() - v.min()) / np.median(v)), float(np.abs(d - mid).max())
    ok = spread <= MAX_SPREAD and angle_spread <= MAX_ANGLE_SPREAD
    params = {"length": float(np.median(v)), "angle": float((ref + mid) % 180.0)}
    return (params if ok else None), {"spread": spread, "angle_spread": angle_spread}


def estimate_kernel(rgb: np.ndarray, max_side: int = KERNEL_VIEW, weights: str = KERNEL_NET) -> KernelEstimate:
    """The blur of an image (float H x W x 3 or H x W in [0, 1]; denoise a noisy one first), judged on its
    centre crop of ``max_side`` px by the network (:func:`predict_kernel`): a motion kernel, a Gaussian of
    at least :data:`MIN_SIGMA`, or no kernel ("resample", "none", a narrower Gaussian). The blur is taken to
    be the same everywhere, so a kernel is given only where the four corner views (:func:`corner_views`)
    read the same kind with parameters close to the whole's (:data:`MAX_SPREAD`, :data:`MAX_ANGLE_SPREAD`);
    the parameters are the medians over the five. Otherwise "uncertain": no kernel."""
    view = kernel_view(rgb, max_side)
    guess = predict_kernel(view, weights)
    evidence = {f"p_{k}": v for k, v in guess.probs.items()}
    deconvolvable = guess.kind == "motion" or (guess.kind == "gaussian" and guess.sigma >= MIN_SIGMA)
    if not deconvolvable:
        params = {"sigma": guess.sigma} if guess.kind == "gaussian" else {}
        return KernelEstimate("gaussian-narrow" if guess.kind == "gaussian" else guess.kind, params, None, evidence)
    parts = [guess] + [predict_kernel(v, weights) for v in corner_views(view)]
    same = [g for g in parts if g.kind == guess.kind]
    params, spread = _agreement(same) if len(same) == len(parts) else (None, {})
    evidence.update(spread, views_agreeing=len(same))
    if params is None:
        return KernelEstimate("uncertain", {"kind": guess.kind}, None, evidence)
    if guess.kind == "motion":
        params["length"] = float(np.clip(params["length"], 2.0, MAX_LENGTH))
        return KernelEstimate("motion", params, motion_kernel_for(params["length"], params["angle"]), evidence)
    return KernelEstimate("gaussian", params, gaussian_kernel_for(params["sigma"]), evidence)


ARBITRATE = 0.5  # the analyzer network must see blur or resize at least this probably ...
KERNEL_SURE = 0.8  # ... and the kernel network be this sure of its kind, for it to decide between the two


def fuse_kernel(diag, guess) -> None:
    """Let the kernel network (``guess``, :func:`predict_kernel`) decide between ``blur`` and ``resize`` in
    ``diag`` (in place), which the analyzer network confuses (a Gaussian blur of sigma 1.6 read as resize 82%,
    resampling as blur). Only where the analyzer sees one of the two (p at least :data:`ARBITRATE`) and the
    kernel network is sure (:data:`KERNEL_SURE`): a blur it can deconvolve (motion, or a Gaussian of at least
    :data:`MIN_SIGMA`) gets the larger of the two probabilities and resize at most 1 - the network's
    certainty; resampling the other way round. The larger probability is never raised, so a photo the analyzer calls
    clean stays clean."""
    fb, fr = diag.findings["blur"], diag.findings["resize"]
    top = max(fb.p, fr.p)
    if top < ARBITRATE:
        return
    q_blur = guess.probs["gaussian"] + guess.probs["motion"]
    deconvolvable = guess.kind == "motion" or (guess.kind == "gaussian" and guess.sigma >= MIN_SIGMA)
    if deconvolvable and q_blur >= KERNEL_SURE:
        winner, loser, q, what = fb, fr, q_blur, f"a {guess.kind} blur, not resampling"
    elif guess.kind == "resample" and guess.probs["resample"] >= KERNEL_SURE:
        winner, loser, q, what = fr, fb, guess.probs["resample"], "resampling, not a blur"
    else:
        return
    new_loser = min(loser.p, 1.0 - q)
    if winner.p == top and new_loser == loser.p:
        return
    names = {id(fb): "blur", id(fr): "resize"}
    diag.notes.append(f"the kernel network reads {what} ({100 * q:.0f}%): {names[id(winner)]} {winner.p:.0%} -> "
                      f"{top:.0%}, {names[id(loser)]} {loser.p:.0%} -> {new_loser:.0%}")
    winner.p, loser.p = top, new_loser
    winner.source += " + kernel network"
