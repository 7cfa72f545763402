"""The plan of `gir restore`: which experts run on a photo, in which order, on what evidence.

:func:`make_plan` is a pure function of the analyzer's :class:`~gir.analysis.analyze.Diagnosis`, the
available experts and the user's overrides, so it is easy to test and to print (``--explain``).

Rules (the per-family values are rows of :mod:`gir.restore.policy`, with the measurements that set them):

* An expert runs only where one of its families is detected with at least that family's confidence
  (``min_p``; the plain detection threshold otherwise), and a family restored only where the photo showed it
  first (``only_if_first``) is left alone when it appears after a step.
* A family at or beyond its ``mild`` strength (a JPEG of quality 85 or more) is reported, not restored.
* Order: undo the last degradation first (:data:`ORDER`). One expert that covers several detected families
  runs once, at the place of the first of them.
* A photo with nothing detected gets an empty plan, and comes back with its pixels unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from gir.analysis.analyze import THRESHOLD, Diagnosis
from gir.analysis.families import FAMILIES
from gir.errors import GirError
from gir.restore.policy import ORDER, POLICY, policy

# Views of the policy table (gir.restore.policy), kept for their readers.
MIN_P = {p.family: p.min_p for p in POLICY if p.min_p is not None}
ONLY_IF_FIRST = frozenset(p.family for p in POLICY if p.only_if_first)


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
    """The confidence ``family`` needs before its expert runs (its policy's ``min_p``, at least the threshold)."""
    return max(threshold, policy(family).min_p or threshold)


def _why_not(f, family: str, covers: Mapping[str, str], only, skip, need: float) -> str | None:
    """None when ``family`` (its finding ``f``) should be restored; else why not (for detected families only)."""
    if only is not None and family not in only:
        return "not in --only"
    if skip is not None and family in skip:
        return "--skip"
    if f.p < need:
        return f"p {f.p:.0%} below the {need:.0%} this family needs"
    mild = policy(family).mild
    if mild is not None and f.strength.get(mild[0], float("-inf")) >= mild[1]:
        return f"mild ({mild[0]} {f.strength[mild[0]]:.0f} >= {mild[1]:.0f})"
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
        asked = only_set is not None and family in only_set
        if asked and policy(family).mask_p:  # a detector's own evidence counts when the user asks for it
            f = replace(f, p=max(f.p, f.strength.get(policy(family).mask_p, 0.0)))
        if f.p < threshold or family in done_set:
            continue
        if first is not None and policy(family).only_if_first and family not in first and not asked:
            skipped[family] = "appeared only after an earlier step (a smoothed photo reads as band-limited)"
            continue
        other = policy(family).yields_to
        if other and not asked and diag.findings[other].p >= max(threshold, f.p):
            skipped[family] = (f"read as a side effect of {other} ({other} p {diag.findings[other].p:.0%} >= "
                               f"{family} p {f.p:.0%})")
            continue
        need = threshold if asked else min_p(family, threshold)
        why = _why_not(f, family, covers, only_set, skip_set, need)
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
