"""Degradation sampling modes: which recipe degrades each training patch.

A sampler's :meth:`draw` takes the sample's own generator and returns a :class:`TaskDraw`: a task name (for
per-task statistics), a complete recipe with its seed, and the image pool to crop from. Modes, registered
in :data:`TASK_SAMPLERS` under the names a config's ``data.train.mode`` uses:

* ``single``: one op; strengths drawn from its random range (``random: true``, parameters given in
  ``params`` stay fixed) or fixed (``params``, else the representative values).
* ``mix``: a fixed list of tasks (MIR-style, paper 000; DCPT's 5D/10D, paper 004), each a recipe text,
  drawn with probability proportional to ``weight``, or to ``repeat`` x (images in the task's pool) as a
  repeat sampler over datasets of different sizes does. When all tasks share one pool, ``repeat`` ratios
  are the task frequencies.
* ``gir``: random chains from :func:`gir.degradations.sample_recipe` (paper 000, eq. 4).
* ``clean``: no degradation (the target is the input), so a model learns to leave clean content alone.
* ``compose``: a weighted mixture of the modes above, e.g. GIR chains for most patches, single tasks at
  random strengths for the ones the chains starve, and some clean patches.
* ``strategy``: a ``mix`` task list scheduled over the run: Mix-, Combine-, Sequence-Train or FoundIR's
  incremental learning (isolated tasks first, then isolated and coupled together; paper 001).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from gir.data.errors import ConfigError
from gir.degradations import OPS, Recipe, Step, sample_recipe
from gir.degradations.sampler import parse_order
from gir.errors import RecipeError
from gir.registry import Registry

TASK_SAMPLERS: Registry = Registry("data.train.mode")

_SEED_HIGH = 2**31 - 1


class TaskDraw(NamedTuple):
    task: str
    recipe: Any  # gir.degradations.Recipe, with its seed set
    pool: int  # 0 = the main roots; i > 0 = the i-th extra pool named by :attr:`TaskSampler.pools`


def task_roots(roots, key: str) -> list[str]:
    """A task's own ``roots`` (a folder or a list of folders) as a list; ConfigError naming ``key`` otherwise."""
    roots = [roots] if isinstance(roots, str) else roots
    if not isinstance(roots, (list, tuple)) or not roots or not all(isinstance(r, str) for r in roots):
        raise ConfigError(f"{key}.roots: expected a folder or a list of folders")
    return list(roots)


class TaskSampler:
    """Base class. ``pools``: extra image roots some tasks draw from (index i + 1 in :class:`TaskDraw`)."""

    pools: list[list[str]] = []
    uses_main_pool: bool = True

    def bind(self, pool_sizes: Sequence[int]) -> None:
        """Told the number of images in each pool (main first) before the first draw."""

    def draw(self, rng: np.random.Generator) -> TaskDraw:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw_at(self, rng: np.random.Generator, index: int) -> TaskDraw:
        """The draw of training sample ``index`` (a schedule over iterations reads it); default :meth:`draw`."""
        return self.draw(rng)

    def bind_iterations(self, samples_per_iteration: int, iterations: int) -> None:
        """Told how many samples one iteration takes (batch x ranks) and the run's length, before the first
        draw; a sampler whose tasks change over the run (``strategy``) needs them."""

    def task_names(self) -> list[str] | None:
        """The fixed set of task names, or None when unbounded."""
        return None


def _op_spec(name: str, key: str):
    if not isinstance(name, str) or name not in OPS:
        raise ConfigError(f"{key}: unknown op {name!r}; known: {', '.join(OPS.names())}")
    return OPS.get(name)


def task_mapping(item: Any, key: str, allowed: set[str] | frozenset[str]) -> dict:
    """A task config item as a mapping: a bare recipe text becomes ``{"recipe": text}``; unknown keys fail."""
    if isinstance(item, str):
        item = {"recipe": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{key}: expected a recipe text or a mapping with a 'recipe' key")
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise ConfigError(f"{key}: unknown key {unknown[0]!r}; known: {', '.join(sorted(allowed))}")
    return item


def _parse_recipe(text: Any, key: str):
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{key}: expected a recipe text such as 'noise(sigma=25) > jpeg(quality=40)'")
    try:
        return Recipe.parse(text)
    except RecipeError as e:
        raise ConfigError(f"{key}: {e}") from None


def _redraw(recipe, rng: np.random.Generator, params: Sequence[Sequence[Any]]):
    """The recipe's op chain with every parameter drawn from its random range; ``params[i]`` is step i's
    :class:`~gir.degradations.base.Param` list (see :func:`_random_params`)."""
    return Recipe(tuple(Step(s.op, {p.name: p.sample(rng) for p in ps}) for s, ps in zip(recipe.steps, params)))


def _random_params(recipe, ranges: Any, key: str) -> list[list[Any]]:
    """Each step's params, with the random range of every parameter named in ``ranges`` (None: none)
    replaced by the given ``[low, high]`` (numbers) or list of choices. A name is a parameter (``sigma``: of
    every step that has one) or ``op.parameter`` (``noise.sigma``: that op's only, and first). Every name must
    be a parameter of some step, and the new range must lie inside the parameter's valid bounds."""
    from dataclasses import replace

    steps = [list(OPS.get(s.op).params) for s in recipe.steps]
    if ranges is None:
        return steps
    if not isinstance(ranges, dict) or not ranges:
        raise ConfigError(f"{key}: expected a mapping such as {{omega: [1.05, 1.6]}}, got {ranges!r}")
    known = {n for ps, step in zip(steps, recipe.steps) for p in ps for n in (p.name, f"{step.op}.{p.name}")}
    unknown = sorted(set(map(str, ranges)) - known)
    if unknown:
        raise ConfigError(f"{key}: not a parameter of "
                          f"{' > '.join(s.op for s in recipe.steps)}: {', '.join(unknown)}")
    for ps, step in zip(steps, recipe.steps):
        for i, p in enumerate(ps):
            name = next((n for n in (f"{step.op}.{p.name}", p.name) if n in ranges), None)
            if name is not None:
                ps[i] = replace(p, rand=_checked_range(p, ranges[name], step.op, f"{key}.{name}"))
    return steps


def _checked_range(p: Any, value: Any, op: str, key: str) -> tuple:
    if not isinstance(value, (list, tuple)) or not value or (p.kind != "choice" and len(value) != 2):
        want = "a list of choices" if p.kind == "choice" else "[low, high]"
        raise ConfigError(f"{key}: expected {want}, got {value!r}")
    try:
        checked = tuple(p.check(v, op) for v in value)
    except RecipeError as e:
        raise ConfigError(f"{key}: {e}") from None
    if p.kind != "choice" and checked[0] > checked[1]:
        raise ConfigError(f"{key}: low {checked[0]} is above high {checked[1]}")
    return checked


@TASK_SAMPLERS.register("single")
class SingleOp(TaskSampler):
    """One op. ``random``: draw the parameters not given in ``params`` from the op's random range."""

    def __init__(self, op: str = "noise", params: dict | None = None, random: bool = True,
                 name: str | None = None, key: str = "data.train.single"):
        self.spec = _op_spec(op, f"{key}.op")
        if params is not None and not isinstance(params, dict):
            raise ConfigError(f"{key}.params: expected a mapping of parameter values, got {params!r}")
        self.fixed = dict(params or {})
        try:
            resolved = self.spec.resolve(self.fixed)
        except RecipeError as e:
            raise ConfigError(f"{key}.params: {e}") from None
        self.fixed = {k: resolved[k] for k in self.fixed}
        self.resolved = resolved
        self.random = bool(random)
        self.name = name or op

    def draw(self, rng: np.random.Generator) -> TaskDraw:
        params = {**self.spec.sample_params(rng), **self.fixed} if self.random else self.resolved
        return TaskDraw(self.name, Recipe((Step(self.spec.name, params),), int(rng.integers(_SEED_HIGH))), 0)

    def task_names(self) -> list[str]:
        return [self.name]


_TASK_KEYS = {"recipe", "name", "random", "ranges", "weight", "repeat", "roots"}


@TASK_SAMPLERS.register("mix")
class MixTasks(TaskSampler):
    """A fixed list of tasks. Each item: a recipe text, or a mapping with ``recipe`` and optional ``name``,
    ``random`` (redraw every parameter of every step from the op's random range; the text fixes the op
    order), ``ranges`` (with ``random``: other random ranges for named parameters, e.g. ``{omega: [1.05,
    1.6]}`` for strong ringing), ``weight`` or ``repeat`` (not both kinds in one list; default equal
    weights) and ``roots`` (the task's own clean images instead of ``data.train.roots``)."""

    def __init__(self, tasks: Sequence[Any] = (), key: str = "data.train.mix"):
        if not isinstance(tasks, (list, tuple)) or not tasks:
            raise ConfigError(f"{key}.tasks: give a non-empty list of tasks (recipe texts or mappings)")
        self.tasks: list[dict] = []
        self.pools = []
        for i, item in enumerate(tasks):
            self.tasks.append(self._parse_task(item, f"{key}.tasks[{i}]"))
        names = [t["name"] for t in self.tasks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"{key}.tasks: task names must be unique; repeated: {', '.join(dup)}")
        kinds = {k for t in self.tasks for k in ("weight", "repeat") if t[k] is not None}
        if len(kinds) > 1:
            raise ConfigError(f"{key}.tasks: use either weight or repeat for all tasks, not both")
        self.kind = kinds.pop() if kinds else "weight"
        self.uses_main_pool = any(t["pool"] == 0 for t in self.tasks)
        self.probs: np.ndarray | None = None
        self.bind([1] * (len(self.pools) + 1))

    def _parse_task(self, item: Any, key: str) -> dict:
        item = task_mapping(item, key, _TASK_KEYS)
        recipe = _parse_recipe(item.get("recipe"), f"{key}.recipe")
        rnd = item.get("random", False)
        if not isinstance(rnd, bool):
            raise ConfigError(f"{key}.random: expected true or false, got {rnd!r}")
        if item.get("ranges") is not None and not rnd:
            raise ConfigError(f"{key}.ranges: only with random: true (the recipe text fixes the values)")
        params = _random_params(recipe, item.get("ranges"), f"{key}.ranges") if rnd else None
        amounts = {}
        for k in ("weight", "repeat"):
            v = item.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
                raise ConfigError(f"{key}.{k}: expected a positive number, got {v!r}")
            amounts[k] = v
        name = item.get("name") or (" > ".join(s.op for s in recipe.steps) + " (random)" if rnd
                                    else recipe.to_text())
        pool = 0
        roots = item.get("roots")
        if roots is not None:
            self.pools.append(task_roots(roots, key))
            pool = len(self.pools)
        return {"name": str(name), "recipe": recipe, "random": rnd, "params": params, "pool": pool, **amounts}

    def bind(self, pool_sizes: Sequence[int]) -> None:
        amounts = np.array([t[self.kind] or 1.0 for t in self.tasks], dtype=np.float64)
        if self.kind == "repeat":
            amounts *= np.array([pool_sizes[t["pool"]] for t in self.tasks], dtype=np.float64)
        self.probs = amounts / amounts.sum()

    def draw(self, rng: np.random.Generator) -> TaskDraw:
        return self._task_draw(self.tasks[int(rng.choice(len(self.tasks), p=self.probs))], rng)

    def _task_draw(self, t: dict, rng: np.random.Generator) -> TaskDraw:
        recipe = _redraw(t["recipe"], rng, t["params"]) if t["random"] else t["recipe"]
        return TaskDraw(t["name"], recipe.with_seed(int(rng.integers(_SEED_HIGH))), t["pool"])

    def _draw_among(self, idx: Sequence[int], rng: np.random.Generator) -> TaskDraw:
        """A task among ``idx`` (probabilities renormalised), then its draw."""
        p = self.probs[list(idx)]
        return self._task_draw(self.tasks[idx[int(rng.choice(len(idx), p=p / p.sum()))]], rng)

    def task_names(self) -> list[str]:
        return [t["name"] for t in self.tasks]


STRATEGIES = ("mix", "combine", "sequence", "incremental")


@TASK_SAMPLERS.register("strategy")
class StrategyTasks(MixTasks):
    """Training strategies over a fixed task list (paper 001, sec. 4.2 and Table 3a). ``tasks`` as in ``mix``;
    a task whose recipe has one step is *isolated*, two or more *coupled*. With P samples per iteration
    (batch x ranks) and sample index i (iteration i // P + 1, position i % P in the batch):

    * ``mix`` (Mix-Train): every sample draws its task from all tasks (by weight);
    * ``combine`` (Combine-Train): every batch is made of mini-batches of each task, round-robin over the
      global sample index (task i mod n), so each task gets the same share of every stretch of samples;
    * ``sequence`` (Sequence-Train): the run is cut into n equal stretches of iterations, task k alone in the
      k-th (task-sequential learning);
    * ``incremental`` (paper 001's Algorithm 1): ``isolated_iterations`` (n) iterations on the isolated
      tasks, then batches that combine isolated and coupled samples (even positions isolated, odd coupled);
      the paper runs 2n iterations of the second stage, so n defaults to a third of the run.
    """

    def __init__(self, tasks: Sequence[Any] = (), type: str = "incremental", isolated_iterations: int | None = None,
                 key: str = "data.train.strategy"):
        super().__init__(tasks, key=key)
        if type not in STRATEGIES:
            raise ConfigError(f"{key}.type: expected one of {', '.join(STRATEGIES)}, got {type!r}")
        self.type = type
        self.isolated = [i for i, t in enumerate(self.tasks) if len(t["recipe"].steps) == 1]
        self.coupled = [i for i, t in enumerate(self.tasks) if len(t["recipe"].steps) > 1]
        if type == "incremental" and (not self.isolated or not self.coupled):
            raise ConfigError(f"{key}.tasks: incremental learning needs isolated (one-op) and coupled "
                              f"(two or more ops) tasks; got {len(self.isolated)} and {len(self.coupled)}")
        if isolated_iterations is not None and (isinstance(isolated_iterations, bool) or
                                                not isinstance(isolated_iterations, int) or isolated_iterations < 1):
            raise ConfigError(f"{key}.isolated_iterations: expected a positive integer, got {isolated_iterations!r}")
        self.isolated_iterations = isolated_iterations
        self.per_iteration, self.iterations = 1, 1

    def bind_iterations(self, samples_per_iteration: int, iterations: int) -> None:
        self.per_iteration, self.iterations = max(1, int(samples_per_iteration)), max(1, int(iterations))

    def stage_iterations(self) -> int:
        """n: the iterations of the incremental strategy's isolated stage."""
        return self.isolated_iterations or max(1, self.iterations // 3)

    def draw_at(self, rng: np.random.Generator, index: int) -> TaskDraw:
        n = len(self.tasks)
        iteration, pos = index // self.per_iteration + 1, index % self.per_iteration
        if self.type == "combine":
            return self._task_draw(self.tasks[index % n], rng)
        if self.type == "sequence":
            k = min(n - 1, (iteration - 1) * n // self.iterations)
            return self._task_draw(self.tasks[k], rng)
        if self.type == "incremental":
            if iteration <= self.stage_iterations() or pos % 2 == 0:
                return self._draw_among(self.isolated, rng)
            return self._draw_among(self.coupled, rng)
        return self.draw(rng)


@TASK_SAMPLERS.register("gir")
class GirChains(TaskSampler):
    """Random chains of ``order`` (N, "LO-HI" or [LO, HI]) distinct ops from ``pool`` (default: every
    registered op); the task name is ``order-K`` for a chain of K ops."""

    def __init__(self, order: Any = "1-5", pool: Sequence[str] | None = None, strength: str = "random",
                 key: str = "data.train.gir"):
        if isinstance(order, list):
            order = tuple(order)
        try:
            self.order = parse_order(order)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{key}.order: {e}") from None
        if pool is not None:
            if isinstance(pool, str) or not isinstance(pool, (list, tuple)) or not pool:
                raise ConfigError(f"{key}.pool: expected a non-empty list of op names, or null for all ops")
            for i, name in enumerate(pool):
                _op_spec(name, f"{key}.pool[{i}]")
            pool = list(pool)
        if strength not in ("random", "representative"):
            raise ConfigError(f"{key}.strength: expected 'random' or 'representative', got {strength!r}")
        self.pool, self.strength = pool, strength
        try:  # the longest chain must be possible with this pool
            sample_recipe(np.random.default_rng(0), (self.order[1], self.order[1]), pool, strength)
        except ValueError as e:
            raise ConfigError(f"{key}: {e}") from None

    def draw(self, rng: np.random.Generator) -> TaskDraw:
        recipe = sample_recipe(rng, self.order, self.pool, self.strength)
        return TaskDraw(f"order-{len(recipe.steps)}", recipe, 0)

    def task_names(self) -> list[str]:
        return [f"order-{k}" for k in range(self.order[0], self.order[1] + 1)]


@TASK_SAMPLERS.register("clean")
class CleanPatches(TaskSampler):
    """The identity: the degraded patch is the clean one (an empty recipe). ``roots``: draw the patches from
    these folders instead of ``data.train.roots`` (hard clean examples, :mod:`gir.training.hard_clean`)."""

    def __init__(self, name: str = "clean", roots: str | Sequence[str] | None = None, key: str = "data.train.clean"):
        self.name = str(name)
        self.pools = [task_roots(roots, key)] if roots is not None else []
        self.uses_main_pool = not self.pools

    def draw(self, rng: np.random.Generator) -> TaskDraw:
        return TaskDraw(self.name, Recipe((), int(rng.integers(_SEED_HIGH))), 1 if self.pools else 0)

    def task_names(self) -> list[str]:
        return [self.name]


@TASK_SAMPLERS.register("compose")
class ComposeSamplers(TaskSampler):
    """A weighted mixture of samplers. ``parts``: mappings ``{mode, weight, ...}``, where the other keys are
    that mode's own section (``{mode: gir, weight: 6, order: 1-5}``); a part is drawn with probability
    proportional to its ``weight`` (default 1), then it draws the task."""

    def __init__(self, parts: Sequence[Any] = (), key: str = "data.train.compose"):
        if not isinstance(parts, (list, tuple)) or not parts:
            raise ConfigError(f"{key}.parts: give a non-empty list of {{mode, weight, ...}} mappings")
        self.parts: list[TaskSampler] = []
        self.offsets: list[int] = []
        weights = []
        self.pools = []
        for i, item in enumerate(parts):
            k = f"{key}.parts[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("mode"), str):
                raise ConfigError(f"{k}: expected a mapping with a 'mode' key (one of "
                                  f"{', '.join(m for m in TASK_SAMPLERS.names() if m != 'compose')})")
            section = dict(item)
            mode, weight = section.pop("mode"), section.pop("weight", 1.0)
            if mode in ("compose", "strategy"):
                raise ConfigError(f"{k}.mode: a compose part cannot be '{mode}'")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
                raise ConfigError(f"{k}.weight: expected a positive number, got {weight!r}")
            sampler = build_task_sampler(mode, section, k)
            self.offsets.append(len(self.pools))
            self.pools.extend(sampler.pools)
            self.parts.append(sampler)
            weights.append(float(weight))
        self.probs = np.array(weights) / sum(weights)
        self.uses_main_pool = any(p.uses_main_pool for p in self.parts)

    def bind(self, pool_sizes: Sequence[int]) -> None:
        for part, off in zip(self.parts, self.offsets):
            part.bind([pool_sizes[0], *pool_sizes[1 + off:1 + off + len(part.pools)]])

    def draw(self, rng: np.random.Generator) -> TaskDraw:
        i = int(rng.choice(len(self.parts), p=self.probs))
        d = self.parts[i].draw(rng)
        return d._replace(pool=d.pool + self.offsets[i] if d.pool else 0)

    def task_names(self) -> list[str] | None:
        names = [p.task_names() for p in self.parts]
        if any(n is None for n in names):
            return None
        return list(dict.fromkeys(n for part in names for n in part))


def build_task_sampler(mode: str, section: dict | None, key: str) -> TaskSampler:
    """The sampler for ``mode`` built from its config section (``data.train.<mode>``)."""
    if mode not in TASK_SAMPLERS:
        raise ConfigError(f"data.train.mode: unknown mode {mode!r}; known: "
                          f"{', '.join([*TASK_SAMPLERS.names(), 'paired'])}")
    return TASK_SAMPLERS.call(mode, where=key, **dict(section or {}), key=key)
