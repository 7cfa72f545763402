"""DCPT's training objectives (paper 004), registered in :data:`gir.training.objectives.OBJECTIVES`.

``dcpt`` -- degradation classification pre-training (sec. 3.2)::

    objective: {type: dcpt, classes: [haze, rain, noise, motion_blur, low_light], gamma: 2.0,
                generation_weight: 1.0, stages: alternate, width: 64, levels: null}

The ``model`` section builds the restoration network (the paper's "encoder"); the objective adds a
:class:`~gir.models.classifier.DegradationClassifier` (the "decoder") on the network's multi-level encoder features
(:mod:`gir.models.features`), trained beside it and saved as ``models/classifier_<iter>.safetensors``. A sample's
class is read from its recipe: the index in ``classes`` of its single op, or of ``clean`` for an empty
recipe (:func:`recipe_class`). Two stages:

* degradation classification: softmax focal loss (:func:`gir.dcpt.losses.focal_loss`, ``gamma``) of the
  classifier's logits on the features of the degraded input. The encoder-only pass stops after the deepest
  level, so the network's decoder / head gets no gradient in this stage;
* generation: L1 between the network's output for the degraded input and the clean target, times
  ``generation_weight``. Paper 004 adds one convolution after its encoder (the restoration model without its
  restoration module) and reconstructs from the encoder's features. Our registered networks end in a
  restoration head already (and a U-Net's encoder features alone are not an image), so here the generation
  stage is the whole network restoring the image: the encoder is kept able to generate through the network's
  own decoder and head, which the fine-tuning run then inherits, instead of through a throw-away
  convolution. The paper's "preserve generation ability" term is thus a plain restoration loss.

``stages: alternate`` (the paper's description, default): two phases per iteration, each with its own
backward pass and optimiser step (:attr:`Objective.phases`; the engine's ``Trainer._optimise``): phase 0 is
the classification loss alone, phase 1 the generation loss alone. ``stages: joint`` (as public DCPT code
does): one phase, loss = classification + generation_weight x generation, both from one forward pass.

Validation: the classifier's accuracy per validation task (each task's recipe mapped to its class as in
training) and PSNR / SSIM of the network's output through :func:`gir.training.validate.validate_network`; the
score is the mean accuracy. With ``train.ema`` set, the engine validates the EMA network, read here by
the live (non-averaged) classifier; the 5D pre-training config turns EMA off.

``dc_guided`` -- DC-guided training (sec. 3.3)::

    objective: {type: dc_guided, classifier: runs/<dcpt run>/models/classifier_latest.safetensors, weight: 0.1}

Restoration with the config's ``loss`` terms (:class:`~gir.training.objectives.Restore`) plus ``weight`` x
the cross entropy (not focal: sec. 3.3) of a FROZEN classifier written by a ``dcpt`` run, applied to the
restoring network's encoder features of the degraded input (captured from the same forward pass). The
classifier's classes and feature levels come from its stored config. It is never trained: it is not an
extra module of the run, its weights do not require gradients, and the optimiser never sees them.

Multi-process (torchrun) training: ``dcpt`` refuses it (the classifier beside the DDP-wrapped network is not
all-reduced, and the encoder-only pass leaves most parameters unused, which DDP without
``find_unused_parameters`` rejects); ``dc_guided`` works (one full forward pass through the wrapper).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gir.data.datasets import parse_val_tasks
from gir.data.errors import ConfigError
from gir.dcpt.losses import focal_loss
from gir.degradations import OPS, Recipe
from gir.errors import GirError
from gir.models.checkpoint import CheckpointError, load_state
from gir.models.classifier import DegradationClassifier
from gir.models.features import FeatureHooks, encoder_levels, feature_channels
from gir.training.objectives import OBJECTIVES, Objective, Restore, StepResult, _lq_context
from gir.training.validate import validate_network

CLEAN = "clean"
DEFAULT_CLASSES = ("haze", "rain", "noise", "motion_blur", "low_light")  # DCPT's 5D all-in-one tasks
STAGES = ("alternate", "joint")
CLASSIFIER = "classifier"  # the extra module's name: models/classifier_<iter>.safetensors


# ------------------------------------------------------------------------------------------- classes
def check_classes(classes: Any, key: str = "objective.classes") -> list[str]:
    """``classes`` as a list of distinct op names (or ``clean``), at least two; else ConfigError."""
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)) or len(classes) < 2:
        raise ConfigError(f"config: {key} must be a list of at least two op names (or 'clean'), or 'auto'; "
                          f"got {classes!r}")
    names = [str(c) for c in classes]
    unknown = [c for c in names if c != CLEAN and c not in OPS]
    if unknown:
        raise ConfigError(f"config: {key}: unknown op {unknown[0]!r}; a class is an op name or 'clean'")
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise ConfigError(f"config: {key}: repeated class {dup[0]!r}")
    return names


def recipe_class(recipe: Any, classes: Sequence[str]) -> int:
    """The class index of a recipe (a :class:`~gir.degradations.Recipe` or its text) in ``classes``.

    An empty recipe (a clean sample) is class ``clean``; a recipe of exactly one step is the class of its op.
    Anything else (a chain, an op or ``clean`` missing from ``classes``) raises a one-line ConfigError that
    names the recipe and the classes."""
    text = recipe if isinstance(recipe, str) else recipe.to_text()
    if isinstance(recipe, str):
        recipe = Recipe.from_text(text) if text.strip() else Recipe(())
    steps = recipe.steps
    name = CLEAN if not steps else steps[0].op if len(steps) == 1 else None
    if name is None or name not in classes:
        what = "is a chain of ops" if name is None else f"({name}) is not one of the classes"
        raise ConfigError(f"dcpt: recipe {text or '(empty: clean)'!r} {what}; a sample's recipe must be one op "
                          f"of the classes {', '.join(classes)} (or empty, for class clean)")
    return list(classes).index(name)


def batch_labels(recipes: Sequence[str], classes: Sequence[str], device: torch.device) -> torch.Tensor:
    """B int64 class indices of a batch's recipe texts (``batch["recipe"]``)."""
    return torch.tensor([recipe_class(r, classes) for r in recipes], dtype=torch.int64, device=device)


def _sampler_classes(mode: str, section: dict) -> list[str] | None:
    """The classes one sampler section can draw (in config order), or None when not known beforehand."""
    if mode == "clean":
        return [CLEAN]
    if mode == "single":
        return [str(section.get("op", "noise"))]
    if mode == "mix":
        texts = [item.get("recipe") if isinstance(item, dict) else item for item in section.get("tasks") or []]
        steps = [Recipe.from_text(str(text)).steps for text in texts]  # the sampler has checked them
        return [" > ".join(s.op for s in st) for st in steps]
    if mode == "compose":
        parts = [_sampler_classes(p.get("mode"), p) if isinstance(p, dict) else None
                 for p in section.get("parts") or []]
        return None if any(p is None for p in parts) else [c for p in parts for c in p]
    return None  # gir chains: any order; paired: handled by the caller


def train_classes(train_cfg: dict) -> list[str] | None:
    """The distinct classes (op names, ``clean``; a chain as 'a > b') the training data draws, in config
    order; None when the mode cannot say beforehand (``gir`` chains). ``paired`` data carries no recipe:
    ConfigError."""
    mode = train_cfg.get("mode")
    if mode == "paired":
        raise ConfigError("config: dcpt objectives need samples whose recipe names their degradation; "
                          "data.train.mode 'paired' has none (use mix, single, clean or compose)")
    found = _sampler_classes(mode, train_cfg.get(mode) or {})
    return None if found is None else list(dict.fromkeys(found))


def _check_train_data(train_cfg: dict, classes: Sequence[str], what: str) -> None:
    """ConfigError before training when the data draws a sample that no class describes."""
    found = train_classes(train_cfg)
    bad = [c for c in found or () if c not in classes]
    if bad:
        raise ConfigError(f"config: data.train draws {bad[0]!r}, which is not one of the {what} classes "
                          f"{', '.join(classes)}; each sample must be one op of the classes, or clean")


def _check_val_tasks(val_cfg: dict, classes: Sequence[str]) -> None:
    """ConfigError before training when a validation task's recipe has no class."""
    for name, recipe, _ in parse_val_tasks(val_cfg.get("tasks") or []):
        try:
            recipe_class(recipe, classes)
        except ConfigError as e:
            raise ConfigError(f"config: data.val.tasks ({name}): {e}") from None


def _refuse_distributed(kind: str) -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized() \
            and torch.distributed.get_world_size() > 1:
        raise GirError(f"objective {kind}: multi-process training is not supported (the classifier is not "
                       f"all-reduced and the encoder-only pass leaves parameters unused); run one process")


# ------------------------------------------------------------------------------------------ features
def _features_only(model: nn.Module, lq: torch.Tensor, levels: Sequence[str],
                   context: torch.Tensor | None) -> list[torch.Tensor]:
    """Encoder features of ``lq``, the pass stopped after the deepest level (the head gets no gradient)."""
    hooks = FeatureHooks(model, levels, stop_after_last=True)
    return hooks.forward(lq) if context is None else hooks.forward(lq, context)


def _features_and_output(model: nn.Module, net: nn.Module, lq: torch.Tensor, levels: Sequence[str],
                         context: torch.Tensor | None) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Encoder features and the restored output of one full pass of ``net`` (``model`` or its DDP wrapper);
    the hooks sit on the underlying ``model``."""
    with FeatureHooks(model, levels) as hooks:
        out = net(lq) if context is None else net(lq, context)
    return hooks.features, out


def _to_image_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device)


@torch.no_grad()
def classification_accuracy(model: nn.Module, classifier: nn.Module, val_set, classes: Sequence[str],
                            levels: Sequence[str], device: torch.device) -> dict[str, dict[str, float]]:
    """Per validation task: the classifier's accuracy on the network's features of each degraded item
    (``{"accuracy", "n"}``); tasks without a recipe (pre-made pairs) are left out. Modes are restored."""
    recipes = {name: recipe for name, recipe, _ in val_set.tasks}
    hits: dict[str, list[float]] = {}
    modes = model.training, classifier.training
    model.eval(), classifier.eval()
    try:
        for item in val_set:
            if item.task not in recipes:
                continue
            label = recipe_class(recipes[item.task], classes)
            feats = _features_only(model, _to_image_tensor(item.lq, device), levels, None)
            pred = int(classifier([f.float() for f in feats]).argmax(1)[0])
            hits.setdefault(item.task, []).append(float(pred == label))
    finally:
        model.train(modes[0]), classifier.train(modes[1])
    return {t: {"accuracy": float(np.mean(v)), "n": len(v)} for t, v in hits.items()}


# ------------------------------------------------------------------------------------------------ dcpt
@OBJECTIVES.register("dcpt")
class DCPT(Objective):
    """Degradation classification pre-training (paper 004, sec. 3.2); see the module docstring.

    ``classes``: op names (and ``clean``), or ``auto``: the single ops (and clean) that ``data.train`` draws,
    in config order (mix, single, clean and compose modes). ``gamma``: focal loss exponent. ``width``:
    the classifier's channels. ``levels``: module names of the features (null: the network's declared
    encoder levels). The config's ``loss`` section is not used: the generation stage is L1."""

    def __init__(self, classes: Any = DEFAULT_CLASSES, gamma: float = 2.0, generation_weight: float = 1.0,
                 stages: str = "alternate", width: int = 64, levels: Sequence[str] | None = None):
        self.classes = None if classes == "auto" else check_classes(classes)
        self.gamma, self.generation_weight = float(gamma), float(generation_weight)
        if self.gamma < 0 or self.generation_weight < 0:
            raise ConfigError(f"config: objective (dcpt): gamma and generation_weight must be >= 0, "
                              f"got {gamma!r}, {generation_weight!r}")
        if stages not in STAGES:
            raise ConfigError(f"config: objective.stages must be one of {', '.join(STAGES)}, got {stages!r}")
        self.stages = stages
        self.phases = 2 if stages == "alternate" else 1
        self.width = int(width)
        if isinstance(levels, str) or (levels is not None and not isinstance(levels, (list, tuple))):
            raise ConfigError(f"config: objective.levels must be a list of module names or null, got {levels!r}")
        self.requested_levels = None if levels is None else [str(v) for v in levels]

    def bind(self, model, loss, device, cfg):
        """Resolves the classes (``auto``) and levels, checks the training and validation recipes against
        the classes, and builds the classifier on ``device``."""
        super().bind(model, loss, device, cfg)
        _refuse_distributed("dcpt")
        if self.classes is None:
            found = train_classes(cfg["data"]["train"])
            if found is None:
                raise ConfigError("config: objective.classes: auto needs data.train mode mix, single, clean or "
                                  "compose; give the list of classes")
            self.classes = check_classes(found, "objective.classes (auto, from data.train)")
        _check_train_data(cfg["data"]["train"], self.classes, "objective")
        _check_val_tasks(cfg["data"]["val"], self.classes)
        self.levels = tuple(self.requested_levels or encoder_levels(model))
        self.channels = feature_channels(model, self.levels)
        self.model_cfg = dict(cfg["model"])
        try:
            self.classifier = DegradationClassifier(self.channels, len(self.classes), self.width).to(device)
        except GirError as e:
            raise ConfigError(f"config: objective (dcpt): {e}") from None

    def extra_modules(self):
        return {CLASSIFIER: self.classifier}

    def extra_config(self, name):
        """What rebuilds the classifier, and what DC-guided training needs to apply it."""
        return {"type": "dcpt_classifier", "channels": list(self.channels), "classes": list(self.classes),
                "width": self.width, "blocks_per_level": 1, "levels": list(self.levels),
                "backbone": self.model_cfg, "gamma": self.gamma, "stages": self.stages}

    def _classify(self, feats: Sequence[torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample focal losses and hits."""
        logits = self.classifier([f.float() for f in feats])
        per = focal_loss(logits, labels, self.gamma, reduction="none")
        return per, (logits.detach().argmax(1) == labels).float()

    def _generate(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """Per-sample L1 x generation_weight."""
        return self.generation_weight * (pred.float() - gt).abs().flatten(1).mean(1)

    def step(self, net, batch, lq, gt, t, phase=0):
        labels = batch_labels(list(batch["recipe"]), self.classes, self.device)
        context = _lq_context(self.model, batch, self.device, self.context_margin)
        if self.stages == "joint":
            feats, pred = _features_and_output(self.model, net, lq, self.levels, context)
            cls, hits = self._classify(feats, labels)
            gen = self._generate(pred, gt)
            terms = {"classify": cls.mean().detach(), "generate": gen.mean().detach(), "accuracy": hits.mean()}
            return StepResult(cls.mean() + gen.mean(), terms, (cls + gen).detach(), pred)
        if phase == 0:
            cls, hits = self._classify(_features_only(self.model, lq, self.levels, context), labels)
            return StepResult(cls.mean(), {"classify": cls.mean().detach(), "accuracy": hits.mean()},
                              cls.detach(), None)
        pred = net(lq) if context is None else net(lq, context)
        gen = self._generate(pred, gt)
        return StepResult(gen.mean(), {"generate": gen.mean().detach()}, gen.detach(), pred)

    def validate(self, model, val_set, device, vcfg):
        """Per task: classification ``accuracy`` (NaN for tasks without a recipe) and the network's PSNR /
        SSIM; ``score`` = mean accuracy over the tasks with a recipe."""
        acc = classification_accuracy(model, self.classifier, val_set, self.classes, self.levels, device)
        res = validate_network(model, val_set, device, vcfg["crop_border"], vcfg["y_channel"])
        tasks = {t: {"accuracy": acc.get(t, {}).get("accuracy", float("nan")), **r}
                 for t, r in res["tasks"].items()}
        score = float(np.mean([v["accuracy"] for v in acc.values()])) if acc else float("nan")
        return {"score": score, "score_name": "accuracy", "stages": self.stages, "classes": list(self.classes),
                "psnr": res["psnr"], "ssim": res["ssim"], "tasks": tasks}

    def describe_score(self, res):
        return f"val accuracy {res['score']:.3f}, PSNR {res['psnr']:.2f} dB (stages: {res['stages']})"


# ------------------------------------------------------------------------------------------ dc_guided
def load_classifier(path: str | Path) -> tuple[DegradationClassifier, dict]:
    """A classifier written by a ``dcpt`` run (``models/classifier_<iter>.safetensors``) and its stored
    config; ConfigError naming the file when it is missing or not such a classifier."""
    try:
        state, info = load_state(path, key="params")
    except CheckpointError as e:
        raise ConfigError(f"config: objective.classifier: {e}") from None
    cfg = info.get("model_cfg") or {}
    if cfg.get("type") != "dcpt_classifier" or not {"channels", "classes", "width", "levels"} <= set(cfg):
        raise ConfigError(f"config: objective.classifier: {path} is not a classifier written by a dcpt run "
                          f"(models/classifier_<iter>.safetensors)")
    clf = DegradationClassifier(cfg["channels"], len(cfg["classes"]), cfg["width"], cfg.get("blocks_per_level", 1))
    try:
        clf.load_state_dict(state)
    except RuntimeError as e:
        raise ConfigError(f"config: objective.classifier: {path}: weights do not fit their config: "
                          f"{' '.join(str(e).split())[:200]}") from None
    return clf, cfg


@OBJECTIVES.register("dc_guided")
class DCGuided(Restore):
    """DC-guided training (paper 004, sec. 3.3): :class:`Restore` + ``weight`` x cross entropy of a frozen
    DCPT classifier on the network's encoder features of the degraded input (see the module docstring).
    The term is logged as ``dc_guided``. A sample's class is its recipe's in the classifier's classes."""

    def __init__(self, classifier: str | None = None, weight: float = 0.1):
        if not isinstance(classifier, (str, Path)) or not str(classifier):
            raise ConfigError("config: objective.classifier: give the classifier_<iter>.safetensors of a dcpt run")
        self.path = str(Path(classifier).expanduser().absolute())
        self.weight = float(weight)
        if self.weight < 0:
            raise ConfigError(f"config: objective.weight must be >= 0, got {weight!r}")
        self.classifier, stored = load_classifier(self.path)
        self.classes, self.levels = list(stored["classes"]), tuple(stored["levels"])
        self.classifier.requires_grad_(False).eval()

    def bind(self, model, loss, device, cfg):
        """Checks the network's features against the classifier's and the data against its classes, moves
        it to ``device``. Writes the classifier's absolute path into ``cfg`` (the run's config.yaml), so a
        resumed run finds it from any folder."""
        super().bind(model, loss, device, cfg)
        cfg["objective"]["classifier"] = self.path
        try:
            channels = feature_channels(model, self.levels)
        except GirError as e:
            raise ConfigError(f"config: objective.classifier: its levels do not fit the model: {e}") from None
        if channels != list(self.classifier.channels):
            raise ConfigError(f"config: objective.classifier: its features have channels "
                              f"{list(self.classifier.channels)} at {', '.join(self.levels)}, the model's "
                              f"{channels}; use the classifier of a dcpt run of this architecture")
        _check_train_data(cfg["data"]["train"], self.classes, "classifier's")
        self.classifier.to(device)

    def step(self, net, batch, lq, gt, t, phase=0):
        labels = batch_labels(list(batch["recipe"]), self.classes, self.device)
        context = _lq_context(self.model, batch, self.device, self.context_margin)
        feats, pred = _features_and_output(self.model, net, lq, self.levels, context)
        total, terms = self.loss(pred, gt)
        ce = F.cross_entropy(self.classifier([f.float() for f in feats]), labels)
        with torch.no_grad():
            per_sample = (pred.detach().float() - gt).abs().flatten(1).mean(1)
        return StepResult(total + self.weight * ce, {**terms, "dc_guided": ce.detach()}, per_sample, pred)
