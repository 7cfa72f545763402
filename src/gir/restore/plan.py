"""The plan of `gir restore`: which experts run on a photo, in which order, on what evidence.

:func:`make_plan` is a pure function of the analyzer's :class:`~gir.analysis.analyze.Diagnosis`, the
available experts and the user's overrides, so it is easy to test and to print (``--explain``).

Rules:

* An expert runs only where one of its families is detected with at least that family's confidence
  (:data:`MIN_P`; scratch and hole repair need 0.9, as only scanned old photos should get it; blur needs 0.6:
  at p 0.51 the sharpening expert turned a brick texture that Pillow's bicubic x2 had barely touched from
  36.1 into 28.4 dB while the analyzer saw the blur go, a harm the verification cannot see. That case is in
  the held-out benchmark, so its blur rows do not measure a threshold chosen blind. It was 0.7 until a
  calibration on 150 training photos at random strengths, ``python benchmarks/verify_calibration.py --expert
  gir-expert-sharpen --family blur ...``: of the 36 steps detected at p 0.5-0.7 the verification kept 11, and
  none of them harmed, the worst +0.39 dB; 0.6 stays above the brick. Issue 28 replaced the sharpening
  expert by plug-and-play deblurring with an estimated kernel and kept 0.6 (not re-calibrated for it).
* A JPEG whose quality is :data:`MILD_JPEG_QUALITY` or more is reported but not restored: its artefacts are
  below what an expert can remove without also removing detail.
* Order: undo the last degradation first (:data:`ORDER`): impulses (their samples are exact 0/1 values only
  before anything else touches them), JPEG, noise, resolution or blur, then the acquisition degradations.
  One expert that covers several detected families runs once, at the place of the first of them.
* A photo with nothing detected gets an empty plan, and comes back with its pixels unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from gir.analysis.analyze import THRESHOLD, Diagnosis
from gir.analysis.families import FAMILIES
from gir.errors import GirError

# Undo the last degradation first: the order in which families are restored.
ORDER = ("impulse", "jpeg", "noise", "resize", "blur", "ringing", "demosaic", "damage", "rain", "raindrop",
         "snow", "haze", "low_light")
assert sorted(ORDER) == sorted(FAMILIES), "every family needs a place in the restore order"

# Confidence a family needs before its expert runs (default THRESHOLD).
MIN_P = {"damage": 0.9, "blur": 0.6}
# Families restored only where the photo showed them before any step: removing JPEG blocks or noise leaves a
# smoother image that the analyzer may read as band-limited (scikit-image's `brick`, Pillow JPEG quality 20: p(resize)
# 0.55 after the JPEG expert, and the band expert then took 4 dB off by inventing texture, a harm the verification
# could not see: the analyzer saw the resize evidence go).
ONLY_IF_FIRST = frozenset({"resize", "ringing"})
MILD_JPEG_QUALITY = 85.0


@dataclass(frozen=True)
class Step:
    """One expert run: the expert's name, the detected families it answers (most probable first), the
    evidence (family -> p) and the strengths the analyzer measured (``"noise.sigma" -> 23.0``)."""

    expert: str
    families: tuple[str, ...]
    evidence: dict[str, float]
    strengths: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        why = ", ".join(f"{f} {self.evidence[f]:.0%}" for f in self.families)
        s = ", ".join(f"{k} {v:.3g}" for k, v in self.strengths.items())
        return f"{self.expert} for {why}" + (f" ({s})" if s else "")


@dataclass(frozen=True)
class Plan:
    """The steps in order, and what was detected but left alone with the reason (family -> why)."""

    steps: tuple[Step, ...]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict:
        return {"steps": [{"expert": s.expert, "families": list(s.families), "evidence": s.evidence,
                           "strengths": s.strengths} for s in self.steps],
                "skipped": dict(self.skipped)}


def parse_families(text: str | Iterable[str] | None, option: str) -> frozenset[str] | None:
    """``"noise,jpeg"`` (or a list) -> the family names, checked against :data:`FAMILIES`; None -> None."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    names = frozenset(s.strip() for s in items if s.strip())
    unknown = sorted(names - set(FAMILIES))
    if unknown:
        raise GirError(f"{option}: unknown degradation famil{'y' if len(unknown) == 1 else 'ies'} "
                       f"{', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    return names


def min_p(family: str, threshold: float = THRESHOLD) -> float:
    """The confidence ``family`` needs before its expert runs."""
    return max(threshold, MIN_P.get(family, threshold))


def _why_not(diag: Diagnosis, family: str, covers: Mapping[str, str], only, skip, need: float) -> str | None:
    """None when ``family`` should be restored; else why not (for detected families only)."""
    f = diag.findings[family]
    if only is not None and family not in only:
        return "not in --only"
    if skip is not None and family in skip:
        return "--skip"
    if f.p < need:
        return f"p {f.p:.0%} below the {need:.0%} this family needs"
    if family == "jpeg" and f.strength.get("quality", 0.0) >= MILD_JPEG_QUALITY:
        return f"mild (quality {f.strength['quality']:.0f} >= {MILD_JPEG_QUALITY:.0f})"
    if family not in covers:
        return "no expert for it"
    return None


def make_plan(diag: Diagnosis, covers: Mapping[str, str], *, only: Sequence[str] | None = None,
              skip: Sequence[str] | None = None, threshold: float = THRESHOLD,
              after: Iterable[str] = (), done: Iterable[str] = (), first: Iterable[str] | None = None) -> Plan:
    """The plan for a photo.

    diag: the analyzer's diagnosis. covers: family -> the name of the expert that restores it.
    only / skip: family names (``--only`` / ``--skip``); ``only`` also lets a family run at the plain
    ``threshold`` when its own minimum is higher (the user asked for it). threshold: the detection threshold.
    Re-planning after steps: ``after``, the places of the steps run so far (the first family of each): only
    families later in :data:`ORDER` than all of them are planned; ``done``, families a step already restored
    or tried (an expert for several families runs at its first family's place: its later ones are done);
    ``first``, the families detected before any step (those of :data:`ONLY_IF_FIRST` are planned only if
    among them, or asked for with ``only``).
    """
    only_set = frozenset(only) if only is not None else None
    skip_set = frozenset(skip) if skip is not None else None
    places = [ORDER.index(f) for f in after]
    start = max(places) + 1 if places else 0
    done_set = frozenset(done)
    steps: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for family in ORDER[start:]:
        f = diag.findings[family]
        if f.p < threshold or family in done_set:
            continue
        asked = only_set is not None and family in only_set
        if first is not None and family in ONLY_IF_FIRST and family not in first and not asked:
            skipped[family] = "appeared only after an earlier step (a smoothed photo reads as band-limited)"
            continue
        need = threshold if asked else min_p(family, threshold)
        why = _why_not(diag, family, covers, only_set, skip_set, need)
        if why is not None:
            skipped[family] = why
            continue
        steps.setdefault(covers[family], []).append(family)
    ordered = []
    for expert, fams in steps.items():  # dicts keep insertion order: the place of each expert's first family
        evidence = {fam: round(diag.findings[fam].p, 4) for fam in fams}
        strengths = {k: round(v, 3) for k, v in diag.strengths(fams).items()}
        ordered.append(Step(expert, tuple(fams), evidence, strengths))
    return Plan(tuple(ordered), skipped)
