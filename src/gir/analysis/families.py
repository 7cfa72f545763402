"""Degradation families and the analyzer's training targets, read from each sample's recipe.

A *family* is what a user (and the restore planner) asks about a photo: is there noise, blur, JPEG, ...?
Every op of the library belongs to one family (:data:`OP_FAMILY`), so any recipe, whether a random GIR
chain, a DCPT 5D task or a GRIDS op, gives multi-label targets without labelling. ``clean`` is its own
output: true exactly when the recipe has no step.

Strengths are physical quantities a planner can use, each regressed only on samples where its family is
present and the recipe says the value (:data:`STRENGTHS`):

=============  ============================================  ===============================================
strength       meaning                                       from the recipe
=============  ============================================  ===============================================
noise sigma    std of the added noise, 0-255 scale           ``noise.sigma``; Poisson: the std at mid grey,
                                                             255 * sqrt(0.5 / peak); both: root sum square
jpeg quality   IJG quality factor 1-100                      ``jpeg.quality`` (the lowest if ever two)
blur width     std (px) of the blur kernel along its widest   Gaussian: max(sigma, sigma2); motion: length /
               axis                                          sqrt(12) (a line); defocus: radius / 2 (a disk)
resize factor  down-scaling factor                           ``resize.scale``, ``sr.scale``
haze density   scattering coefficient beta                   ``haze.beta``
light level    fraction of the light that reached the sensor ``low_light.exposure``
=============  ============================================  ===============================================

The network regresses each strength in a normalised unit (:func:`encode_strength`) in which equal steps are
equally hard to tell apart (logs for scale-like values).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

FAMILIES: tuple[str, ...] = ("noise", "blur", "jpeg", "resize", "ringing", "haze", "rain", "snow", "low_light",
                             "damage", "impulse", "raindrop", "demosaic")
"""Families the analyzer reports, in output order; the first eleven are the ones every caller can rely on."""

OP_FAMILY: dict[str, str | None] = {
    "noise": "noise", "poisson_noise": "noise",
    "blur": "blur", "motion_blur": "blur", "defocus_blur": "blur",
    "jpeg": "jpeg",
    "resize": "resize", "sr": "resize",
    "ringing": "ringing", "rl_artifact": "ringing",
    "haze": "haze", "rain": "rain", "snow": "snow", "low_light": "low_light",
    "damage": "damage", "inpainting": "damage",
    "salt_pepper": "impulse",
    "raindrop": "raindrop", "demosaic": "demosaic",
    "realesrgan": None,  # a composite of several families: not an analyzer training op
    "camera_noise": "noise", "underexposure": "low_light", "scratches": "damage",
    "monochrome": "",  # a grey or sepia print: no family, the photo stays clean
}
"""Op name -> family. None: the op has no single family and analyzer training leaves it out. "": the op is
no degradation (the sample stays clean) and random chains leave it out."""


@dataclass(frozen=True)
class Strength:
    """One regressed strength: its name in reports, the family it belongs to, the unit the network regresses
    (``encode`` / ``decode``) and the valid range of the decoded value."""

    name: str
    family: str
    encode: Callable[[float], float]
    decode: Callable[[float], float]
    lo: float
    hi: float


STRENGTHS: tuple[Strength, ...] = (
    Strength("sigma", "noise", lambda v: math.log(max(v, 0.5)), math.exp, 0.5, 255.0),
    Strength("quality", "jpeg", lambda v: v / 100.0, lambda u: u * 100.0, 1.0, 100.0),
    Strength("width", "blur", lambda v: math.log(max(v, 0.1)), math.exp, 0.1, 30.0),
    Strength("factor", "resize", lambda v: math.log2(max(v, 1.0)), lambda u: 2.0 ** u, 1.0, 16.0),
    Strength("density", "haze", lambda v: v, lambda u: u, 0.0, 10.0),
    Strength("level", "low_light", lambda v: math.log(max(v, 1e-3)), math.exp, 1e-3, 1.0),
)
STRENGTH_OF: dict[str, Strength] = {s.family: s for s in STRENGTHS}

NUM_OUTPUTS = len(FAMILIES) + 1 + len(STRENGTHS)
"""Analyzer outputs: one logit per family, one for ``clean``, one normalised value per strength."""


def _blur_width(op: str, p: dict[str, Any]) -> float:
    if op == "blur":
        return max(p["sigma"], p["sigma2"]) if p.get("shape") == "anisotropic" else p["sigma"]
    if op == "motion_blur":
        return p["length"] / math.sqrt(12.0)
    return p["radius"] / 2.0  # defocus_blur


def _noise_sigma(op: str, p: dict[str, Any]) -> float:
    if op in ("noise", "camera_noise"):
        return float(p["sigma"])
    return 255.0 * math.sqrt(0.5 / p["peak"])  # poisson_noise at mid grey


_VALUE: dict[str, Callable[[str, dict[str, Any]], float]] = {
    "noise": _noise_sigma,
    "jpeg": lambda op, p: float(p["quality"]),
    "blur": _blur_width,
    "resize": lambda op, p: float(p["scale"]),
    "haze": lambda op, p: float(p["beta"]),
    "low_light": lambda op, p: float(p["exposure"]),
}
_COMBINE: dict[str, Callable[[Sequence[float]], float]] = {
    "noise": lambda v: math.sqrt(sum(x * x for x in v)),
    "jpeg": min,
    "blur": lambda v: math.sqrt(sum(x * x for x in v)),  # widths of chained kernels add in quadrature
    "resize": max,
    "haze": max,
    "low_light": min,
}


@dataclass(frozen=True)
class Targets:
    """What one recipe says: ``families`` (F,) 0/1, ``clean`` 0/1, ``strengths`` (S,) decoded values (NaN
    where the family is absent) and ``ops`` (the ops seen)."""

    families: np.ndarray
    clean: float
    strengths: np.ndarray
    ops: tuple[str, ...]

    def present(self) -> list[str]:
        return [f for f, v in zip(FAMILIES, self.families) if v]


def recipe_targets(recipe) -> Targets:
    """Targets of a :class:`gir.degradations.Recipe` (or its text). Raises ValueError for an op outside
    :data:`OP_FAMILY` or one mapped to None (composites)."""
    from gir.degradations import Recipe

    if isinstance(recipe, str):
        recipe = Recipe.parse(recipe) if recipe.strip() else Recipe(())
    fam = np.zeros(len(FAMILIES), np.float32)
    values: dict[str, list[float]] = {}
    ops = []
    for step in recipe.steps:
        family = OP_FAMILY.get(step.op, "?")
        if family == "":
            ops.append(step.op)
            continue
        if family is None or family == "?":
            raise ValueError(f"op {step.op!r} has no analyzer family" + (" (a composite)" if family is None else ""))
        fam[FAMILIES.index(family)] = 1.0
        ops.append(step.op)
        if family in _VALUE:
            values.setdefault(family, []).append(_VALUE[family](step.op, step.params))
    strengths = np.full(len(STRENGTHS), np.nan, np.float32)
    for i, s in enumerate(STRENGTHS):
        if s.family in values:
            strengths[i] = _COMBINE[s.family](values[s.family])
    return Targets(fam, float(not fam.any()), strengths, tuple(ops))


def encode_strengths(values: np.ndarray) -> np.ndarray:
    """(..., S) decoded strengths -> the network's units (NaN stays NaN)."""
    out = np.full(values.shape, np.nan, np.float32)
    for i, s in enumerate(STRENGTHS):
        v = values[..., i]
        ok = np.isfinite(v)
        out[..., i][ok] = [s.encode(float(x)) for x in v[ok]]
    return out


def decode_strength(i: int, u: float) -> float:
    """Network unit -> the strength's own unit, clipped to its valid range."""
    s = STRENGTHS[i]
    return float(min(max(s.decode(float(u)), s.lo), s.hi))


def analyzer_pool() -> list[str]:
    """Every registered op that has a family (what the analyzer is trained on)."""
    from gir.degradations import OPS

    return [n for n in OPS.names() if OP_FAMILY.get(n)]
