"""`gir restore`'s default path, one way through: image -> analysis -> plan -> experts -> verified output.

    from gir.restore.pipeline import Pipeline
    result = Pipeline()(rgb)                  # float32 HxWx3 in [0, 1] -> float32 HxWx3 in [0, 1]
    outcome = Pipeline().run("photo.jpg")      # the image plus what was found, planned, run, kept and undone
    print(outcome.explain())

1. :mod:`gir.analysis` says which degradation families the photo has, how strong (a JPEG file's tables too).
2. :func:`gir.restore.plan.make_plan` picks the experts and their order; a clean photo gets an empty plan and
   comes back as the very same pixels.
3. Each expert (:mod:`gir.restore.experts`) runs, tiled where it is a network.
4. :func:`gir.restore.verify.verify` analyses the output again and undoes a step that did not help or did
   harm. After every step the rest of the plan is made again from the latest analysis, so a family that a
   step reveals (blur under noise) is restored when its turn comes.

A grey photo (every pixel within :data:`GREY_TOLERANCE` of grey) comes back grey: each step's output, and the
upscaled photo, is projected onto grey (the channel mean) before it is verified. The colour networks left up to
3-5/255 of colour in grey photos saved as JPEG (scikit-image's camera, coins, grass, gravel).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from gir.analysis.analyze import THRESHOLD, Analyzer, Diagnosis, diagnose, get_analyzer
from gir.analysis.scratches import carry_scratches
from gir.errors import GirError
from gir.metrics import psnr
from gir.restore.experts import Expert, coverage, shipped_experts
from gir.restore.plan import ORDER, Plan, Step, make_plan, parse_families
from gir.restore.upscale import UpscaleRecord
from gir.restore.verify import Check, verify


@dataclass
class StepRecord:
    """What one planned step did: the step, the verification, its time, how much it changed the image (PSNR of
    its output against its input; inf when unchanged) and how many self-ensemble passes the expert made."""

    step: Step
    check: Check
    seconds: float
    change_db: float
    passes: int = 1
    note: str = ""  # what the expert reported about its run (e.g. the blur kernel it estimated)
    trust: np.ndarray | None = None  # --mode perceptual: where the twin's detail was kept (gir.restore.fusion)

    def to_dict(self) -> dict:
        out = {"expert": self.step.expert, "families": list(self.step.families), **self.check.to_dict(),
               "seconds": round(self.seconds, 3), "passes": self.passes,
               "change_psnr": None if not np.isfinite(self.change_db) else round(self.change_db, 2)}
        if self.note:
            out["note"] = self.note
        if self.trust is not None:
            out["perceptual_trust"] = round(float(self.trust.mean()), 4)
        return out


@dataclass
class Outcome:
    """The restored image with its story: the first diagnosis, the first plan, every step's record and the
    total time. ``changed``: some step was kept (False: ``image`` is the input array itself)."""

    image: np.ndarray
    diagnosis: Diagnosis
    plan: Plan
    records: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0
    left_later: dict[str, str] = field(default_factory=dict)  # family -> why, from the re-plans after steps
    upscale: UpscaleRecord | None = None  # the enlargement after the steps (``scale`` > 1)

    @property
    def changed(self) -> bool:
        return any(r.check.kept for r in self.records) or self.upscale is not None

    @property
    def trust(self) -> np.ndarray | None:
        """--mode perceptual: the trust map of the kept steps that fused a perceptual result (their minimum;
        1 = the perceptual pixel), or None when no such step was kept."""
        maps = [r.trust for r in self.records if r.check.kept and r.trust is not None]
        return np.minimum.reduce(maps) if maps else None

    def to_dict(self) -> dict:
        out = {"file": self.diagnosis.file, "diagnosis": self.diagnosis.to_dict(), "plan": self.plan.to_dict(),
               "steps": [r.to_dict() for r in self.records], "left_alone_later": dict(self.left_later),
               "changed": self.changed, "seconds": round(self.seconds, 3)}
        if self.upscale is not None:
            out["upscale"] = self.upscale.to_dict()
        return out

    def explain(self) -> str:
        """Several lines for ``--explain``: diagnosis, plan, each step's verdict."""
        name = self.diagnosis.file or "image"
        lines = [f"{name}: {self.diagnosis.verdict()}"]
        if self.plan.empty and not self.records:
            lines.append("  plan: nothing to restore" if self.upscale is not None else
                         "  plan: nothing to do; the pixels are returned unchanged")
        else:
            lines.append("  plan: " + (" -> ".join(s.describe() for s in self.plan.steps) or "nothing"))
        for family, why in self.plan.skipped.items():
            lines.append(f"  left alone: {family} ({why})")
        for r in self.records:
            verdict = "kept" if r.check.kept else "UNDONE"
            change = ("" if not np.isfinite(r.change_db)
                      else f", output {r.change_db:.1f} dB PSNR from its input")
            passes = f", {r.passes} passes" if r.passes > 1 else ""
            trust = (f"perceptual detail kept on {r.trust.mean():.0%} of the pixels" if r.trust is not None else "")
            extra = "; ".join(x for x in (r.note, trust, r.check.describe_residual()) if x)
            extra = f" [{extra}]" if extra else ""
            lines.append(f"  {r.step.expert}: {verdict}: {r.check.why}{extra} ({r.seconds:.2f} s{passes}{change})")
        for family, why in self.left_later.items():
            lines.append(f"  then left alone: {family} ({why})")
        if self.upscale is not None:
            lines.append(f"  {self.upscale.describe()}, after the steps above at the input size")
        lines.append(f"  total {self.seconds:.2f} s")
        return "\n".join(lines)


# The noise a kept denoising step leaves, as a fraction of the sigma it removed: the denoiser's error std
# (CBSD68: about 0.35 sigma at sigma 15-50). A later plug-and-play step treats its input as that noisy.
DENOISED_RESIDUAL = 0.35
# The error another kept step leaves, as a multiple of the RMS of what it changed. On 16 training photos
# (JPEG 40 over bicubic x2, JPEG 50 over blur 1.0 and noise 10, JPEG 30 over blur 1.4) 1, 2 and 3 gave the
# same means (+0.31 / +0.46 / +0.39, +0.44 for the last at 2) and no harm; 2 took the README example from
# 28.09 to 27.14 dB (the deblurring then does almost nothing), so 1.
CHANGE_RESIDUAL = 1.0
SIGMA_RANGE = (0.0, 75.0)
MODES = ("fidelity", "perceptual")


def left_behind(step: Step, before: np.ndarray, after: np.ndarray, earlier: float = 0.0) -> float:
    """The error (std, 0-255) a kept step leaves in the image, which a later plug-and-play step must treat as
    noise: :data:`DENOISED_RESIDUAL` of the sigma a denoising step removed; for other steps the RMS of what the
    step changed, as the size of the error a restoration network leaves (the README example: after the JPEG
    expert, deblurring told noise 0 took the photo from 27.1 to 24.1 dB, told 6 to 28.1; the JPEG step had
    changed it by 5.3/255 RMS). Never less than ``earlier`` (what earlier steps left)."""
    if "noise" in step.families and "noise.sigma" in step.strengths:
        return max(earlier, DENOISED_RESIDUAL * float(step.strengths["noise.sigma"]))
    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    return max(earlier, CHANGE_RESIDUAL * float(np.sqrt(np.mean(d * d)) * 255.0))  # the noise levels the denoiser was trained on (0-255 scale)


GREY_TOLERANCE = 1.0 / 255  # a photo whose channels differ by at most this everywhere is grey (8-bit rounding)


def is_grey(rgb: np.ndarray) -> bool:
    """Whether every pixel of ``rgb`` (float HxWx3) has its three channels within :data:`GREY_TOLERANCE`."""
    a = np.asarray(rgb)
    return bool(np.all(np.ptp(a, axis=2) <= GREY_TOLERANCE))


def grey(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` projected onto grey: each pixel's channel mean in all three channels (float32)."""
    m = np.asarray(rgb, np.float32).mean(axis=2, keepdims=True)
    return np.repeat(m, 3, axis=2)


def check_conditions(values: Mapping[str, float] | None) -> dict[str, float]:
    """``--condition`` values for the pipeline's experts (name -> value, names of
    :data:`gir.models.conditioning.CONDITIONS`); a noise level outside :data:`SIGMA_RANGE` is refused."""
    from gir.models.conditioning import check_names

    values = dict(values or {})
    check_names(list(values), "--condition")
    sigma = values.get("noise.sigma")
    if sigma is not None and not SIGMA_RANGE[0] <= float(sigma) <= SIGMA_RANGE[1]:
        raise GirError(f"--condition noise.sigma={sigma:g}: out of range; the denoiser knows "
                       f"{SIGMA_RANGE[0]:g}-{SIGMA_RANGE[1]:g} (0-255 scale)")
    return {k: float(v) for k, v in values.items()}


def _place(families: Sequence[str]) -> str:
    """Where a step for ``families`` runs in the restore order: at the first of them."""
    return min(families, key=ORDER.index)


def _later(families: Sequence[str]) -> tuple[str, ...]:
    """The families the plan may restore after a step for ``families``: those after its place, but its own."""
    return tuple(f for f in ORDER[ORDER.index(_place(families)) + 1:] if f not in families)


class Pipeline:
    """Analyze, plan, run the experts, verify. Reusable for many images (models load once).

    analyzer: an :class:`~gir.analysis.analyze.Analyzer` (or any callable ``(rgb, jpeg=, file=) ->
        Diagnosis``), a shipped name or a checkpoint path (None: the shipped ``gir-analyzer``).
    experts: name -> :class:`~gir.restore.experts.Expert` (None: the installed shipped experts).
    device, tile, overlap, half, ensemble: for the network experts, as for :class:`gir.restore.engine.Restorer`
        (``ensemble`` "auto" by default: small photos get up to four passes per network, 1 MP photos one).
    only / skip: family names (or ``"noise,jpeg"``) that override the plan (``--only`` / ``--skip``).
    threshold: the analyzer's detection threshold. verify: False keeps every step (for experiments only).
    conditions: values that override what the analysis measured (``{"noise.sigma": 25}``, ``--condition``).
    kernel: a blur kernel for the deblurring expert instead of its estimate (``--kernel``).
    mode: ``fidelity`` (default) or ``perceptual``: an expert with a perceptual twin (the denoiser) also runs
        the twin and keeps its detail where :func:`gir.restore.fusion.fuse` trusts it; the fused step is verified
        like any other, and where it is undone the fidelity result is verified in its place.
    scale: enlarge the restored photo by 2, 3 or 4 at the end (:mod:`gir.restore.upscale`); upscaler: the
        SR network for it (None: the shipped ``gir-upscale``; ``"bicubic"``).
    """

    def __init__(self, *, analyzer=None, experts: Mapping[str, Expert] | None = None, device="auto",
                 tile="auto", overlap: int = 32, half: bool | None = None, only=None, skip=None,
                 threshold: float = THRESHOLD, verify: bool = True, ensemble: int | str = "auto",
                 conditions: Mapping[str, float] | None = None, kernel=None, scale: int = 1, upscaler=None,
                 mode: str = "fidelity"):
        from gir.restore.loading import pick_device
        from gir.restore.upscale import Upscaler

        self.device = pick_device(device)
        self.analyzer = analyzer if callable(analyzer) else get_analyzer(analyzer, device="cpu")
        options = {"device": self.device, "tile": tile, "overlap": overlap, "half": half, "ensemble": ensemble}
        self.experts = dict(experts) if experts is not None else shipped_experts(options)
        if kernel is not None:  # non-blind deblurring: every expert that takes a kernel gets this one
            for expert in self.experts.values():
                if hasattr(expert, "kernel"):
                    expert.kernel = kernel
        self.covers = coverage(self.experts)
        self.only = parse_families(only, "--only")
        self.skip = parse_families(skip, "--skip")
        if not 0.0 < float(threshold) < 1.0:
            raise GirError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = float(threshold)
        self.verify = bool(verify)
        self.conditions = check_conditions(conditions)
        if "noise.sigma" in self.conditions:  # a level given by the user is used as it is
            for expert in self.experts.values():
                if hasattr(expert, "refit"):
                    expert.refit = False
        if mode not in MODES:
            raise GirError(f"--mode {mode}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.upscaler = Upscaler(scale, upscaler, device=self.device, tile=tile, half=half)

    @property
    def scale(self) -> int:
        return self.upscaler.scale

    def plan(self, diagnosis: Diagnosis, after: Sequence[str] = (), done: Sequence[str] = (),
             first: Sequence[str] | None = None) -> Plan:
        return make_plan(diagnosis, self.covers, only=self.only, skip=self.skip, threshold=self.threshold,
                         after=after, done=done, first=first)

    def run(self, image, *, jpeg=None, file: str | None = None, progress: bool | str = False) -> Outcome:
        """Restore one image (float32 HxWx3 in [0, 1], a :class:`gir.io.Image` or a path; a JPEG path also
        gives its quantisation tables; other inputs, the tables that the pixels' quantiser lattice shows, if any:
        :func:`diagnose`) -> :class:`Outcome`."""
        from gir.analysis.analyze import load_input

        t0 = time.perf_counter()
        rgb, file, jpeg = load_input(image, file, jpeg)
        seen, diagnosis = diagnose(self.analyzer, rgb, file=file, jpeg=jpeg)
        plan = self.plan(diagnosis)
        outcome = Outcome(rgb, diagnosis, plan)
        keep_grey = is_grey(rgb)
        outcome.image = self._steps(outcome, rgb, seen, file, progress, keep_grey) if not plan.empty else rgb
        if self.scale > 1:
            showed = tuple(f for f in diagnosis.detected(self.threshold) if f != "resize")
            outcome.image, outcome.upscale = self.upscaler(outcome.image, progress=progress, degraded=showed)
            if keep_grey:
                outcome.image = grey(outcome.image)
        outcome.seconds = time.perf_counter() - t0
        return outcome

    def _steps(self, outcome: Outcome, rgb: np.ndarray, seen: Diagnosis, file, progress,
               keep_grey: bool = False) -> np.ndarray:
        """Run, verify and re-plan the steps of ``outcome.plan`` on ``rgb`` (recording each in ``outcome``);
        ``keep_grey``: project each step's output onto grey (``rgb`` is grey). -> the image after the kept
        steps (``rgb`` itself when none was kept)."""
        diagnosis, plan = outcome.diagnosis, outcome.plan
        current = rgb
        planned_from = diagnosis  # the analysis the rest of the plan is made from
        first = diagnosis.detected(self.threshold)  # what the photo showed before any step
        places: list[str] = []
        done: list[str] = []
        ran: set[str] = set()
        steps = list(plan.steps)
        left: dict[str, float] = {}  # what kept steps left behind (the noise a denoiser leaves)
        while steps:
            step = steps[0]
            t1 = time.perf_counter()
            expert = self.experts[step.expert]
            current_before = current
            strengths = {**left, **step.strengths, **self.conditions}  # --condition overrides the analysis
            if strengths != step.strengths:
                step = replace(step, strengths=strengths)
            fidelity = expert(current, progress=progress, strengths=step.strengths)
            if keep_grey:
                fidelity = grey(fidelity)
            found = expert.measured()  # e.g. a noise level the denoiser's residual showed to be too high
            if found:
                step = replace(step, strengths={**step.strengths, **found})
            fused = self._perceptual(expert, current, fidelity, step, progress)
            if fused is not None and keep_grey:
                fused = replace(fused, image=grey(fused.image))
            note = expert.note()
            # the fused result first; where it is undone, the fidelity result is verified in its place
            for out, trust in ([(fused.image, fused.trust)] if fused is not None else []) + [(fidelity, None)]:
                after = self._reanalyze(out, file, step, seen)
                check = self._check(step, expert, seen, after, current, out)
                if check.kept or out is fidelity:
                    break
                note = "; ".join(x for x in (note, f"perceptual detail undone ({check.why}), the fidelity result "
                                                   "verified instead") if x)
            passes = self.experts[step.expert].passes(*current.shape[:2])
            outcome.records.append(StepRecord(step, check, time.perf_counter() - t1, psnr(out, current), passes,
                                              note, trust))
            if check.kept:
                current, seen, planned_from = out, after, after
                left["noise.sigma"] = round(left_behind(step, current_before, out, left.get("noise.sigma", 0.0)), 3)
            places.append(_place(step.families))
            done.extend(step.families)
            ran.add(step.expert)
            # Re-plan what comes after from the latest kept analysis (a step may reveal a later family); after
            # an undone step that is the same analysis as before, so the rest of the plan does not change. An
            # expert runs once: its other families were in its step, or it was undone for them.
            rest = self.plan(planned_from, after=places, done=done, first=first)
            steps = [s for s in rest.steps if s.expert not in ran]
            outcome.left_later.update((f, why) for f, why in rest.skipped.items() if f not in plan.skipped)
        return current

    def _check(self, step: Step, expert: Expert, seen: Diagnosis, after: Diagnosis, before: np.ndarray,
               out: np.ndarray) -> Check:
        """Verify one step's output (:func:`gir.restore.verify.verify`), unless ``verify`` is off."""
        if not self.verify:
            return Check(True, "not verified (verify=False)")
        return verify(step.families, seen, after, before, out, later=_later(step.families),
                      threshold=self.threshold, observed=expert.observe(out, step.strengths),
                      noise=expert.noise_level(step.strengths))

    def _perceptual(self, expert: Expert, before: np.ndarray, fidelity: np.ndarray, step: Step, progress):
        """--mode perceptual: the expert's twin on ``before``, fused with the fidelity result
        (:class:`gir.restore.fusion.Fusion`); None in fidelity mode or for an expert without a twin."""
        if self.mode != "perceptual":
            return None
        twin = expert.perceptual(before, progress=progress, strengths=step.strengths)
        if twin is None:
            return None
        from gir.restore.fusion import fuse

        return fuse(fidelity, twin)

    def _reanalyze(self, out: np.ndarray, file, step: Step, seen: Diagnosis) -> Diagnosis:
        """The analysis of a step's output. The scratch detector reads every pixel (about as long as a
        denoising step), so it runs again only after a step that restores ``damage``; after any other step
        the damage mask of the step's input is carried over (no other expert draws or removes scratches)."""
        if not isinstance(self.analyzer, Analyzer) or not self.analyzer.scratches or "damage" in step.families:
            return self.analyzer(out, file=file)
        after = self.analyzer(out, file=file, scratches=False)
        carry_scratches(after, seen)
        return after

    def __call__(self, image, progress: bool | str = False) -> np.ndarray:
        """Restore one image -> float32 HxWx3 in [0, 1] (the input array itself when nothing was kept)."""
        return self.run(image, progress=progress).image

