"""Training and validation sets.

Every training sample is a pure function of ``(seed, index)``: its generator is
``numpy.random.default_rng(SeedSequence([seed, index]))`` and it draws, in order, the task, the image, the
crop window and the flips/rotation; the recipe carries a seed drawn from the same stream. The batch of
iteration ``t`` (1-based) on rank ``r`` of ``W`` is the ``B`` indices starting at ``((t - 1) * W + r) * B``
(:class:`IndexBatches`), so what a run sees does not depend on the number of DataLoader workers, a resumed
run sees exactly the samples the uninterrupted one would, and W ranks with batch B see the samples of one
process with batch W x B.

Samples are dicts: ``lq`` and ``gt`` float32 3 x P x P in [0, 1], ``task`` (str), ``recipe`` (text),
``index`` (int). The geometry (crop, flips) is applied to the clean patch first, then the patch is degraded.
With ``context_margin`` M > 0 a (P + 2M)-px region is cropped and degraded as a whole, ``lq`` / ``gt`` are its
central P x P patch and ``lq_context`` (3 x (P + 2M) x (P + 2M)) the whole degraded region: what a network's
image-level context sees around the patch, as it sees the rest of a photo around a tile at inference. With
``flat_regions`` p > 0, after the flips one more value is drawn and, with probability p, solid shapes are
painted into the clean region (:func:`gir.data.content.paint_flat_regions`) before it is degraded; then with
``veiled`` q > 0 one more, and with probability q the clean region is veiled (:func:`gir.data.content.veil`);
then with ``structures`` r > 0 one more, and with probability r thin regular structure (stripes, grids,
fences, text, line art) is drawn into it (:func:`gir.data.content.paint_structure`); then with ``gray`` g > 0
one more, and with probability g the clean region is made grey (its luma in all three channels) before it is
degraded, so that a network sees grey photos, whose texture has no colour, beside colour noise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from gir.data.content import VEIL_STRENGTH, paint_flat_regions, paint_structure, to_gray, veil
from gir.data.errors import ConfigError
from gir.data.folders import IMAGE_SUFFIXES, ImageCache, list_images, read_uint8
from gir.data.pairs import pair_seed
from gir.data.patches import centre_crop, quantize, random_crop, random_flip_rot, to_chw, to_float
from gir.data.tasks import TaskSampler, _parse_recipe, build_task_sampler, task_mapping
from gir.degradations import OPS
from gir.degradations.depth import estimate_depth
from gir.registry import Registry

DATASETS: Registry = Registry("training set")


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of training sample ``index`` of a run seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def _needs_depth(recipe) -> bool:
    return any(OPS.get(s.op).needs_depth for s in recipe.steps)


class DepthCache:
    """Depth maps of whole clean images (float16 HxW, 1 = far), estimated once, so depth-aware ops (haze,
    snow) on a patch see the scene's depth rather than one guessed from the patch alone."""

    def __init__(self):
        self._maps: dict[tuple[int, int], np.ndarray] = {}

    def get(self, key: tuple[int, int], img_u8: np.ndarray) -> np.ndarray:
        d = self._maps.get(key)
        if d is None:
            d = np.asarray(estimate_depth(to_float(img_u8)), dtype=np.float16)
            self._maps[key] = d
        return d


def _strength_range(value: Sequence[float], key: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected [low, high], got {value!r}") from None
    if not 0.0 <= lo <= hi < 1.0:
        raise ConfigError(f"{key}: expected 0 <= low <= high < 1, got [{lo}, {hi}]")
    return lo, hi


@DATASETS.register("degraded")
class DegradedFolder:
    """Clean images from ``roots``, cropped, flipped and degraded on the fly by a :class:`TaskSampler`."""

    def __init__(self, roots: Sequence[str | Path], sampler: TaskSampler, patch_size: int, seed: int = 0,
                 flip: bool = True, rot90: bool = True, quantize_lq: bool = True, scene_depth: bool = True,
                 recursive: bool = True, suffixes: Sequence[str] = IMAGE_SUFFIXES,
                 max_images: int | None = None, cache: bool = True, context_margin: int = 0,
                 flat_regions: float = 0.0, veiled: float = 0.0, veil_strength: Sequence[float] = VEIL_STRENGTH,
                 structures: float = 0.0, gray: float = 0.0, key: str = "data.train"):
        main = (list_images(roots, suffixes, recursive, f"{key}.roots", max_images)
                if roots or sampler.uses_main_pool else [])
        extra = [list_images(r, suffixes, recursive, f"{key}: task roots", max_images) for r in sampler.pools]
        self.pools = [ImageCache(p, cache) for p in [main, *extra]]
        sampler.bind([len(p) for p in self.pools])
        self.sampler = sampler
        self.patch_size = int(patch_size)
        self.seed = int(seed)
        self.flip, self.rot90 = flip, rot90
        self.quantize_lq, self.scene_depth = quantize_lq, scene_depth
        self.context_margin = int(context_margin)
        self.flat_regions, self.veiled, self.structures = float(flat_regions), float(veiled), float(structures)
        self.gray = float(gray)
        self.veil_strength = _strength_range(veil_strength, f"{key}.veil_strength")
        self.depths = DepthCache()

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = sample_rng(self.seed, index)
        draw = self.sampler.draw_at(rng, index)
        pool = self.pools[draw.pool]
        i = int(rng.integers(len(pool)))
        img = pool[i]
        arrays = [img]
        use_depth = self.scene_depth and _needs_depth(draw.recipe)
        if use_depth:
            arrays.append(self.depths.get((draw.pool, i), img))
        m = self.context_margin
        arrays = random_crop(arrays, self.patch_size + 2 * m, rng)
        arrays = random_flip_rot(arrays, rng, self.flip, self.rot90)
        if self.flat_regions > 0 and rng.random() < self.flat_regions:
            arrays[0] = paint_flat_regions(arrays[0], rng, margin=m)
        if self.veiled > 0 and rng.random() < self.veiled:
            arrays[0] = veil(arrays[0], rng, self.veil_strength)
        if self.structures > 0 and rng.random() < self.structures:
            arrays[0] = paint_structure(arrays[0], rng)
        if self.gray > 0 and rng.random() < self.gray:
            arrays[0] = to_gray(arrays[0])
        gt = to_float(arrays[0])
        depth = np.ascontiguousarray(arrays[1], dtype=np.float32) if use_depth else None
        lq = draw.recipe.apply(gt, depth=depth)
        if self.quantize_lq:
            lq = quantize(lq)
        sample = {"task": draw.task, "recipe": draw.recipe.to_text(), "index": int(index)}
        if m:
            sample["lq_context"] = to_chw(lq)
            patch = (slice(m, m + self.patch_size), slice(m, m + self.patch_size))
            lq, gt = lq[patch], gt[patch]
        return {"lq": to_chw(lq), "gt": to_chw(gt), **sample}

    def task_names(self) -> list[str] | None:
        return self.sampler.task_names()


def match_pairs(lq_root: str | Path, gt_root: str | Path, suffixes: Sequence[str] = IMAGE_SUFFIXES,
                recursive: bool = True, key: str = "paired", max_images: int | None = None
                ) -> list[tuple[Path, Path]]:
    """(LQ, GT) file pairs matched by file stem, in GT order. GT files without an LQ partner are an error."""
    lq_files = list_images(lq_root, suffixes, recursive, f"{key}.lq")
    gt_files = list_images(gt_root, suffixes, recursive, f"{key}.gt")
    by_stem: dict[str, Path] = {}
    for p in lq_files:
        if p.stem in by_stem:
            raise ConfigError(f"{key}.lq: two files share the stem {p.stem!r}: {by_stem[p.stem]}, {p}")
        by_stem[p.stem] = p
    missing = [p for p in gt_files if p.stem not in by_stem]
    if missing:
        raise ConfigError(f"{key}: {len(missing)} GT file(s) have no LQ file with the same stem in {lq_root}, "
                          f"e.g. {missing[0].name}")
    pairs = [(by_stem[p.stem], p) for p in gt_files]
    return pairs[:max_images] if max_images else pairs


def _check_pair(lq: np.ndarray, gt: np.ndarray, lq_path: Path, gt_path: Path) -> None:
    if lq.shape != gt.shape:
        raise ConfigError(f"{lq_path}: {lq.shape[1]}x{lq.shape[0]} does not match its GT {gt_path} "
                          f"({gt.shape[1]}x{gt.shape[0]}); paired training needs same-size images")


@DATASETS.register("paired")
class PairedFolders:
    """Pre-made LQ/GT pairs from two folders, matched by file stem; the same crop and flips for both."""

    def __init__(self, lq: str | Path, gt: str | Path, patch_size: int, seed: int = 0, flip: bool = True,
                 rot90: bool = True, task: str = "paired", recursive: bool = True,
                 suffixes: Sequence[str] = IMAGE_SUFFIXES, max_images: int | None = None, cache: bool = True,
                 key: str = "data.train.paired"):
        pairs = match_pairs(lq, gt, suffixes, recursive, key, max_images)
        self.lq = ImageCache([p[0] for p in pairs], cache)
        self.gt = ImageCache([p[1] for p in pairs], cache)
        self.patch_size, self.seed = int(patch_size), int(seed)
        self.flip, self.rot90, self.task = flip, rot90, str(task)

    def __len__(self) -> int:
        return len(self.gt)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = sample_rng(self.seed, index)
        i = int(rng.integers(len(self.gt)))
        lq, gt = self.lq[i], self.gt[i]
        _check_pair(lq, gt, self.lq.paths[i], self.gt.paths[i])
        lq, gt = random_crop([lq, gt], self.patch_size, rng)
        lq, gt = random_flip_rot([lq, gt], rng, self.flip, self.rot90)
        return {"lq": to_chw(to_float(lq)), "gt": to_chw(to_float(gt)), "task": self.task,
                "recipe": "", "index": int(index)}

    def task_names(self) -> list[str]:
        return [self.task]


class IndexBatches:
    """Batch sampler: the global sample indices of iterations ``start + 1 .. stop`` for one rank."""

    def __init__(self, batch_size: int, start: int, stop: int, rank: int = 0, world_size: int = 1):
        self.batch_size, self.start, self.stop = int(batch_size), int(start), int(stop)
        self.rank, self.world_size = int(rank), int(world_size)

    @staticmethod
    def indices(iteration: int, batch_size: int, rank: int = 0, world_size: int = 1) -> list[int]:
        base = ((iteration - 1) * world_size + rank) * batch_size
        return list(range(base, base + batch_size))

    def __iter__(self):
        for t in range(self.start + 1, self.stop + 1):
            yield self.indices(t, self.batch_size, self.rank, self.world_size)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


_TRAIN_COMMON = ("roots", "recursive", "suffixes", "max_images", "cache")


def build_train_set(section: dict, seed: int, patch_size: int, key: str = "data.train",
                    samples_per_iteration: int = 1, iterations: int = 1):
    """The training set a ``data.train`` config section describes (after :mod:`gir.training.config`
    validation): ``mode`` ``paired`` reads ``section['paired']``, other modes degrade ``roots`` with the
    sampler built from ``section[mode]``, told the samples per iteration (batch x ranks) and the run's
    iterations (the ``strategy`` mode schedules its tasks by them)."""
    mode = section.get("mode", "gir")
    common = dict(patch_size=patch_size, seed=seed, flip=section.get("flip", True),
                  rot90=section.get("rot90", True), recursive=section.get("recursive", True),
                  suffixes=section.get("suffixes", IMAGE_SUFFIXES), max_images=section.get("max_images"),
                  cache=section.get("cache", True))
    if mode == "paired":
        p = dict(section.get("paired") or {})
        for k in ("lq", "gt"):
            if not p.get(k):
                raise ConfigError(f"{key}.paired.{k}: mode 'paired' needs the {k.upper()} folder")
        return DATASETS.get("paired")(**p, **common, key=f"{key}.paired")
    sampler = build_task_sampler(mode, section.get(mode), f"{key}.{mode}")
    sampler.bind_iterations(samples_per_iteration, iterations)
    return DATASETS.get("degraded")(section.get("roots") or [], sampler, quantize_lq=section.get("quantize", True),
                                    scene_depth=section.get("scene_depth", True),
                                    context_margin=section.get("context_margin", 0),
                                    flat_regions=section.get("flat_regions", 0.0),
                                    veiled=section.get("veiled", 0.0),
                                    structures=section.get("structures", 0.0),
                                    gray=section.get("gray", 0.0),
                                    veil_strength=section.get("veil_strength", VEIL_STRENGTH), **common, key=key)


# ----------------------------------------------------------------------------------------- validation
class ValItem(NamedTuple):
    task: str
    name: str  # image file stem
    lq: np.ndarray  # float32 HxWx3 in [0, 1]
    gt: np.ndarray
    recipe: str = ""  # the recipe that made lq ("" for pre-made pairs)


_VAL_TASK_KEYS = {"name", "recipe", "seed"}


class ValSet:
    """Fixed validation pairs: centre crops of clean images, each degraded by every task with its pair's
    seed (:func:`gir.data.pairs.pair_seed` of the task's seed, its name, the image's folder and file name:
    the seed key of the benchmarks), or centre crops of pre-made LQ/GT pairs. Degraded lazily on first
    iteration, then kept."""

    def __init__(self, paths: Sequence[Path] = (), tasks: Sequence[tuple[str, Any, int]] = (),
                 crop: int | None = 256, pairs: Sequence[tuple[Path, Path]] = (), pair_task: str = "paired",
                 quantize_lq: bool = True):
        self.paths, self.tasks, self.crop = list(paths), list(tasks), crop
        self.pairs, self.pair_task, self.quantize_lq = list(pairs), pair_task, quantize_lq
        self._items: list[ValItem] | None = None

    def task_names(self) -> list[str]:
        return [t[0] for t in self.tasks] + ([self.pair_task] if self.pairs else [])

    def __len__(self) -> int:
        return len(self.paths) * len(self.tasks) + len(self.pairs)

    def __iter__(self):
        if self._items is None:
            self._items = self._make()
        return iter(self._items)

    def _make(self) -> list[ValItem]:
        items = []
        for path in self.paths:
            full = read_uint8(path)
            gt = to_float(centre_crop(full, self.crop))
            depth = None
            for name, recipe, seed in self.tasks:
                if depth is None and _needs_depth(recipe):
                    depth = np.ascontiguousarray(centre_crop(estimate_depth(to_float(full)), self.crop),
                                                 dtype=np.float32)
                s = pair_seed(int(seed), name, path.parent.name, path.name)
                lq = recipe.apply(gt, seed=s, depth=depth if _needs_depth(recipe) else None)
                items.append(ValItem(name, path.stem, quantize(lq) if self.quantize_lq else lq, gt,
                                     recipe.to_text()))
        for lq_path, gt_path in self.pairs:
            lq, gt = read_uint8(lq_path), read_uint8(gt_path)
            _check_pair(lq, gt, lq_path, gt_path)
            items.append(ValItem(self.pair_task, gt_path.stem, to_float(centre_crop(lq, self.crop)),
                                 to_float(centre_crop(gt, self.crop))))
        return items


def parse_val_tasks(tasks: Sequence[Any], key: str = "data.val.tasks") -> list[tuple[str, Any, int]]:
    """``[name, recipe, seed]`` from config items: a recipe text, or ``{recipe, name?, seed?}`` (seed 0)."""
    if not isinstance(tasks, (list, tuple)):
        raise ConfigError(f"{key}: expected a list of tasks")
    out = []
    for i, item in enumerate(tasks):
        k = f"{key}[{i}]"
        item = task_mapping(item, k, _VAL_TASK_KEYS)
        recipe = _parse_recipe(item.get("recipe"), f"{k}.recipe")
        seed = item.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"{k}.seed: expected a non-negative integer, got {seed!r}")
        out.append((str(item.get("name") or recipe.to_text()), recipe, seed))
    names = [t[0] for t in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{key}: task names must be unique; repeated: {', '.join(dup)}")
    return out


def build_val_set(section: dict, key: str = "data.val") -> ValSet | None:
    """The validation set of a ``data.val`` section, or None when it names no images."""
    suffixes = section.get("suffixes", IMAGE_SUFFIXES)
    recursive = section.get("recursive", True)
    max_images = section.get("max_images")
    crop = section.get("crop")
    roots = section.get("roots") or []
    paths, tasks, pairs = [], [], []
    if roots:
        paths = list_images(roots, suffixes, recursive, f"{key}.roots", max_images)
        tasks = parse_val_tasks(section.get("tasks") or [], f"{key}.tasks")
        if not tasks:
            raise ConfigError(f"{key}.tasks: validation on clean images needs at least one task recipe")
    if section.get("lq") or section.get("gt"):
        if not (section.get("lq") and section.get("gt")):
            raise ConfigError(f"{key}: paired validation needs both lq and gt folders")
        pairs = match_pairs(section["lq"], section["gt"], suffixes, recursive, key, max_images)
    if not paths and not pairs:
        return None
    return ValSet(paths, tasks, crop, pairs, section.get("pair_task", "paired"), section.get("quantize", True))
