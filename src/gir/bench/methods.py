"""Benchmark methods: what ``gir bench run --model`` accepts besides a network.

A method is a callable ``method(lq, task) -> restored``: ``lq`` float32 HxWx3 in [0, 1], ``task`` a
:class:`gir.bench.suite.Task` (blind methods ignore it), the result float32 HxWx3 (clipped by the caller).
Registered in :data:`METHODS` as factories ``factory(lines_dir=None, device="auto") -> method``:

* ``identity``: returns the input (the "no restoration" baseline).
* ``pipeline``: the default of ``gir restore``, blind: analyze -> plan -> experts -> verify
  (:class:`gir.restore.pipeline.Pipeline`).
* ``classical``: the textbook method of each op in the task's recipe, told the op's true parameters, applied
  last op first (:func:`gir.bench.classical.undo_recipe`).
* ``step-by-step``: paper 000's oracle: knows the recipe and undoes each op, last first, with the
  single-task network of that op: the excellence-line network of the op's basic task (ids 1-10) from a lines
  folder (:func:`gir.bench.lines.single_task_nets`).

Anything else is a shipped model name or a checkpoint path, run with :class:`gir.restore.Restorer`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from gir.bench.classical import undo_recipe
from gir.bench.lines import lines_file, single_task_nets
from gir.bench.suite import SINGLE_ORDER
from gir.errors import GirError
from gir.registry import Registry
from gir.restore.engine import Restorer
from gir.restore.pipeline import Pipeline

BenchMethod = Callable[[np.ndarray, object], np.ndarray]
METHODS: Registry = Registry("benchmark method")


@METHODS.register("identity")
def identity(lines_dir=None, device: str = "auto") -> BenchMethod:
    def method(lq: np.ndarray, task) -> np.ndarray:
        return lq

    return method


@METHODS.register("pipeline")
def pipeline(lines_dir=None, device: str = "auto") -> BenchMethod:
    """The default pipeline; ``method.steps`` collects, per call, (task id, [(expert, families, kept, why)]):
    what each input's plan ran and what verification kept or undid (``steps.md`` of the report)."""
    run = Pipeline(device=device)
    steps: list[tuple[int | None, list[tuple[str, tuple[str, ...], bool, str]]]] = []

    def method(lq: np.ndarray, task) -> np.ndarray:
        outcome = run.run(lq)
        steps.append((getattr(task, "id", None),
                      [(r.step.expert, tuple(r.step.families), r.check.kept, r.check.why) for r in outcome.records]))
        return outcome.image

    method.steps = steps
    return method


@METHODS.register("classical")
def classical(lines_dir=None, device: str = "auto") -> BenchMethod:
    def method(lq: np.ndarray, task) -> np.ndarray:
        if task is None:
            raise GirError("the classical baselines need the task's recipe (not available for real photos)")
        return undo_recipe(lq, task.recipe)

    return method


@METHODS.register("step-by-step")
def step_by_step(lines_dir=None, device: str = "auto") -> BenchMethod:
    if lines_dir is None:
        raise GirError("step-by-step needs the single-task networks of tasks 1-10: pass --lines with a folder "
                       "(or its lines.jsonl) made by `gir bench lines build`")
    nets = single_task_nets(lines_dir)
    missing = [op for op in SINGLE_ORDER if op not in nets]
    if missing:
        raise GirError(f"step-by-step: {lines_file(lines_dir)} has no excellence network for "
                       f"{', '.join(missing)}; run `gir bench lines build --tasks 1-10` first")
    restorers: dict[str, Restorer] = {}

    def net(op: str) -> Restorer:
        if op not in restorers:
            if op not in nets:
                raise GirError(f"step-by-step: no single-task network for op {op!r}")
            restorers[op] = Restorer(str(nets[op]), device=device, tile=0, impulse_repair=False)
        return restorers[op]

    def method(lq: np.ndarray, task) -> np.ndarray:
        if task is None:
            raise GirError("step-by-step needs the task's recipe (not available for real photos)")
        out = lq
        for step in reversed(task.recipe.steps):
            out = net(step.op)(out)
        return out

    return method


def model_method(spec: str, device: str = "auto") -> BenchMethod:
    """A network (shipped model name or checkpoint path) as a blind method; tiled as ``gir restore`` does."""
    restorer = Restorer(spec, device=device)

    def method(lq: np.ndarray, task) -> np.ndarray:
        return restorer(lq)

    return method


def resolve_method(spec: str | Path, lines_dir: str | Path | None = None, device: str = "auto") -> BenchMethod:
    """``--model``: a registered method name (``identity``, ``classical``, ``step-by-step``), else a model
    name or checkpoint path. ``lines_dir``: a lines folder or file (for ``step-by-step``)."""
    name = str(spec)
    if name in METHODS:
        return METHODS.build({"type": name}, lines_dir=lines_dir, device=device)
    return model_method(name, device=device)
