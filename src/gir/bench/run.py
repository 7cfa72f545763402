"""``gir bench run``: score one method on every task of a suite and every ground-truth image.

Protocol (shared with :mod:`gir.bench.lines`, so a model and the lines are measured the same way):

* Ground truth: the images of one or more clean folders, each centre-cropped to ``crop`` x ``crop`` pixels
  (:data:`DEFAULT_CROP`; 0 = whole images). A folder's name is its data set name.
* Input of (task, image): the task's recipe applied by :func:`gir.bench.suite.degrade_for_task` with the
  pair's own seed ``pair_seed(task.seed, "task<id>", data set, file name)``
  (:func:`gir.bench.evaluate.pair_seed`), quantised to 8 bits. Every method sees the same inputs in every
  run; different images get different noise/scratch realisations.
* Scores: PSNR and SSIM (:mod:`gir.metrics`: RGB, no border crop) of the clipped output against the ground
  truth, averaged over the images of the task. The degraded input is scored too (``input_psnr``).
* AR / ER (:mod:`gir.bench.scores`) from a lines file (PSNR lines; ties count as reached).

The default suite is built with the public seed :data:`DEFAULT_SUITE_SEED`: anyone can rebuild it, so its
random tasks (51-100) are public too. Someone who wants the paper's withheld random tasks builds a suite with a
private seed (``gir bench suite build --seed N``) and builds lines for it.

Outputs of :func:`run_bench` (see :mod:`gir.bench.report`): ``tasks.csv``, ``tasks.json``, ``summary.md``,
``psnr_per_task.png`` and ``html/index.html`` with JPEG crops.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

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
N_SAMPLES = 12  # tasks shown on the HTML page


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
                   f"`gir bench suite build --seed {DEFAULT_SUITE_SEED} --out DIR` and pass --suite DIR/suite.json")


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
    from gir.bench.evaluate import pair_seed
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


def sample_task_ids(ids: Sequence[int], n: int = N_SAMPLES) -> list[int]:
    """``n`` task ids spread evenly over ``ids`` (all of them when there are at most ``n``)."""
    ids = sorted(ids)
    if len(ids) <= n:
        return ids
    picks = np.linspace(0, len(ids) - 1, n).round().astype(int)
    return [ids[i] for i in sorted(set(picks.tolist()))]


def score_methods(methods: Mapping[str, Callable], tasks: Sequence, gt: Sequence[GroundTruth], *,
                  keep: Iterable[int] = (), progress: bool | str = False) -> tuple[dict[str, dict], dict[str, list]]:
    """Mean PSNR / SSIM of each ``method(lq, task)`` per task over ``gt``; all methods see the same inputs,
    each (task, image) degraded and scored once.

    Returns ``({method name: {task id: {"psnr", "ssim", "input_psnr", "input_ssim", "n"}}}, {method name:
    samples})``; samples hold the first image's (input, output, ground truth) for the task ids in ``keep``.
    ``progress``: a tqdm bar over the (task, image) pairs (a string labels it).
    """
    from tqdm.auto import tqdm

    from gir.metrics import psnr, score_restored, ssim

    if not gt:
        raise GirError("no ground-truth images to score on")
    keep = set(keep)
    bar = tqdm(total=len(tasks) * len(gt), desc=progress if isinstance(progress, str) else "bench",
               unit="pair", disable=not progress, dynamic_ncols=True)
    scores: dict[str, dict] = {name: {} for name in methods}
    samples: dict[str, list[Sample]] = {name: [] for name in methods}
    try:
        for task in tasks:
            inputs = {"input_psnr": [], "input_ssim": []}
            acc = {name: {"psnr": [], "ssim": []} for name in methods}
            for i, g in enumerate(gt):
                lq = degraded_input(task, g)
                inputs["input_psnr"].append(psnr(lq, g.img))
                inputs["input_ssim"].append(ssim(lq, g.img))
                for name, method in methods.items():
                    out = np.clip(np.asarray(method(lq, task), dtype=np.float32), 0.0, 1.0)
                    if out.shape != g.img.shape:
                        raise GirError(f"task {task.id}, {g.dataset}/{g.name}: {name} returned {out.shape}, "
                                       f"expected {g.img.shape}")
                    p, q = score_restored(out, g.img)
                    acc[name]["psnr"].append(p)
                    acc[name]["ssim"].append(q)
                    if i == 0 and task.id in keep:
                        samples[name].append(Sample(task.id, f"{g.dataset}/{g.name}", lq, out, g.img))
                bar.update(1)
            input_means = {k: float(np.mean(v)) for k, v in inputs.items()} | {"n": len(gt)}
            for name in methods:
                scores[name][task.id] = {k: float(np.mean(v)) for k, v in acc[name].items()} | input_means
    finally:
        bar.close()
    return scores, samples


# ------------------------------------------------------------------------------------------- command
@dataclass
class BenchResult:
    """What :func:`run_bench` measured and wrote."""

    out_dir: Path
    rows: list[dict]
    summary: dict
    notes: list[str]


def method_label(spec: str) -> str:
    """A short name for ``--model``: registered names as they are; a checkpoint by its file stem, prefixed
    with its run folder's name when it sits in a training run's ``models/`` folder."""
    from gir.bench.methods import METHODS

    if spec in METHODS:
        return spec
    path = Path(spec)
    if path.parent.name == "models" and path.parent.parent.name:
        return f"{path.parent.parent.name}-{path.stem}"
    return path.stem or str(spec)


def unique_labels(specs: Sequence[str]) -> list[str]:
    """:func:`method_label` of each spec, with ``-2``, ``-3``... added to repeats."""
    return dedupe([method_label(spec) for spec in specs])


def dedupe(labels: Sequence[str]) -> list[str]:
    """``labels`` with ``-2``, ``-3``... added to repeats."""
    out: list[str] = []
    for label in labels:
        name, n = label, 1
        while name in out:
            n += 1
            name = f"{label}-{n}"
        out.append(name)
    return out


def run_bench(model: str | Sequence[str], suite: str | Path | None = None,
              gt_dirs: Sequence[str | Path] | None = None, crop: int | None = DEFAULT_CROP,
              lines: str | Path | None = None, out_dir: str | Path | None = None, *,
              tasks: Sequence[int] | None = None, max_images: int | None = None, device: str = "auto",
              progress: bool = True) -> list[BenchResult]:
    """Evaluate one or several models (registered method names, shipped model names, checkpoint paths) on the
    suite; all of them see the same degraded inputs, made once.

    suite: suite JSON (default: the shipped default suite). gt_dirs: clean folders (default: kodak24 and
    cbsd68 under the shared data). crop: centre-crop side, 0/None = whole images. lines: a lines file from
    ``gir bench lines build`` (default: the shipped lines, with the default suite only); without one, AR/ER
    are n/a. tasks: only these task ids. max_images: per folder. One model: its report goes into ``out_dir``
    (default ``bench-runs/<label>``). Several: each into ``out_dir/<label>`` (default ``bench-runs/compare``),
    plus the side-by-side ``compare.md`` and ``psnr_per_task.png`` in ``out_dir``. Returns one
    :class:`BenchResult` per model, in order.
    """
    from gir.bench.lines import select_lines
    from gir.bench.methods import resolve_method
    from gir.bench.report import write_comparison, write_report

    specs = [model] if isinstance(model, (str, Path)) else [str(m) for m in model]
    if not specs:
        raise GirError("no model to evaluate")
    suite_path = resolve_suite(suite)
    task_list = load_tasks(suite_path, tasks)
    if lines is None and suite is None and DEFAULT_LINES_FILE.is_file():
        lines = DEFAULT_LINES_FILE
    dirs = resolve_gt_dirs(gt_dirs)
    gt = load_gt(dirs, crop, max_images)
    labels = unique_labels([str(s) for s in specs])
    methods = {label: resolve_method(spec, lines_dir=lines, device=device) for label, spec in zip(labels, specs)}
    single = len(specs) == 1
    root = Path(out_dir) if out_dir is not None else Path("bench-runs") / (labels[0] if single else "compare")

    suite_sha256 = file_sha256(suite_path)
    notes: list[str] = []
    line_set = None
    if lines is not None:
        line_set = select_lines(lines, suite_sha256, gt_digest(gt), crop or 0)
        notes += line_set.notes
    keep = sample_task_ids([t.id for t in task_list])
    desc = f"bench {', '.join(labels)}"
    scores, samples = score_methods(methods, task_list, gt, keep=keep, progress=desc if progress else False)
    run_meta = {"suite": str(suite_path), "suite_sha256": suite_sha256, "gt": [str(d) for d in dirs],
                "images": len(gt), "crop": crop or 0, "lines": str(lines) if lines else None, "tasks": len(task_list)}
    results = []
    for label, spec in zip(labels, specs):
        out = root if single else root / label
        rows, summary = write_report(out, {"model": str(spec), "label": label, **run_meta}, task_list, scores[label],
                                     line_set, samples[label], notes)
        results.append(BenchResult(out, rows, summary, notes))
    if not single:
        write_comparison(root, labels, results, run_meta)
    return results


def load_report(report_dir: str | Path) -> tuple[BenchResult, dict]:
    """A finished run's :class:`BenchResult` and meta, read back from its ``tasks.json``."""
    import json

    path = Path(report_dir) / "tasks.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return BenchResult(Path(report_dir), doc["tasks"], doc["summary"], doc.get("notes", [])), doc["meta"]
    except (OSError, ValueError, KeyError) as e:
        raise GirError(f"{path}: not a `gir bench run` report ({e})") from None


def compare_reports(report_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """``compare.md`` / ``compare.csv`` / ``psnr_per_task.png`` over runs made separately (e.g. on two
    machines, or a model trained later); they must cover the same suite, tasks, ground truth and crop."""
    from gir.bench.report import write_comparison

    loaded = [load_report(d) for d in report_dirs]
    (first, meta0), fields = loaded[0], ("suite_sha256", "gt", "images", "crop")
    for res, meta in loaded[1:]:
        if any(meta[f] != meta0[f] for f in fields) or [r["id"] for r in res.rows] != [r["id"] for r in first.rows]:
            raise GirError(f"{res.out_dir}: scored on another suite, task list, ground truth or crop than "
                           f"{first.out_dir}; such runs cannot be compared")
    labels = dedupe([meta["label"] for _, meta in loaded])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_comparison(out, labels, [res for res, _ in loaded], meta0)
