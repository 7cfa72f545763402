"""The benchmark protocol, shared by ``gir bench run`` (:mod:`gir.bench.run`) and ``gir bench lines build``
(:mod:`gir.bench.lines`), so that a model and the lines are measured the same way:

* Ground truth: the images of one or more clean folders, each centre-cropped to ``crop`` x ``crop`` pixels
  (:data:`DEFAULT_CROP`; 0 = whole images). A folder's name is its data set name.
* Input of (task, image): the task's recipe applied by :func:`gir.bench.suite.degrade_for_task` with the
  pair's own seed ``pair_seed(task.seed, "task<id>", data set, file name)``
  (:func:`gir.data.pairs.pair_seed`), quantised to 8 bits. Every method sees the same inputs in every
  run; different images get different noise/scratch realisations.
* Scores: PSNR and SSIM (:mod:`gir.metrics`: RGB, no border crop) of the clipped output against the ground
  truth, averaged over the images of the task (:func:`score_methods`, through the one evaluation loop
  :func:`gir.bench.evaluate.score_pairs`). The degraded input is scored too (``input_psnr``).

The default suite is built with the public seed :data:`DEFAULT_SUITE_SEED`: anyone can rebuild it, so its
random tasks (51-100) are public too. Someone who wants the paper's withheld random tasks builds a suite with a
private seed (``gir bench suite build --seed N``) and builds lines for it.

Importing this module is cheap (the command-line parser reads its defaults); the suite and the scoring load
on first use.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from gir.data.pairs import Pair, pair_seed
from gir.errors import GirError

DEFAULT_SUITE_SEED = 2024
"""The seed of the repository's default suite. It is public: tuning to its random tasks is possible, so
results meant to be blind must use a suite built from a private seed."""
DEFAULT_CROP = 256
"""Centre-crop side (pixels) of the ground truth by default: 100 tasks x 92 images stay tractable on a CPU.
Lines and model runs are comparable only at the same crop."""
DEFAULT_SUITE_FILE = Path(__file__).with_name("default_suite.json")
"""Where the package keeps the default suite (built with :data:`DEFAULT_SUITE_SEED`), when shipped."""
DEFAULT_LINES_FILE = Path(__file__).with_name("default_lines.jsonl")
"""Where the package keeps the lines of the default suite and ground truth, when shipped."""
DEFAULT_GT_NAMES = ("kodak24", "cbsd68")
SHARED_DATA_ENV = "GIR_SHARED_DATA"


@dataclass(frozen=True)
class GroundTruth:
    """One clean image: ``dataset`` (its folder's name), file ``name`` and the float32 HxWx3 pixels."""

    dataset: str
    name: str
    img: np.ndarray


# ----------------------------------------------------------------------------------------- defaults
def shared_data() -> Path:
    """The shared data folder: ``$GIR_SHARED_DATA``, else ``../shared/data`` from the current directory."""
    return Path(os.environ.get(SHARED_DATA_ENV, Path("..") / "shared" / "data"))


def default_gt_dirs(names: Sequence[str] = DEFAULT_GT_NAMES) -> list[Path]:
    """``<shared data>/test/<name>`` for each of ``names`` that exists (possibly none)."""
    return [p for p in (shared_data() / "test" / n for n in names) if p.is_dir()]


def resolve_gt_dirs(dirs: Sequence[str | Path] | None, names: Sequence[str] = DEFAULT_GT_NAMES) -> list[Path]:
    """``dirs`` as paths, or the default folders; GirError when nothing is left or a folder is missing."""
    if dirs:
        out = [Path(d) for d in dirs]
        missing = [str(d) for d in out if not d.is_dir()]
        if missing:
            raise GirError(f"ground-truth folder(s) not found: {', '.join(missing)}")
        return out
    out = default_gt_dirs(names)
    if not out:
        raise GirError(f"no ground truth: give --gt DIR (the default {', '.join(names)} under "
                       f"{shared_data() / 'test'} is absent)")
    return out


def resolve_suite(path: str | Path | None) -> Path:
    """The suite file to use: ``path``, else the shipped default suite; GirError when there is none."""
    if path is not None:
        return Path(path)
    if DEFAULT_SUITE_FILE.is_file():
        return DEFAULT_SUITE_FILE
    raise GirError(f"no --suite given and no default suite is installed ({DEFAULT_SUITE_FILE}); build one with "
                   f"`gir bench suite build --seed {DEFAULT_SUITE_SEED} -o DIR` and pass --suite DIR/suite.json")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_task_ids(spec: str | None) -> list[int] | None:
    """``"1-10,15,51-53"`` -> [1, ..., 10, 15, 51, 52, 53] (sorted, unique); None or "" -> None (all)."""
    if not spec:
        return None
    ids: set[int] = set()
    for part in str(spec).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                ids.update(range(lo, hi + 1))
            elif part:
                ids.add(int(part))
        except ValueError:
            raise GirError(f"--tasks {spec!r}: expected ids and ranges such as 1-10,15") from None
    return sorted(ids)


def load_tasks(suite_path: str | Path, ids: Sequence[int] | None = None) -> list:
    """The suite's tasks (:class:`gir.bench.suite.Task`), restricted to ``ids`` when given."""
    from gir.bench.suite import load_suite

    tasks = load_suite(suite_path)
    if ids is None:
        return tasks
    known = {t.id for t in tasks}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise GirError(f"{suite_path}: no task(s) {', '.join(map(str, unknown))} in the suite")
    wanted = set(ids)
    return [t for t in tasks if t.id in wanted]


# ------------------------------------------------------------------------------------- ground truth
def load_gt(dirs: Sequence[str | Path], crop: int | None = DEFAULT_CROP,
            max_images: int | None = None) -> list[GroundTruth]:
    """Centre crops (``crop`` px; 0/None = whole) of the images in each folder, folders in order, files sorted.

    ``max_images`` caps the images per folder. Two folders with the same name are refused (their pair seeds
    would coincide). Unreadable ground truth raises (a benchmark must not silently lose images).
    """
    from gir.bench.evaluate import load_images
    from gir.bench.suite import centre_crop

    names = [Path(d).name for d in dirs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise GirError(f"ground-truth folders must have distinct names (they name the data sets): {', '.join(dup)}")
    out = []
    for d in dirs:
        for dataset, name, img in load_images(d, max_images=max_images):
            out.append(GroundTruth(dataset, name, centre_crop(img, crop) if crop else img))
    return out


def gt_digest(gt: Sequence[GroundTruth]) -> str:
    """SHA-256 over the names and 8-bit pixels of the ground truth (identifies what lines were measured on)."""
    h = hashlib.sha256()
    for g in gt:
        h.update(f"{g.dataset}/{g.name}:{g.img.shape}".encode())
        h.update((np.clip(g.img, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes())
    return h.hexdigest()


def degraded_input(task, g: GroundTruth) -> np.ndarray:
    """The low-quality input of (task, image): the task's recipe with the pair's seed, 8-bit quantised."""
    from gir.bench.suite import degrade_for_task

    seed = pair_seed(task.seed, f"task{task.id}", g.dataset, g.name)
    return degrade_for_task(replace(task, seed=seed), g.img)


# --------------------------------------------------------------------------------------- evaluation
@dataclass
class Sample:
    """Input, output and ground truth of one (task, image), for the HTML page."""

    task: int
    image: str
    lq: np.ndarray
    out: np.ndarray
    gt: np.ndarray


def score_methods(methods: Mapping[str, Callable], tasks: Sequence, gt: Sequence[GroundTruth], *,
                  keep: Iterable[int] = (), progress: bool | str = False) -> tuple[dict[str, dict], dict[str, list]]:
    """Mean PSNR / SSIM of each ``method(lq, task)`` per task over ``gt``; all methods see the same inputs,
    each (task, image) degraded and scored once (:func:`gir.bench.evaluate.score_pairs`).

    Returns ``({method name: {task id: {"psnr", "ssim", "input_psnr", "input_ssim", "n"}}}, {method name:
    samples})``; samples hold the first image's (input, output, ground truth) for the task ids in ``keep``.
    ``progress``: a tqdm bar over the (task, image) pairs (a string labels it).
    """
    from tqdm.auto import tqdm

    from gir.bench.evaluate import mean_table, score_pairs

    if not gt:
        raise GirError("no ground-truth images to score on")
    keep = set(keep)
    samples: dict[str, list[Sample]] = {name: [] for name in methods}
    first = (gt[0].dataset, gt[0].name)

    def pairs():
        for task in tasks:
            for g in gt:
                yield Pair(task.id, g.dataset, g.name, degraded_input(task, g), g.img, task)

    def after(pair: Pair, outputs: dict[str, np.ndarray]) -> None:
        bar.update(1)
        if pair.task in keep and (pair.dataset, pair.image) == first:
            for name, out in outputs.items():
                samples[name].append(Sample(pair.task, f"{pair.dataset}/{pair.image}", pair.lq, out, pair.gt))

    bar = tqdm(total=len(tasks) * len(gt), desc=progress if isinstance(progress, str) else "bench",
               unit="pair", disable=not progress, dynamic_ncols=True)
    try:
        means = mean_table(score_pairs(methods, pairs(), on_pair=after), by=("method", "task"))
    finally:
        bar.close()
    scores: dict[str, dict] = {name: {} for name in methods}
    for task in tasks:
        inputs = means[("input", task.id)]
        for name in methods:
            m = means[(name, task.id)]
            scores[name][task.id] = {"psnr": m["psnr"], "ssim": m["ssim"], "input_psnr": inputs["psnr"],
                                     "input_ssim": inputs["ssim"], "n": len(gt)}
    return scores, samples
