"""``gir bench run``: score one or several methods on every task of a suite and every ground-truth image, and
write the report.

The protocol (ground truth, degraded inputs, scores) is :mod:`gir.bench.protocol`, shared with the lines
(:mod:`gir.bench.lines`); AR / ER (:mod:`gir.bench.scores`) come from a lines file (PSNR lines; ties count as
reached).

Outputs of :func:`run_bench` (see :mod:`gir.bench.report`): ``tasks.csv``, ``tasks.json``, ``summary.md``,
``psnr_per_task.png`` and ``html/index.html`` with JPEG crops.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from gir.bench.lines import select_lines
from gir.bench.methods import METHODS, resolve_method
from gir.bench.protocol import (DEFAULT_CROP, DEFAULT_LINES_FILE, file_sha256, gt_digest, load_gt, load_tasks,
                                resolve_gt_dirs, resolve_suite, score_methods)
# the protocol's names that tests and benchmark scripts import from here
from gir.bench.protocol import (DEFAULT_SUITE_FILE, DEFAULT_SUITE_SEED, degraded_input,  # noqa: F401
                                parse_task_ids, shared_data)
from gir.bench.report import write_comparison, write_report, write_steps
from gir.errors import GirError

N_SAMPLES = 12  # tasks shown on the HTML page


# --------------------------------------------------------------------------------------- samples
def sample_task_ids(ids: Sequence[int], n: int = N_SAMPLES) -> list[int]:
    """``n`` task ids spread evenly over ``ids`` (all of them when there are at most ``n``)."""
    ids = sorted(ids)
    if len(ids) <= n:
        return ids
    picks = np.linspace(0, len(ids) - 1, n).round().astype(int)
    return [ids[i] for i in sorted(set(picks.tolist()))]


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
        if getattr(methods[label], "steps", None):
            write_steps(out, task_list, methods[label].steps)
        results.append(BenchResult(out, rows, summary, notes))
    if not single:
        write_comparison(root, labels, results, run_meta)
    return results


def load_report(report_dir: str | Path) -> tuple[BenchResult, dict]:
    """A finished run's :class:`BenchResult` and meta, read back from its ``tasks.json``."""
    path = Path(report_dir) / "tasks.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return BenchResult(Path(report_dir), doc["tasks"], doc["summary"], doc.get("notes", [])), doc["meta"]
    except (OSError, ValueError, KeyError) as e:
        raise GirError(f"{path}: not a `gir bench run` report ({e})") from None


def compare_reports(report_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """``compare.md`` / ``compare.csv`` / ``psnr_per_task.png`` over runs made separately (e.g. on two
    machines, or a model trained later); they must cover the same suite, tasks, ground truth and crop."""
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
