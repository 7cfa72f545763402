"""What a training step optimises, chosen by the config's ``objective: {type: ...}`` section.

The engine owns the loop (data, optimiser, schedule, EMA, checkpoints, resumption); an objective owns what
differs between kinds of training:

* which network the ``model`` section builds (:meth:`Objective.build_model`);
* the modules trained alongside it (:meth:`Objective.extra_modules`, e.g. DCPT's classifier decoder), which
  the optimiser updates and the run's state saves;
* how one batch becomes a loss (:meth:`Objective.step`);
* how validation scores the model (:meth:`Objective.validate`).

Registered objectives: ``restore`` (the default: LQ -> GT with the ``loss`` terms), ``analyze`` (the
degradation analyzer, :mod:`gir.analysis`: multi-label family classification, ``clean`` and strength
regression, labels read from each sample's recipe). DCPT's pre-training and DC-guided training register
theirs in :mod:`gir.dcpt`.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gir.analysis.families import FAMILIES, encode_strengths, recipe_targets
from gir.analysis.network import build_analyzer, split_outputs
from gir.data.errors import ConfigError
from gir.dcpt.losses import binary_focal_loss
from gir.models.descriptor import describe_model
from gir.models.diffusion_unet import DiffusionUNet
from gir.registry import Registry
from gir.training.network import batch_conditions, build_network, run_net
from gir.training.validate import validate_network

OBJECTIVES: Registry = Registry("objective")


class StepResult(NamedTuple):
    total: torch.Tensor  # the scalar to back-propagate
    terms: dict[str, torch.Tensor]  # detached named parts, for the log
    per_sample: torch.Tensor  # B: a per-sample loss, for per-task statistics
    pred: torch.Tensor | None  # the restored batch where there is one (a GAN term trains on it)


class Objective:
    """Base class; see the module docstring. ``loss`` is the config's ``loss`` list built as a
    :class:`gir.training.losses.LossSet` (objectives that do not compare images ignore it)."""

    def build_model(self, model_cfg: dict) -> nn.Module:
        return build_network(model_cfg)

    def bind(self, model: nn.Module, loss: nn.Module, device: torch.device, cfg: dict) -> None:
        """Called once the model and losses exist (and are on ``device``); ``cfg`` is the whole run config."""
        self.model, self.loss, self.device = model, loss, device
        self.context_margin = int(cfg["data"]["train"].get("context_margin", 0))

    def extra_modules(self) -> dict[str, nn.Module]:
        """Modules trained beside the model, by name (saved as ``models/<name>_<iter>.safetensors``)."""
        return {}

    def extra_config(self, name: str) -> dict:
        """What rebuilds extra module ``name`` (stored in its weights file)."""
        return {}

    phases: int = 1
    """Optimiser steps per iteration: :meth:`step` is called with ``phase`` 0 .. phases - 1, each result
    back-propagated and stepped on its own (DCPT's alternating stages are two phases)."""

    def step(self, net: nn.Module, batch: dict, lq: torch.Tensor, gt: torch.Tensor, t: int,
             phase: int = 0) -> StepResult:
        raise NotImplementedError  # pragma: no cover - abstract

    def validate(self, model: nn.Module, val_set, device: torch.device, vcfg: dict) -> dict[str, Any]:
        """A record with ``score`` (higher is better), ``score_name`` and per-task details."""
        raise NotImplementedError  # pragma: no cover - abstract

    def describe_score(self, res: dict[str, Any]) -> str:
        return f"val {res['score_name']} {res['score']:.4g}"


def val_ground_truths(val_set) -> list[tuple[str, np.ndarray]]:
    """Each validation image once, by name (sorted), as its ground truth: for the objectives that degrade the
    clean image themselves (the config's validation tasks then only choose the images)."""
    seen: dict[str, np.ndarray] = {}
    for item in val_set:
        seen.setdefault(item.name, item.gt)
    return sorted(seen.items())


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block, back in its previous mode after it (also on errors)."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def build_objective(cfg: dict) -> Objective:
    """The objective of a config's ``objective`` section (errors as :class:`ConfigError`)."""
    register_all()
    kind = cfg.get("type")
    if kind not in OBJECTIVES:
        raise ConfigError(f"config: objective.type: unknown objective {kind!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES.build(cfg, where="config: objective")


def register_all() -> None:
    """Import the modules that register objectives outside this one (DCPT, diffusion, denoising)."""
    for mod in ("gir.training.denoise", "gir.training.superres", "gir.training.scratches", "gir.training.inpaint", "gir.training.kernels", "gir.dcpt.objectives", "gir.diffusion.objective", "gir.diffusion.specialists"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # the module itself is optional; its own imports must work
            if e.name != mod:
                raise


def _lq_context(model: nn.Module, batch: dict, device: torch.device, margin: int) -> torch.Tensor | None:
    region = batch.get("lq_context")
    if region is None:
        return None
    return model.patch_context(region.to(device, non_blocking=True), margin)


@OBJECTIVES.register("restore")
class Restore(Objective):
    """LQ -> GT with the config's ``loss`` terms; validation is PSNR / SSIM per task (the one scoring path,
    :func:`gir.training.validate.validate_network`)."""

    def bind(self, model, loss, device, cfg):
        if isinstance(model, DiffusionUNet) and type(self) is Restore:
            raise ConfigError("config: model diffusion_unet trains with objective: {type: residual_diffusion} "
                              "(its forward pass samples without gradients)")
        super().bind(model, loss, device, cfg)
        self.conditioned = bool(describe_model(model).conditioning)  # read once, not per step

    def step(self, net, batch, lq, gt, t, phase=0):
        context = _lq_context(self.model, batch, self.device, self.context_margin)
        cond = batch_conditions(self.model, batch["recipe"], self.device) if self.conditioned else None
        pred = run_net(net, lq, context, cond)
        total, terms = self.loss(pred, gt)
        with torch.no_grad():
            per_sample = (pred.detach().float() - gt).abs().flatten(1).mean(1)
        return StepResult(total, terms, per_sample, pred)

    def validate(self, model, val_set, device, vcfg):
        res = validate_network(model, val_set, device, vcfg["crop_border"], vcfg["y_channel"])
        return {"score": res["psnr"], "score_name": "psnr", **res}

    def describe_score(self, res):
        return f"val PSNR {res['psnr']:.2f} dB, SSIM {res['ssim']:.4f}"


def batch_targets(recipes: list[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Families (B x F), clean (B) and encoded strengths (B x S, NaN where unknown) of a batch's recipes."""
    targets = [recipe_targets(r) for r in recipes]
    fam = torch.from_numpy(np.stack([t.families for t in targets]))
    clean = torch.tensor([t.clean for t in targets], dtype=torch.float32)
    strengths = torch.from_numpy(encode_strengths(np.stack([t.strengths for t in targets])))
    return fam.to(device), clean.to(device), strengths.to(device)


@OBJECTIVES.register("analyze")
class Analyze(Objective):
    """The degradation analyzer (:mod:`gir.analysis`): the ``model`` section builds an analyzer network
    (:func:`gir.analysis.network.build_analyzer`); each sample's recipe gives its targets
    (:func:`gir.analysis.families.recipe_targets`).

    Loss = focal BCE over the family logits and the ``clean`` logit (``gamma`` 0: plain BCE)
    + ``strength_weight`` x smooth-L1 of each strength present in the recipe, in the regressed units."""

    def __init__(self, gamma: float = 0.0, strength_weight: float = 0.5, clean_weight: float = 1.0):
        self.gamma, self.strength_weight, self.clean_weight = float(gamma), float(strength_weight), float(clean_weight)
        if self.gamma < 0 or self.strength_weight < 0 or self.clean_weight < 0:
            raise ValueError("gamma, strength_weight and clean_weight must be >= 0")

    def build_model(self, model_cfg):
        return build_network(model_cfg, build_analyzer)

    def losses(self, out: torch.Tensor, fam: torch.Tensor, clean: torch.Tensor, strengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample (B) classification and strength losses and the number of strengths each sample has."""
        fam_logits, clean_logit, reg = split_outputs(out.float())
        cls = binary_focal_loss(fam_logits, fam, self.gamma, reduction="none").sum(1)
        cls = cls + self.clean_weight * binary_focal_loss(clean_logit, clean, self.gamma, reduction="none")
        known = torch.isfinite(strengths)
        diff = F.smooth_l1_loss(reg, torch.nan_to_num(strengths), reduction="none", beta=0.1) * known
        return cls, diff.sum(1), known.sum(1)

    def step(self, net, batch, lq, gt, t, phase=0):
        fam, clean, strengths = batch_targets(list(batch["recipe"]), self.device)
        out = net(lq)
        cls, reg, _ = self.losses(out, fam, clean, strengths)
        total = cls.mean() + self.strength_weight * reg.mean()
        terms = {"classify": cls.mean().detach(), "strength": reg.mean().detach()}
        return StepResult(total, terms, (cls + self.strength_weight * reg).detach(), None)

    @torch.no_grad()
    def validate(self, model, val_set, device, vcfg):
        """Per validation task: mean probability given to its true families (``p_true``), the largest
        probability given to an absent family (``p_false``, mean over images) and accuracy at 0.5 over all
        outputs; ``score`` is the mean accuracy over tasks."""
        recipes = {name: recipe for name, recipe, _ in val_set.tasks}
        was = model.training
        model.eval()
        per: dict[str, list[tuple[float, float, float]]] = {}
        try:
            for item in val_set:
                target = recipe_targets(recipes[item.task]) if item.task in recipes else None
                if target is None:
                    continue
                x = torch.from_numpy(np.ascontiguousarray(item.lq.transpose(2, 0, 1)))[None].to(device)
                fam_logits, clean_logit, _ = split_outputs(model(x).float())
                p = torch.sigmoid(torch.cat([fam_logits, clean_logit[:, None]], 1))[0].cpu().numpy()
                y = np.append(target.families, target.clean)
                true = p[y > 0]
                false = p[y == 0]
                per.setdefault(item.task, []).append((float(true.mean()) if true.size else float("nan"),
                                                      float(false.max()), float(((p > 0.5) == (y > 0)).mean())))
        finally:
            model.train(was)
        tasks = {k: {"p_true": float(np.nanmean([v[0] for v in vs])), "p_false": float(np.mean([v[1] for v in vs])),
                     "accuracy": float(np.mean([v[2] for v in vs])), "n": len(vs)} for k, vs in per.items()}
        score = float(np.mean([v["accuracy"] for v in tasks.values()])) if tasks else float("nan")
        return {"score": score, "score_name": "accuracy", "families": list(FAMILIES), "tasks": tasks}

    def describe_score(self, res):
        worst = min(res["tasks"].items(), key=lambda kv: kv[1]["p_true"], default=(None, None))
        extra = f"; lowest p_true {worst[0]} {worst[1]['p_true']:.2f}" if worst[0] else ""
        return f"val accuracy {res['score']:.3f}{extra}"
