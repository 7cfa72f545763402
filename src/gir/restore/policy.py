"""The per-family policy of `gir restore`: one row per degradation family, in the order the plan undoes them.

Everything the plan (:mod:`gir.restore.plan`), the verification (:mod:`gir.restore.verify`) and the shipped
experts (:mod:`gir.restore.experts`) treat differently per family is a field of a row here, with the
measurement that set it; those modules hold no per-family numbers or lists of their own.

* ``expert``: the shipped expert that restores the family (:data:`gir.restore.experts.SHIPPED` says what each
  expert is; its families are the rows that name it, in this order).

* order: undo the last degradation first. Impulses (their samples are exact 0/1 values only before anything
  else touches them), JPEG, noise, scratches, then resolution or blur, then the acquisition-time degradations.
  Scratches come before resolution and blur although a print is scratched before it is scanned: deblurring a
  scratched photo sharpens the scratches and rings around them, and the fill network (``gir-inpaint``) was
  trained on scratches blurred, resampled and ringed after the damage. In the GIR suite (four held-out photos)
  a scratched, soft `chelsea` went 17.88 -> 15.86 dB with the deblurring before the fill (which was then
  undone) and to 26.67 without it; moving the row here took the suite from 23.04 to 23.08 dB, order 4 from
  20.91 to 20.99 and order 5 from 20.86 to 20.98.
* ``min_p``: the confidence a family needs before its expert runs (None: the detection threshold).
  - Scratch and hole repair need 0.9: only scanned old photos should get it. Its p comes from the scratch
    detector's mask where that is higher than the analyzer's (:func:`gir.analysis.scratches.damage_probability`:
    0.9 from about 0.5% of the photo marked).
  - Blur needs 0.6. At p 0.51 the old sharpening network turned a brick texture that Pillow's bicubic x2 had
    barely touched from 36.1 into 28.4 dB (held-out benchmark). A calibration on 150 training photos moved
    it from 0.7 to 0.6 (``benchmarks/verify_calibration.py``): of 36 steps at p 0.5-0.7 the verification kept
    11, the worst +0.39 dB. Issue 28's plug-and-play deblurring kept 0.6, not re-calibrated.
* ``only_if_first``: restored only where the photo showed the family before any step. Removing JPEG blocks
  or noise leaves a smoother image that reads as band-limited: on `brick` after the JPEG expert p(resize) was
  0.55, and the band expert took 4 dB off. Haze and snow too: removing JPEG from RNI15's soft-focus portrait
  `Audrey_Hepburn.jpg` left pale skin on a white ground that the analyzer read as haze (0.77), and the
  dark-channel prior turned the face red; in the GIR suite this costs 0.02 dB (23.38 -> 23.36).
* ``mild``: (strength, value). At or above the value the family is reported, not restored: a JPEG of quality
  85 or more has artefacts below what an expert removes without removing detail.
* ``min_drop``: the fall in the analyzer's probability that shows a step helped (None: the verification's
  default). Down-sampling and ringing fall only 0.05-0.2 when the band expert restores them; calibrated on
  training photos (``benchmarks/verify_calibration.py``), from 0.05 on no kept step harmed (worst -0.04 dB).
* ``tonal``: the family changes tones (haze, low light, snow), so the tone check does not apply.
* ``clipped``: removing it moves the mean of clipped regions (noise clipped at 0 and 1), so the tone check
  leaves out cells near black and white when the expert has no model of the clipping.
* ``reveals``: families its removal may reveal without introducing them.
  - Brightening a dark photo shows its noise, and its blur: detail that was too dark to judge (and what the
    denoiser after the curve smooths). On 26 synthetic low-light photos (``benchmarks/low_light.py``) the
    step was undone 4 times for "introduced blur" before blur was added here; with it the pipeline's mean
    rose from 15.69 / 14.29 to 17.58 / 15.66 dB, kept on 12 and 10 of 13, none below its input.
  - Deblurring leaves a band-limited photo (what the blur removed does not come back), which the analyzer
    reads as resized. On 16 training photos (256 px, OpenCV Gaussian blur sigma 2.0) the deblurring step was
    undone for "introduced resize" on 9, which it had taken up +1.6 to +4.5 dB (one -0.48); with the reveal
    they are kept. Blur sigma 1.6 was not affected.
  - Filling scratches shows that the photo under them is soft (resampled or blurred after the damage): their
    sharp edges had hidden it. In the GIR suite (four held-out photos, 100 tasks) the inpainting step was
    undone 17 times for "introduced resize" and 7 for "introduced blur"; with the reveal it is kept on 131 of
    154 inputs (107 before) and the suite gains 0.48 dB (22.36 -> 22.84); the 18 clean and thin-structure
    images of ``benchmarks/scratches.py --part clean`` still come back unchanged.
* ``removes_too``: families its expert was trained to remove along with its own, which verification counts as
  the step's when they were detected before it (rule 1: they fell below the threshold, so the step helped).
  The JPEG expert was trained on noise under JPEG (stages 3-4), and the analyzer reads a JPEG of fine texture
  as noise: Pillow JPEG 80 of scikit-image's `grass` tiles read noise 0.83-0.97 (sigma 14-19) and JPEG
  0.11-0.13. The JPEG step took them 0.6-1.4 dB above their input and noise to 0.00, but was undone ("did not
  help": JPEG 0.11 -> 0.02), and the denoiser, told sigma 16-19, then erased the grass: 0.25-2.70 dB under the
  input (``benchmarks/jpeg_clean_texture.py``). Where only such a family shows the help, the residual must look
  like noise (verification rule 4: not concentrated on edges): the JPEG expert's residual on grass at quality
  60-80 is 1.4-1.7x stronger on edges than on flat areas, on fine text saved at 80 3.6x (and it cost that text
  3.1 dB).
* ``mask_p``: the strength holding a detector's own probability of the family (``damage``: ``p_mask``, the
  scratch detector's, :func:`gir.analysis.scratches.fuse_scratches`). The finding's p counts it only where
  the analyzer network agrees; the plan also counts it when the family is asked for (``--only``), and
  verification always does (a repair must make it fall). Why: the detector also marks thin bright structure.
  On 18 held-out clean images (scikit-image's photos and the thin-structure probes, ``benchmarks/scratches.py
  --part clean``) it marked rows of text (10.4% of the pixels), a fence (10.6%), a window grid (16.4%), line
  art (15.1%), a brick wall (2.4%), a coffee cup's rim (1.6%) and a motorcycle (1.5%), where the network,
  trained with such structure as clean, gave 0.00-0.24 (line art 0.96, whose fill verification undid): all 18
  came back unchanged. On scikit-image photos scratched with OpenCV the network gave 0.03-1.00 (8 of 13 at
  least 0.87); scanned old prints read 0.00-0.02 to it, so their scratches are repaired on request.
* ``yields_to``: a family that, detected at least as probably, says this one is its side effect, so this one
  is not restored. A photo resampled by bicubic x2 reads as blurred too, and a Gaussian deconvolution of it
  invents ringing: on held-out `chelsea` (bicubic x2, no noise) the deblurring kept for "blur 65% -> 22%" took
  it from 33.25 to 26.85 dB. Scikit-image photos resampled by bicubic x2 read resize 0.48-0.93 against blur
  0.04-0.61 (resize higher on each of 5); the same photos blurred by Gaussian sigma 1.0 / 1.6 / 2.0 read blur
  higher on 13 of 15, and the two others (sigma 1.0, blur 0.23 and 0.30) are below blur's ``min_p`` anyway, so
  ``blur`` yields to ``resize``.
"""
from __future__ import annotations

from dataclasses import dataclass

from gir.analysis.families import FAMILIES


@dataclass(frozen=True)
class FamilyPolicy:
    """One family's row (see the module docstring for each field)."""

    family: str
    expert: str
    min_p: float | None = None
    only_if_first: bool = False
    mild: tuple[str, float] | None = None
    min_drop: float | None = None
    tonal: bool = False
    clipped: bool = False
    reveals: frozenset[str] = frozenset()
    yields_to: str | None = None
    mask_p: str | None = None
    removes_too: frozenset[str] = frozenset()


POLICY: tuple[FamilyPolicy, ...] = (
    FamilyPolicy("impulse", "impulse", clipped=True),
    FamilyPolicy("jpeg", "jpeg", mild=("quality", 85.0), removes_too=frozenset({"noise"})),
    FamilyPolicy("noise", "denoise", clipped=True),
    FamilyPolicy("damage", "inpaint", min_p=0.9, mask_p="p_mask", reveals=frozenset({"resize", "blur"})),
    FamilyPolicy("resize", "band", only_if_first=True, min_drop=0.05),
    FamilyPolicy("blur", "deblur", min_p=0.6, reveals=frozenset({"resize"}), yields_to="resize"),
    FamilyPolicy("ringing", "band", only_if_first=True, min_drop=0.05),
    FamilyPolicy("demosaic", "general"),
    FamilyPolicy("rain", "general"),
    FamilyPolicy("raindrop", "general"),
    FamilyPolicy("snow", "dehaze", tonal=True, only_if_first=True),
    FamilyPolicy("haze", "dehaze", tonal=True, only_if_first=True),
    FamilyPolicy("low_light", "brighten", tonal=True, reveals=frozenset({"noise", "blur"})),
)
BY_FAMILY: dict[str, FamilyPolicy] = {p.family: p for p in POLICY}
ORDER: tuple[str, ...] = tuple(p.family for p in POLICY)
if sorted(ORDER) != sorted(FAMILIES):  # pragma: no cover - a new family must get a row
    raise RuntimeError("gir.restore.policy: every degradation family needs exactly one row")


def policy(family: str) -> FamilyPolicy:
    """The row of ``family``."""
    return BY_FAMILY[family]


def families_of(expert: str) -> tuple[str, ...]:
    """The families whose row names ``expert``, in :data:`ORDER`."""
    return tuple(p.family for p in POLICY if p.expert == expert)
