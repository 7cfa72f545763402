"""The GIR 100-task test suite (paper 000, Section 4.1 and Appendix A.1): build, write, load, degrade.

Task ids and groups follow the paper's Table 6:

* 1-10, ``single``: GIR's ten basic ops alone at their representative settings (the ``rep`` values), in the
  paper's id order (:data:`SINGLE_ORDER`).
* 11-50, ``representative``: ten chains per order k = 2..5 (ids 11-20 are k = 2, ...). For each order,
  ``n_candidates`` chains x = (D_k o ... o D_1)(y) are drawn with fixed representative strengths (distinct
  ops, rain/haze/snow only as D_1, via :func:`gir.degradations.sample_recipe`); identical chains are merged.
  Each chain degrades the same few centre crops, the chains are compared by colour-histogram similarity,
  spectrally clustered into ten groups (:mod:`gir.bench.spectral`), and the chain nearest each cluster
  centre in the spectral embedding becomes a task. Tasks of one order are listed largest cluster first.
* 51-100, ``random``: ten chains per order k = 1..5 with random strengths (ids 51-60 are k = 1, ...).

Similarity (the paper says only "histogram similarity"; these are this module's choices): each degraded crop
gives per-channel ``bins``-bin histograms over [0, 1], each normalised to sum 1; two chains' similarity is
the histogram intersection sum(min(h_a, h_b)) averaged over channels and crops (1 = identical colour
statistics). The affinity for clustering is ``exp(-d^2 / (2 s^2))`` with ``d = 1 - similarity`` and ``s``
the median off-diagonal ``d``, which spreads the intersection values (typically all in 0.6-1) over [0, 1].

Everything is derived from the suite seed: the same seed and images give the same JSON bytes
(:func:`write_suite`). Every task stores its own degradation seed so :func:`degrade_for_task` reproduces its
low-quality image from the ground truth.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gir.bench.spectral import gaussian_affinity, nearest_to_centres, spectral_clustering
from gir.data.patches import centre_crop, quantize as quantize_levels
from gir.degradations import OPS, Recipe, Step, sample_recipe
from gir.degradations.base import check_image
from gir.degradations.depth import estimate_depth
from gir.degradations.ops_gir import SRC
from gir.errors import GirError, RecipeError

VERSION = 1
GROUPS = ("single", "representative", "random")
TASKS_PER_ORDER = 10
REPRESENTATIVE_ORDERS = (2, 3, 4, 5)
RANDOM_ORDERS = (1, 2, 3, 4, 5)
# Paper 000, Table 6, ids 1-10: resize, blur, noise, compression, damage, ringing, alg. artifact, rain, haze, snow.
SINGLE_ORDER = ("resize", "blur", "noise", "jpeg", "damage", "ringing", "rl_artifact", "rain", "haze", "snow")

# Independent random streams derived from the suite seed.
_STREAM_CANDIDATES, _STREAM_CLUSTER, _STREAM_RANDOM, _STREAM_TASK, _STREAM_PROBE = range(5)


class SuiteError(GirError, ValueError):
    """A suite file is unreadable or malformed; the message is one line starting with the file name."""


@dataclass(frozen=True)
class Task:
    """One test task: ``recipe`` carries ``seed``, the seed of its degradation randomness."""

    id: int
    group: str
    order: int
    recipe: Any  # gir.degradations.Recipe
    seed: int

    @property
    def text(self) -> str:
        return self.recipe.to_text()


# -- the pool and the ordering rule --------------------------------------------------------------------

def gir_pool() -> list[str]:
    """GIR's ten basic ops (those defined by :mod:`gir.degradations.ops_gir`), in registration order."""
    return [n for n in OPS.names() if OPS.get(n).source == SRC]


def follows_order_rule(recipe) -> bool:
    """True when the chain's ops are distinct and acquisition-time ops (rain, haze, snow) appear only as D_1."""
    ops = [s.op for s in recipe.steps]
    later_acq = any(OPS.get(op).acquisition for op in ops[1:])
    return len(set(ops)) == len(ops) and not later_acq


# -- building ----------------------------------------------------------------------------------------

def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _derived_seed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0] >> 1)


def task_seed(suite_seed: int, task_id: int) -> int:
    """The degradation seed of task ``task_id`` in the suite built from ``suite_seed`` (31-bit)."""
    return _derived_seed(suite_seed, _STREAM_TASK, task_id)


def colour_histograms(img: np.ndarray, bins: int) -> np.ndarray:
    """Per-channel ``bins``-bin histograms of float HxWxC ``img`` over [0, 1], each summing to 1: (C, bins)."""
    idx = np.clip((img * bins).astype(np.int64), 0, bins - 1)
    c = img.shape[2]
    flat = idx.reshape(-1, c) + np.arange(c) * bins
    counts = np.bincount(flat.ravel(), minlength=c * bins).reshape(c, bins).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def histogram_similarity(hists: np.ndarray) -> np.ndarray:
    """Pairwise histogram intersection of (n, m, bins) normalised histograms, averaged over the m: (n, n)."""
    n = len(hists)
    sim = np.empty((n, n))
    for a in range(n):
        sim[a] = np.minimum(hists[a][None], hists).sum(axis=2).mean(axis=1)
    return 0.5 * (sim + sim.T)


def _chain_key(recipe) -> tuple:
    return tuple((s.op, tuple(sorted(s.params.items()))) for s in recipe.steps)


def _steps_json(recipe) -> list[dict]:
    return [{"op": s.op, "params": dict(s.params)} for s in recipe.steps]


def _probe_set(images: Sequence[np.ndarray], n_images: int, crop: int) -> tuple[list, list]:
    if not images:
        raise ValueError("build_suite needs at least one image to compare candidate chains on")
    crops = []
    for img in list(images)[:n_images]:
        check_image(img)
        crops.append(centre_crop(img, crop))
    return crops, [estimate_depth(c) for c in crops]


def _images_digest(crops: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for c in crops:
        h.update(repr(c.shape).encode())
        h.update((np.clip(c, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes())
    return h.hexdigest()[:16]


def sample_candidates(rng: np.random.Generator, order: int, n: int, pool: list[str]) -> list:
    """``n`` chains of ``order`` distinct ops at representative strengths, duplicates removed (first kept)."""
    seen, out = set(), []
    for _ in range(n):
        r = sample_recipe(rng, order=order, pool=pool, strength="representative")
        key = _chain_key(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def representative_chains(candidates: list, crops: list, depths: list, rng: np.random.Generator,
                          probe_seeds: Sequence[int], k: int = TASKS_PER_ORDER, bins: int = 32,
                          n_init: int = 10) -> list[tuple[Any, int]]:
    """Cluster ``candidates`` (distinct recipes) by the colour histograms of the crops they degrade; return
    ``k`` pairs (chain nearest a cluster centre, cluster size), largest cluster first (then sample order).

    Crop i is degraded with seed ``probe_seeds[i]`` for every chain, so chains differ only in their ops.
    """
    if len(candidates) < k:
        raise ValueError(f"only {len(candidates)} distinct candidate chains for {k} clusters; "
                         "raise the candidate count")
    hists = np.stack([
        np.concatenate([colour_histograms(r.apply(c, seed=s, depth=d), bins)
                        for c, d, s in zip(crops, depths, probe_seeds)])
        for r in candidates])
    affinity = gaussian_affinity(1.0 - histogram_similarity(hists))
    cl = spectral_clustering(affinity, k, rng, n_init=n_init)
    picks = nearest_to_centres(cl.embedding, cl.labels, cl.centers)
    sizes = np.bincount(cl.labels, minlength=k)
    ranked = sorted(range(k), key=lambda j: (-int(sizes[j]), picks[j]))
    return [(candidates[picks[j]], int(sizes[j])) for j in ranked]


def random_chains(rng: np.random.Generator, order: int, n: int, pool: list[str]) -> list:
    """``n`` distinct chains of ``order`` ops with random strengths."""
    seen, out = set(), []
    for _ in range(100 * n):
        r = sample_recipe(rng, order=order, pool=pool, strength="random")
        if _chain_key(r) not in seen:
            seen.add(_chain_key(r))
            out.append(r)
            if len(out) == n:
                return out
    raise RuntimeError(f"could not draw {n} distinct random chains of order {order}")


def build_suite(seed: int, images: Sequence[np.ndarray], *, n_candidates: int = 200, n_images: int = 4,
                crop: int = 128, bins: int = 32, n_init: int = 10) -> dict:
    """Build the 100-task suite as a JSON-ready dict ``{"seed", "version", "build", "tasks"}``.

    seed: non-negative int; every random choice derives from it.
    images: float32 HxWx3 RGB images in [0, 1]; the first ``n_images`` are centre-cropped to ``crop`` px and
        degraded by every candidate chain to compare chains (only tasks 11-50 depend on them).
    n_candidates: chains sampled per order 2..5 before merging duplicates (at least 10 distinct needed).
    bins: histogram bins per channel; n_init: k-means restarts.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"suite seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    pool = gir_pool()
    if sorted(pool) != sorted(SINGLE_ORDER):
        raise RuntimeError(f"GIR's ten ops changed: registered {pool}, expected {list(SINGLE_ORDER)}")
    crops, depths = _probe_set(images, n_images, crop)
    probe_seeds = [_derived_seed(seed, _STREAM_PROBE, i) for i in range(len(crops))]

    entries: list[tuple[str, int, Any, dict]] = []
    for op in SINGLE_ORDER:
        entries.append(("single", 1, Recipe((Step(op, OPS.get(op).representative()),)), {}))
    for k in REPRESENTATIVE_ORDERS:
        cands = sample_candidates(_rng(seed, _STREAM_CANDIDATES, k), k, n_candidates, pool)
        chosen = representative_chains(cands, crops, depths, _rng(seed, _STREAM_CLUSTER, k), probe_seeds,
                                       TASKS_PER_ORDER, bins, n_init)
        entries += [("representative", k, r, {"cluster_size": size}) for r, size in chosen]
    for k in RANDOM_ORDERS:
        entries += [("random", k, r, {}) for r in
                    random_chains(_rng(seed, _STREAM_RANDOM, k), k, TASKS_PER_ORDER, pool)]

    tasks = []
    for tid, (group, k, recipe, extra) in enumerate(entries, start=1):
        tasks.append({"id": tid, "group": group, "order": k, "seed": task_seed(seed, tid),
                      "recipe": _steps_json(recipe), "text": recipe.to_text(), **extra})
    build = {"pool": pool, "candidates_per_order": n_candidates, "images": len(crops), "crop": crop,
             "bins": bins, "kmeans_restarts": n_init, "images_sha256": _images_digest(crops),
             "similarity": "colour histogram intersection; affinity exp(-(1-sim)^2 / (2 median^2))"}
    return {"seed": seed, "version": VERSION, "build": build, "tasks": tasks}


# -- files -------------------------------------------------------------------------------------------

def suite_json(suite: dict) -> str:
    """Canonical JSON text of a suite dict (fixed key order as built, 2-space indent, trailing newline)."""
    return json.dumps(suite, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def write_suite(suite: dict, path: str | Path) -> Path:
    """Write ``suite`` as canonical JSON (same suite -> same bytes); creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(suite_json(suite), encoding="utf-8")
    return path


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_task(d: Any, index: int) -> Task:
    """One task dict -> :class:`Task`; raises ValueError (task-relative message) when malformed."""
    if not isinstance(d, dict):
        raise ValueError(f"task #{index + 1} is not an object")
    tid = d.get("id")
    if not _int(tid) or tid < 1:
        raise ValueError(f"task #{index + 1}: 'id' must be a positive integer, got {tid!r}")
    where = f"task {tid}"
    if d.get("group") not in GROUPS:
        raise ValueError(f"{where}: 'group' must be one of {list(GROUPS)}, got {d.get('group')!r}")
    seed = d.get("seed")
    if not _int(seed) or seed < 0:
        raise ValueError(f"{where}: 'seed' must be a non-negative integer, got {seed!r}")
    steps = d.get("recipe")
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{where}: 'recipe' must be a non-empty list of steps")
    try:
        recipe = Recipe.from_dict({"steps": steps, "seed": seed})
    except RecipeError as e:
        raise ValueError(f"{where}: {e}") from None
    order = d.get("order")
    if order != len(recipe.steps) or not _int(order):
        raise ValueError(f"{where}: 'order' is {order!r} but the recipe has {len(recipe.steps)} steps")
    return Task(tid, d["group"], order, recipe, seed)


def parse_suite(suite: Any) -> list[Task]:
    """A suite dict -> its tasks, ordered by id; ValueError naming the problem when malformed."""
    if not isinstance(suite, dict) or not isinstance(suite.get("tasks"), list):
        raise ValueError("a suite is an object with a 'tasks' list")
    if suite.get("version") != VERSION:
        raise ValueError(f"unsupported suite version {suite.get('version')!r} (this gir reads {VERSION})")
    tasks = [parse_task(t, i) for i, t in enumerate(suite["tasks"])]
    ids = [t.id for t in tasks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate task id(s) {', '.join(map(str, dup))}")
    return sorted(tasks, key=lambda t: t.id)


def load_suite(path: str | Path) -> list[Task]:
    """Read a suite JSON file; raises :class:`SuiteError` ("<path>: <problem>") when unreadable or malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"{path}: cannot read suite file ({getattr(e, 'strerror', None) or e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SuiteError(f"{path}: invalid JSON ({e})") from None
    try:
        return parse_suite(data)
    except ValueError as e:
        raise SuiteError(f"{path}: {e}") from None


# -- degrading ---------------------------------------------------------------------------------------

def degrade_for_task(task: Task, gt_img: np.ndarray, depth: np.ndarray | None = None,
                     quantize: bool = True) -> np.ndarray:
    """The task's low-quality version of float32 HxWx3 ground truth ``gt_img`` (float32 HxWx3 in [0, 1]).

    Uses the task's seed, so the result is reproducible. ``depth`` (HxW, 1 = far) feeds haze/snow; by default
    it is estimated from ``gt_img``. ``quantize`` rounds the result to 8-bit levels, as a test input saved to
    PNG would be (real inputs are 8-bit), so scores do not depend on whether the LQ went through a file.
    """
    lq = task.recipe.apply(gt_img, seed=task.seed, depth=depth)
    return quantize_levels(lq) if quantize else lq
