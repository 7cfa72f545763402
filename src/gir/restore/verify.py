"""Verification of one restore step: keep it only where the analyzer sees that it helped and did no harm.

After an expert runs, the output is analysed again and compared with the analysis of the step's input
(:func:`verify`). The step is undone when:

1. **it did not help**: none of its families fell clearly below the detection threshold (below
   :data:`GONE_BELOW`), and together their probabilities fell by less than :data:`MIN_DROP` (the smallest
   :data:`MIN_DROP_FOR` of its families where they have one: the analyzer's evidence of down-sampling and
   ringing falls only 0.05-0.2 when the band expert restores them, which cannot bring back what a low-pass
   removed; calibrated on training photos at the ops' full random ranges, ``benchmarks/verify_calibration.py``:
   from a drop of 0.05 on, no kept step harmed, the worst -0.04 dB). A family with a detector (scratches)
   is also gone when the detector, sure before, no longer finds it (:func:`mask_gone`), whatever the network
   still reads. A family the step's expert also removes (the policy's ``removes_too``: noise under JPEG) counts
   as the step's where it was detected before, when the residual passes rule 4's test (below): a JPEG step
   credited only with noise it removed from fine text, whose residual lies on the strokes, did not help;
2. **it introduced a degradation**: a family that was absent before (p < :data:`ABSENT`) is detected after it
   (p >= the threshold) and is not one the plan restores later (``later``): a denoiser that erases texture
   shows up as blur, which the deblurring expert may legitimately reveal only when it comes later; noise
   revealed by brightening a dark photo (:data:`REVEALS`) is not counted;
3. **it shifted tones**: for experts whose families do not change tones (all but haze, low light and snow),
   the mean absolute difference of the two images' 16x-area-downsampled views exceeds
   :data:`MAX_TONE_SHIFT` (a darkened pale facade, a greyed black background). Scratch repair keeps this
   check too, but through its model (below): the inpainting expert moves only the pixels of its mask, so it
   compares the input with the output outside the mask (when the general network repaired scratches, without
   the check it was kept on a clean checkerboard at 21.4 dB against itself). For noise (and impulses),
   cells whose input is within :data:`CLIP_MARGIN` of black or white are left out: noise clipped at 0 and 1
   biases their mean, and removing it rightly moves them (measured: 4.5/255 on a CBSD68 photo at sigma 25,
   where the denoised output was 9.7 dB better).

Experts that carry a model of their degradation (the denoiser: clipped Gaussian noise; plug-and-play
deblurring: the estimated kernel, then the noise; inpainting: the masked pixels say nothing) are also
verified by **consistency**: their output,
degraded again by that model (``observed``, the expectation of the input), must reproduce the input within
the noise. The residual's RMS is reported; the step is undone when it exceeds :data:`CONSISTENT_FACTOR`
times the noise level plus :data:`CONSISTENT_SLACK` (rule 0), and the tone check (rule 3) compares the input
with ``observed`` instead of the output, with no cells left out: clipping's bias on the means near black and
white is part of the model, so heavy noise removed from a photo with black or white areas is no longer taken
for a tone shift; the limit grows by what the noise itself leaves in the input's cell means
(:func:`cell_noise`). For these steps the analyzer's evidence must still fall, but by :data:`MIN_DROP_CONSISTENT`
only (the physics already shows the output explains the input).

A denoising step (the noise family, verified through its model) is also undone when it **removed
structure** (rule 4): noise does not know where a photo's edges are, so the residual of a step that removed
noise is about as strong on the output's edges as on its flat areas, while one that removed text, lines or
texture leaves it on the edges (:func:`edge_residual_ratio` above :data:`EDGE_RATIO`).

A brightening step (low light) is also undone when it **revealed more artefacts than scene** (rule 5):
its output's NIQE (:func:`gir.metrics.niqe.niqe`, read at most :data:`NIQE_SIDE` px on the long side) is more
than :data:`NIQE_RISE` above its input's. The analyzer cannot judge this: on LIME's night map of city lights
(`6.png`), a near-black background of JPEG blocks, the brightened output read clean 0.68 while its NIQE rose
from 4.3 to 10.2 (BRISQUE 10 to 58). On held-out photos darkened here, where brightening gained 2-12 dB,
NIQE rose at most 0.52; on the other eleven LIME and LOL photos at most 0.10
(``benchmarks/brighten_artefacts.py``).

This is what "do no harm" can check without the clean image: the analyzer, the tone check and, where the
expert has one, the degradation model are the judges, so a step whose output the analyzer cannot tell from its
input is not kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from gir.analysis.analyze import THRESHOLD, Diagnosis
from gir.restore.policy import POLICY

MIN_DROP = 0.2  # summed probability of the step's families must fall at least this much (or below GONE_BELOW)
# Views of the policy table (gir.restore.policy, where each value's measurement is): families whose evidence
# falls less (rule 1), that change tones (rule 3), whose removal moves clipped means, and what removing one
# may reveal (rule 2).
MIN_DROP_FOR = {p.family: p.min_drop for p in POLICY if p.min_drop is not None}
GONE_BELOW = 0.4  # a family counts as gone below this (not just under the 0.5 threshold: 0.66 -> 0.50 is not gone)
ABSENT = 0.3  # a family below this before the step counts as absent
MAX_TONE_SHIFT = 3.0 / 255  # mean |difference| of 16x-downsampled views
TONAL_FAMILIES = frozenset(p.family for p in POLICY if p.tonal)
REVEALS = {p.family: p.reveals for p in POLICY if p.reveals}
CLIPPED_FAMILIES = frozenset(p.family for p in POLICY if p.clipped)
MASK_P = {p.family: p.mask_p for p in POLICY if p.mask_p}
REMOVES_TOO = {p.family: p.removes_too for p in POLICY if p.removes_too}
AREA_LEFT = 0.2  # a detector's family is gone when its marked area fell to this share and its p let go,
MASK_SURE = 0.9  # ... where the detector's own p was at least this before (a clean astronaut with 0.16% of
# its pixels marked, p_mask 0.35, had its marks "filled away" and kept without it)
CLIP_MARGIN = 0.15
TONE_SCALE = 16
CONSISTENT_FACTOR = 1.25  # rule 0: residual RMS at most this times the noise level ...
# ... plus this (0-255): quantisation and what the prior leaves out. `benchmarks/deblur_consistency.py` (16
# training photos, Gaussian 1.0 / 1.6 / 2.2 and motion 7 / 11 / 15 px, the 88 kernels gir-kernel trusts):
# helpful deblurrings leave 0.57-3.06 (a motion deblurring told the true kernel 1.4-1.8 on some photos), so
# 1.2 undid half of them (43 of 88 kept, +1.43 dB on average over the 88; 2.0: 78 kept, +2.84), while the five
# harmful ones (motion estimates a little off) left 0.77-1.38, under any slack; wrong kernels (the other
# family, or a motion 30% too long and 10 degrees off) mostly leave more than 3 (123 of 144 refused at 2.0).
# The kernel network tells the families apart, and its views must agree (gir.analysis.kernel), which refuses
# the grossly wrong lengths that a larger slack would let through.
CONSISTENT_SLACK = 2.0
MIN_DROP_CONSISTENT = 0.05  # rule 1 for steps verified by consistency
NIQE_RISE = 2.0  # rule 5: a brightening may raise NIQE by at most this ...
NIQE_SIDE = 512  # ... read on the images shrunk to this long side (NIQE needs at least 192 x 192)
EDGE_RATIO = 2.0  # rule 4: a denoising residual at most this much stronger on edges than on flat areas (see
# benchmarks/denoise_structure.py; the calibration is in RESULTS)


@dataclass
class Check:
    """The verdict on one step: ``kept``, ``why`` (one line), the probabilities of every family before and
    after (rounded), and the tone shift measured (0-255 scale)."""

    kept: bool
    why: str
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    tone_shift: float = 0.0
    residual: float | None = None  # RMS (0-255) of the input minus the output degraded again, where modelled
    noise: float | None = None  # the noise level the residual was judged against

    def to_dict(self) -> dict:
        out = {"kept": self.kept, "why": self.why, "before": self.before, "after": self.after,
               "tone_shift": round(self.tone_shift, 2)}
        if self.residual is not None:
            out.update(residual=round(self.residual, 2), noise=round(float(self.noise or 0.0), 2))
        return out

    def describe_residual(self) -> str:
        """``"residual 10.3/255 (noise 10.0)"`` where the step was judged by consistency, else ``""``."""
        if self.residual is None:
            return ""
        return f"residual {self.residual:.1f}/255 against noise {self.noise or 0.0:.1f}"


def tone_shift(a: np.ndarray, b: np.ndarray, scale: int = TONE_SCALE, margin: float = 0.0) -> float:
    """Mean absolute difference (0-1 scale) of the two HxWx3 images' area-downsampled views (1/scale), over
    the cells whose view of ``a`` lies in [margin, 1 - margin] in every channel (0 when none does)."""
    import cv2

    h, w = a.shape[:2]
    size = (max(1, w // scale), max(1, h // scale))
    va = cv2.resize(np.ascontiguousarray(a), size, interpolation=cv2.INTER_AREA).reshape(-1, 3)
    vb = cv2.resize(np.ascontiguousarray(b), size, interpolation=cv2.INTER_AREA).reshape(-1, 3)
    keep = np.all((va >= margin) & (va <= 1.0 - margin), axis=1)
    return float(np.abs(va[keep] - vb[keep]).mean()) if keep.any() else 0.0


def min_drop(families: Iterable[str]) -> float:
    """The summed fall in probability that shows a step restoring ``families`` helped (rule 1)."""
    return min(MIN_DROP_FOR.get(f, MIN_DROP) for f in families)


def _probs(d: Diagnosis) -> dict[str, float]:
    """Each family's evidence: its p, or a detector's own probability where the policy names one and it is
    higher (``mask_p``: a scratch repair must make the detector's evidence fall too)."""
    out = {}
    for name, f in d.findings.items():
        key = MASK_P.get(name)
        out[name] = round(max(f.p, f.strength.get(key, 0.0)) if key else f.p, 3)
    return out


def mask_gone(family: str, before: Diagnosis, after: Diagnosis) -> bool:
    """For a family with a detector (``mask_p``): the detector was sure before (its own p at least
    :data:`MASK_SURE`), its marked area fell to at most :data:`AREA_LEFT` of what it was, and its p fell below
    :data:`GONE_BELOW`, whatever the analyzer network still reads. After a good fill the network may still
    read the filled strokes as damage where the detector finds none (a 9-px white line filled on `astronaut`:
    p 1.00 -> 0.99, area 24.9% -> 0). Only the detector's word counts here: a network that lets go is not
    enough, since one that agreed that clean line art was damaged also let go once the fill had erased it
    (last session's stage-2 analyzer: line art 12.75 dB against itself)."""
    key = MASK_P.get(family)
    fb, fa = before.findings.get(family), after.findings.get(family)
    if key is None or fb is None or fa is None:
        return False
    area_b, area_a = fb.strength.get("area", 0.0), fa.strength.get("area", 0.0)
    if fb.strength.get(key, 0.0) < MASK_SURE or area_a > AREA_LEFT * area_b:
        return False
    return fa.strength.get(key, 0.0) < GONE_BELOW


EDGE_BUDGET = 4_000_000  # px: larger photos are judged on a spread of 512-px tiles this many pixels in all


def edge_windows(h: int, w: int, size: int = 512, budget: int = EDGE_BUDGET) -> list[tuple[slice, slice]]:
    """The windows :func:`edge_residual_ratio` reads: the whole photo when it has at most ``budget`` pixels,
    else every k-th ``size`` px tile in raster order (k as small as keeps them within ``budget``), so a 24 MP
    photo costs what a 4 MP one does."""
    from gir.restore.tiling import margin_tiles

    if h * w <= budget:
        return [(slice(0, h), slice(0, w))]
    tiles = [t.core for t in margin_tiles(h, w, size, 0)]
    step = int(np.ceil(len(tiles) * size * size / budget))
    return tiles[::step]


def edge_residual_ratio(rgb_before: np.ndarray, observed: np.ndarray) -> float:
    """How much stronger a denoising step's residual (the input minus ``observed``, in luma) is on the
    strongest edges of ``observed`` (the top tenth of its gradient magnitude, Gaussian-smoothed by 1 px) than
    on its flattest half: the ratio of the mean squared residual there, over :func:`edge_windows`. Noise does
    not know where the edges are, so removing it leaves about 1 (0.5-1.1 for Gaussian noise sigma 15-40 told
    right); a step that removes structure leaves its residual on the edges (rule 4)."""
    import cv2

    def luma(a: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(a, np.float32), cv2.COLOR_RGB2GRAY)

    res, grad = [], []
    for win in edge_windows(*observed.shape[:2]):
        out = luma(observed[win])
        res.append((luma(rgb_before[win]) - out).ravel())
        gy, gx = np.gradient(cv2.GaussianBlur(out, (0, 0), 1.0))
        grad.append(np.hypot(gx, gy).ravel())
    r, g = np.concatenate(res), np.concatenate(grad)
    top, flat = g >= np.quantile(g, 0.9), g <= np.quantile(g, 0.5)
    if not top.any() or not flat.any():
        return 1.0
    floor = (0.5 / 255) ** 2  # quantisation: a clean 8-bit photo's flat residual is not zero
    return float((r[top] ** 2).mean() / max(float((r[flat] ** 2).mean()), floor))


def _on_edges(rgb_before: np.ndarray, observed: np.ndarray) -> float | None:
    """Rule 4's test: the :func:`edge_residual_ratio` where it exceeds :data:`EDGE_RATIO` (the step removed
    structure), else None."""
    edge = edge_residual_ratio(rgb_before, observed)
    return edge if edge > EDGE_RATIO else None


def cell_noise(sigma: float, scale: int = TONE_SCALE) -> float:
    """The mean |difference| (0-255) that noise of std ``sigma`` alone leaves between an input's cell means and
    their expectation: sqrt(2 / pi) sigma / scale for scale x scale cells. A step judged through its model may
    differ from its noisy input by that much in tone (2.5/255 at sigma 50)."""
    return float(np.sqrt(2.0 / np.pi) * sigma / scale)


def residual_rms(rgb_before: np.ndarray, observed: np.ndarray) -> float:
    """RMS (0-255) of the input minus the output degraded again."""
    from gir.metrics.fidelity import mean_square

    return float(np.sqrt(mean_square(np.asarray(rgb_before), np.asarray(observed))) * 255.0)


def niqe_rise(rgb_before: np.ndarray, rgb_after: np.ndarray) -> float | None:
    """NIQE of ``rgb_after`` minus NIQE of ``rgb_before`` (lower NIQE is better, so > 0 is worse), both read
    shrunk to at most :data:`NIQE_SIDE` px on the long side; None where NIQE cannot read them (smaller than
    two of its patches a side, or too flat)."""
    from gir.data.patches import fit_side
    from gir.metrics.niqe import NiqeError, niqe

    try:
        return float(niqe(fit_side(np.clip(rgb_after, 0.0, 1.0), NIQE_SIDE))
                     - niqe(fit_side(np.clip(rgb_before, 0.0, 1.0), NIQE_SIDE)))
    except NiqeError:
        return None


def verify(families: Iterable[str], before: Diagnosis, after: Diagnosis, rgb_before: np.ndarray,
           rgb_after: np.ndarray, *, later: Iterable[str] = (), threshold: float = THRESHOLD,
           observed: np.ndarray | None = None, noise: float = 0.0) -> Check:
    """Keep or undo a step that restored ``families`` (see the module docstring for the rules).

    before / after: the analyses of the step's input and output; rgb_before / rgb_after: the images (float32
    HxWx3 in [0, 1]); later: families the plan restores after this step; observed: the output degraded again
    by the expert's model (:meth:`gir.restore.experts.Expert.observe`), None where it has none; noise: the
    noise level (0-255) the residual is judged against."""
    families = tuple(families)
    pb, pa = _probs(before), _probs(after)
    checked = not TONAL_FAMILIES & set(families)
    residual = None
    if observed is not None:
        residual = residual_rms(rgb_before, observed)
        shift = tone_shift(rgb_before, observed) * 255 if checked else 0.0
    else:
        margin = CLIP_MARGIN if CLIPPED_FAMILIES & set(families) else 0.0
        shift = tone_shift(rgb_before, rgb_after, margin=margin) * 255 if checked else 0.0

    def check(kept: bool, why: str) -> Check:
        return Check(kept, why, pb, pa, shift, residual, noise if residual is not None else None)

    if residual is not None and residual > CONSISTENT_FACTOR * noise + CONSISTENT_SLACK:
        return check(False, f"does not explain its input: residual {residual:.1f}/255, more than "
                            f"{CONSISTENT_FACTOR:g} x the noise {noise:.1f} + {CONSISTENT_SLACK:g}")
    if observed is not None and "noise" in families and (edge := _on_edges(rgb_before, observed)):
        return check(False, f"removed structure: its residual is {edge:.1f}x stronger on edges than on "
                            f"flat areas (at most {EDGE_RATIO:g})")
    if "low_light" in families:
        rise = niqe_rise(rgb_before, rgb_after)
        if rise is not None and rise > NIQE_RISE:
            return check(False, f"revealed artefacts: NIQE rose by {rise:.1f} (at most {NIQE_RISE:g})")
    also = tuple(sorted({f for fam in families for f in REMOVES_TOO.get(fam, ())
                         if f not in families and pb[f] >= threshold}))
    gone = [f for f in families + also if pb[f] >= threshold and (pa[f] < min(GONE_BELOW, threshold)
                                                                  or mask_gone(f, before, after))]
    drop = sum(pb[f] - pa[f] for f in families)
    changes = ", ".join(f"{f} {pb[f]:.0%} -> {pa[f]:.0%}" for f in families + also)
    need = MIN_DROP_CONSISTENT if residual is not None else min_drop(families)
    if not gone and drop < need:
        return check(False, f"did not help: {changes}")
    if (drop < need and not set(gone) & set(families)  # helped only by the noise it also removed: rule 4
            and (edge := _on_edges(rgb_before, observed if observed is not None else rgb_after))):
        return check(False, f"did not help: {changes}; the noise it removed lay on edges ({edge:.1f}x "
                            f"stronger than on flat areas, at most {EDGE_RATIO:g}): structure, not noise")
    later = set(later).union(*(REVEALS.get(f, ()) for f in families))
    new = [f for f in pa if f not in families and f not in later and pb[f] < ABSENT and pa[f] >= threshold]
    if new:
        return check(False, "introduced " + ", ".join(f"{f} ({pb[f]:.0%} -> {pa[f]:.0%})" for f in new))
    limit = MAX_TONE_SHIFT * 255 + (cell_noise(noise) if residual is not None else 0.0)
    if shift > limit:
        return check(False, f"shifted tones by {shift:.1f}/255 on average (at most {limit:.1f})")
    return check(True, f"helped: {changes}")
