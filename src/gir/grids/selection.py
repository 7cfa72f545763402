"""Adaptive model selection (paper 002, sec. 5.2): which group's model suits an input image, and whether the
input is out of distribution.

The input's GGD comes from self-augmentation: random crops of the image through the same feature network and
layer as the op GGDs (:func:`image_ggd`). Each group's GGD is the average of its ops' GGDs
(:func:`gir.grids.ggd.mean_ggd`). The chosen group minimises KL(GGD(group) || GGD(image)) (eq. 7's direction),
in nats; that smallest divergence predicts how well the group's model will do, and a divergence above the
selector's threshold flags the input as out of distribution (OOD).

Threshold rule (:meth:`Selector.calibrate`): the ``percentile``-th percentile (default 95) of the chosen-group
divergences of held-out, in-distribution images (clean images degraded by each grouped op).

``groups.json`` (written by :func:`build_selector`, read by ``gir grids select``)::

    {"group_0": {"ops": ["blur", ...], "alpha": a, "beta": b}, ...,
     "threshold": t, "rule": "...", "model": SPEC, "layer": NAME, "crop": 128, "crops": 16, "method": "moments",
     "calibration": {...}}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gir.analysis.families import OP_FAMILY
from gir.errors import GirError
from gir.grids.ggd import GGD, fit_ggd, kl_ggd, mean_ggd
from gir.grids.similarity import (FeatureFn, crop_features, degradation_ggds, degraded_crops, load_clean_images,
                                  random_crop, resolve_layer)
from gir.io import atomic_write, read_image

GROUPS_FILE = "groups.json"
RESERVED = frozenset({"threshold", "rule", "model", "layer", "crop", "crops", "method", "calibration", "seed"})
DEFAULT_PERCENTILE = 95.0


# ------------------------------------------------------------------------------------------ image GGD
def image_crops(rgb: np.ndarray, crops: int = 16, crop: int = 128, seed: int = 0) -> list[np.ndarray]:
    """``crops`` random ``crop``-px windows of ``rgb`` (float32 HxWx3); an image smaller than ``crop`` gives
    windows of its shorter side."""
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise GirError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    if crops < 1:
        raise GirError(f"crops must be at least 1, got {crops}")
    side = min(int(crop), *rgb.shape[:2])
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(int(crops))]
    return [random_crop(rgb, side, r) for r in rngs]


def image_ggd(model: Any, rgb: np.ndarray, crops: int = 16, crop: int = 128, seed: int = 0,
              layer: str | None = None, method: str = "moments", features: FeatureFn | None = None) -> GGD:
    """The GGD of one image's DDR features, fitted over ``crops`` random crops (self-augmentation)."""
    return fit_ggd(crop_features(model, image_crops(rgb, crops, crop, seed), layer, features), method=method)


def divergences(image: GGD, groups: dict[str, GGD]) -> dict[str, float]:
    """KL(GGD(group) || GGD(image)) for each group (nats)."""
    return {name: kl_ggd(g, image) for name, g in groups.items()}


def select_group(image: GGD, groups: dict[str, GGD]) -> tuple[str, float, dict[str, float]]:
    """(name of the closest group, its divergence, every group's divergence); ties go to the first group."""
    if not groups:
        raise GirError("no groups to select from")
    div = divergences(image, groups)
    best = min(div, key=lambda k: div[k])
    return best, div[best], div


def select_by_diagnosis(findings: dict[str, float], groups: dict[str, Sequence[str]],
                        divergences: dict[str, float] | None = None) -> str:
    """The group for an image from the analyzer's family probabilities (``gir analyze``: family -> p), the
    alternative to the GGD divergence that measured better here (``benchmarks/RESULTS.md``, "GRIDS adaptive
    selection"): a group scores the highest p among its ops' families (:data:`gir.analysis.families.OP_FAMILY`);
    groups that tie (ops of one family in several groups, e.g. Gaussian and motion blur) are told apart by the
    smallest GGD divergence when ``divergences`` is given, else the first wins."""
    if not groups:
        raise GirError("no groups to select from")
    unknown = sorted({o for ops in groups.values() for o in ops if OP_FAMILY.get(o) not in findings})
    if unknown:
        raise GirError(f"no analyzer family for op(s) {', '.join(unknown)}")
    score = {name: max(findings[OP_FAMILY[o]] for o in ops) for name, ops in groups.items()}
    best = max(score.values())
    tied = [name for name in groups if score[name] >= best - 1e-9]
    if len(tied) > 1 and divergences:
        return min(tied, key=lambda name: divergences.get(name, np.inf))
    return tied[0]


# -------------------------------------------------------------------------------------------- selector
@dataclass(frozen=True)
class Selection:
    """What :meth:`Selector.select` found: the group, its divergence, all divergences, the OOD flag."""

    group: str
    ops: tuple[str, ...]
    divergence: float
    divergences: dict[str, float]
    ood: bool | None
    threshold: float | None

    def describe(self) -> str:
        flag = ("unknown (no threshold)" if self.ood is None else
                "OUT OF DISTRIBUTION" if self.ood else "in distribution")
        thr = "" if self.threshold is None else f" vs threshold {self.threshold:.4g}"
        lines = [f"group: {self.group} ({', '.join(self.ops)})",
                 f"divergence: {self.divergence:.4g} (KL(group || image), nats){thr}: {flag}",
                 "all: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(self.divergences.items(),
                                                                         key=lambda kv: kv[1]))]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"group": self.group, "ops": list(self.ops), "divergence": self.divergence,
                "divergences": dict(self.divergences), "ood": self.ood, "threshold": self.threshold}


@dataclass
class Selector:
    """Group GGDs, the OOD threshold and how the features were made (model, layer, crop, crops, method)."""

    groups: dict[str, tuple[tuple[str, ...], GGD]]
    threshold: float | None = None
    rule: str = ""
    model: str | None = None
    layer: str | None = None
    crop: int = 128
    crops: int = 16
    method: str = "moments"
    calibration: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.groups:
            raise GirError("a selector needs at least one group")
        bad = sorted(set(self.groups) & RESERVED)
        if bad:
            raise GirError(f"group name(s) {', '.join(bad)} are reserved in {GROUPS_FILE}")

    @classmethod
    def from_op_ggds(cls, groups: dict[str, Sequence[str]], op_ggds: dict[str, GGD], **kw) -> "Selector":
        """Group GGD = mean of its ops' GGDs; GirError names an op without a GGD."""
        out = {}
        for name, ops in groups.items():
            missing = [o for o in ops if o not in op_ggds]
            if missing:
                raise GirError(f"group {name}: no GGD for op(s) {', '.join(missing)}")
            out[name] = (tuple(ops), mean_ggd(op_ggds[o] for o in ops))
        return cls(out, **kw)

    def group_ggds(self) -> dict[str, GGD]:
        return {name: g for name, (_, g) in self.groups.items()}

    def flag_ood(self, divergence: float) -> bool | None:
        """True when ``divergence`` exceeds the threshold; None when the selector has no threshold."""
        if self.threshold is None:
            return None
        return bool(divergence > self.threshold)

    def select(self, image: GGD) -> Selection:
        name, div, all_div = select_group(image, self.group_ggds())
        return Selection(name, self.groups[name][0], div, all_div, self.flag_ood(div), self.threshold)

    def calibrate(self, in_distribution: Sequence[float], percentile: float = DEFAULT_PERCENTILE,
                  what: str = "held-out in-distribution images") -> float:
        """Set the threshold to the ``percentile``-th percentile of ``in_distribution`` divergences (the
        chosen-group divergences of images the groups cover); records the rule. Returns the threshold."""
        vals = np.asarray(list(in_distribution), dtype=float)
        if vals.size == 0 or not np.all(np.isfinite(vals)):
            raise GirError("calibration needs at least one finite divergence")
        if not 0 < percentile <= 100:
            raise GirError(f"percentile must be in (0, 100], got {percentile}")
        self.threshold = float(np.percentile(vals, percentile))
        self.rule = (f"OOD when KL(group || image) > {self.threshold:.6g}: the {percentile:g}th percentile of the "
                     f"chosen-group divergences of {vals.size} {what}")
        return self.threshold

    # -- file
    def to_dict(self) -> dict:
        d: dict[str, Any] = {name: {"ops": list(ops), "alpha": g.alpha, "beta": g.beta}
                             for name, (ops, g) in self.groups.items()}
        d.update(threshold=self.threshold, rule=self.rule, model=self.model, layer=self.layer, crop=self.crop,
                 crops=self.crops, method=self.method, calibration=self.calibration)
        return d

    def save(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/groups.json`` (strict JSON)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / GROUPS_FILE
        atomic_write(path, json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Selector":
        """From ``groups.json`` or the folder holding it; GirError when missing or malformed."""
        path = Path(path)
        if path.is_dir():
            path = path / GROUPS_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GirError(f"{path}: no such file (build it with gir.grids.build_selector)") from None
        except (OSError, json.JSONDecodeError) as e:
            raise GirError(f"{path}: not a JSON groups file ({e})") from None
        if not isinstance(d, dict):
            raise GirError(f"{path}: expected a mapping")
        groups = {}
        for name, v in d.items():
            if name in RESERVED:
                continue
            if not isinstance(v, dict) or "ops" not in v:
                raise GirError(f"{path}: group {name} needs 'ops', 'alpha' and 'beta'")
            groups[name] = (tuple(v["ops"]), GGD.from_dict(v))
        if not groups:
            raise GirError(f"{path}: no groups")
        thr = d.get("threshold")
        return cls(groups, threshold=None if thr is None else float(thr), rule=d.get("rule") or "",
                   model=d.get("model"), layer=d.get("layer"), crop=int(d.get("crop") or 128),
                   crops=int(d.get("crops") or 16), method=d.get("method") or "moments",
                   calibration=d.get("calibration") or {})


# ---------------------------------------------------------------------------------------------- build
def calibration_divergences(model: Any, selector: Selector, images: Sequence[np.ndarray], per_op: int = 4,
                            seed: int = 0, features: FeatureFn | None = None) -> tuple[list[float], float]:
    """(chosen-group divergences, accuracy) of ``per_op`` held-out images per grouped op: a window of 2 x crop
    of each image, degraded by the op at a random strength, then :func:`image_ggd` as at selection time.
    Accuracy: the share of those images whose chosen group holds their op."""
    divs, hits = [], 0
    for name, (ops, _) in selector.groups.items():
        for op in ops:
            side = min(2 * selector.crop, *(min(im.shape[:2]) for im in images))
            for k, degraded in enumerate(degraded_crops(images, op, per_op, side, seed + 1)):
                g = image_ggd(model, degraded, selector.crops, selector.crop, seed + k, selector.layer,
                              selector.method, features)
                sel = selector.select(g)
                divs.append(sel.divergence)
                hits += op in sel.ops
    return divs, hits / max(1, len(divs))


def build_selector(model_spec: str, images: Sequence[np.ndarray] | str | Path,
                   groups: dict[str, Sequence[str]] | Sequence[Sequence[str]], out_dir: str | Path | None = None, *,
                   op_ggds: dict[str, GGD] | None = None, calib_images: Sequence[np.ndarray] | str | Path | None = None,
                   crop: int = 128, crops: int = 16, n_per_op: int = 32, per_op: int = 4, layer: str | None = None,
                   seed: int = 0, percentile: float = DEFAULT_PERCENTILE, method: str = "moments",
                   max_images: int | None = None, device: str = "cpu", model: Any = None,
                   features: FeatureFn | None = None) -> Selector:
    """Build (and with ``out_dir``, save as ``groups.json``) a selector for ``groups``.

    model_spec: the feature network (``gir.interpret.features.load_network`` spec; or pass a loaded ``model``
    and a ``features`` function). images: clean images (arrays or a folder) for the op GGDs, unless
    ``op_ggds`` gives them (e.g. from a similarity ``matrix.json``: then use the matrix's crop, layer and
    network). groups: {name: ops} or a list of op lists (named ``group_<k>``). calib_images: held-out clean
    images for the OOD threshold (default: ``images``); ``per_op`` degraded images per grouped op.
    """
    if model is None:
        try:
            from gir.interpret.features import load_network
        except ImportError as e:
            raise GirError(f"building a selector needs gir.interpret.features ({e})") from None
        model, _ = load_network(model_spec, device=device)
    layer = resolve_layer(model, layer)
    if not isinstance(groups, dict):
        groups = {f"group_{k}": list(g) for k, g in enumerate(groups)}
    if isinstance(images, (str, Path)):
        images = load_clean_images(images, max_images, min_side=crop)
    if isinstance(calib_images, (str, Path)):
        calib_images = load_clean_images(calib_images, max_images, min_side=crop)
    all_ops = [o for ops in groups.values() for o in ops]
    if op_ggds is None:
        op_ggds = degradation_ggds(model, images, all_ops, crop=crop, n_per_op=n_per_op, layer=layer, seed=seed,
                                   method=method, features=features)
    selector = Selector.from_op_ggds(groups, op_ggds, model=model_spec, layer=layer, crop=crop, crops=crops,
                                     method=method)
    divs, acc = calibration_divergences(model, selector, list(calib_images or images), per_op, seed, features)
    selector.calibrate(divs, percentile, what=f"held-out images ({per_op} per grouped op, random strengths)")
    selector.calibration = {"n": len(divs), "percentile": percentile, "accuracy": acc,
                            "median": float(np.median(divs)), "max": float(np.max(divs))}
    if out_dir is not None:
        selector.save(out_dir)
    return selector


def select_image(path: str | Path, experts: str | Path, crops: int | None = None, seed: int = 0,
                 device: str = "cpu") -> Selection:
    """The ``gir grids select`` job: read the image, fit its GGD with the selector's network, select."""
    selector = Selector.load(experts)
    if not selector.model:
        raise GirError(f"{experts}: groups.json names no feature network ('model')")
    try:
        from gir.interpret.features import load_network
    except ImportError as e:
        raise GirError(f"selection needs gir.interpret.features ({e})") from None
    model, _ = load_network(selector.model, device=device)
    rgb = read_image(path).rgb
    g = image_ggd(model, rgb, crops or selector.crops, selector.crop, seed, selector.layer, selector.method)
    return selector.select(g)
