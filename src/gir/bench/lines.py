"""``gir bench lines build``: the acceptance and excellence lines of every suite task (paper 000, eqs. 5-6).

For each task, two networks are trained on that task alone with the project's training engine
(:func:`gir.training.run`) and scored on the suite's ground truth exactly as ``gir bench run`` scores a model
(:func:`gir.bench.protocol.score_methods`):

* acceptance line: SRCNN, preset ``small`` (the 3-layer 9-5-5 CNN);
* excellence line: the deep residual network ``resnet``, preset ``small``.

Training data: the clean images of ``train_roots`` (default ``<shared data>/train``), random patches degraded
by the task's fixed recipe (its exact ops and strengths; a fresh degradation seed per patch). The engine's
``single`` mode holds one op only, so every task, single or chain, is trained in ``mix`` mode with the task's
recipe as the one task. The run seed is the task's seed, so both lines of a task see the same patches.

Budget (fixed, the same for every task and both lines): :data:`ITERATIONS` iterations of :data:`BATCH_SIZE`
patches of :data:`PATCH_SIZE` px, Adam at :data:`LEARNING_RATE` with a :data:`WARMUP`-iteration warm-up then
cosine decay, L1 loss, no EMA (the final weights are scored). Sized for the 2-core CPU of this project
(torch 2.13 CPU), measured 2026-11-22:

* one build process, 2 threads, idle machine: 400 iterations take ~26 s (SRCNN) and ~22 s (ResNet);
* as the default lines were built: two processes of one thread each filling one folder
  (``OMP_NUM_THREADS=1 gir bench lines build -o DIR --tasks 1-50`` and ``--tasks 51-100``; records are
  appended under a file lock): ~2 min per task per process, training plus scoring both networks on the
  default ground truth (kodak24 + cbsd68, 92 images, 256-px crops), so all 100 tasks in about 1.9 h.

What the budget buys (tasks 2 and 3 on 8 images): blur, input 24.25 dB: acceptance / excellence 25.03 /
26.68 dB at 400 iterations, 26.63 / 27.53 dB at 1500; noise sigma 20, input 22.33 dB: 28.77 / 30.41 dB at
400. The lines are therefore lower bounds of what these networks reach with a long schedule (the paper trains
them to convergence), the acceptance line most of all: on 19 of the default suite's 100 tasks (mild ones: JPEG,
ringing, weak noise) SRCNN's second-layer ReLUs die in the first ~10 Adam steps (its zero-initialised last
conv makes the first step move the output coherently), so it stays the identity and its line equals the
input's PSNR (see benchmarks/RESULTS.md). A GPU affords more; change the budget with
``--iterations``/``--batch-size``/``--patch-size`` (a new provenance key).

Output folder::

    lines.jsonl                  one JSON record per task (see :func:`task_record`), appended as tasks finish
    runs/<key>/task-NNN-<line>/  the engine's run folders (weights in models/net_latest.safetensors)

``<key>`` is the provenance key (:func:`provenance_key`): suite file hash, ground-truth pixels, crop, training
roots and budget. A task whose record with the same key is already in ``lines.jsonl`` is skipped, and an
interrupted training run is resumed, so the command can be stopped and restarted at any time.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from gir.bench.protocol import (DEFAULT_CROP, GroundTruth, file_sha256, gt_digest, load_gt, load_tasks,
                                resolve_gt_dirs, resolve_suite, score_methods, shared_data)
from gir.errors import GirError
from gir.io import atomic_write
from gir.training import train_in

LINES_FILE = "lines.jsonl"
ITERATIONS = 400
BATCH_SIZE = 8
PATCH_SIZE = 48
LEARNING_RATE = 1e-3
WARMUP = 10
ARCHS = {"acceptance": {"type": "srcnn", "preset": "small"},
         "excellence": {"type": "resnet", "preset": "small"}}
LINE_NAMES = tuple(ARCHS)


@dataclass(frozen=True)
class Budget:
    """Training budget of every line network (the module constants by default; tests use tiny ones)."""

    iterations: int = ITERATIONS
    batch_size: int = BATCH_SIZE
    patch_size: int = PATCH_SIZE
    lr: float = LEARNING_RATE
    warmup: int = WARMUP


# ------------------------------------------------------------------------------------------ records
def read_lines(path: str | Path) -> list[dict]:
    """The records of a lines file, in file order. A missing file gives []; a malformed line raises GirError."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise GirError(f"{path}:{n}: not a JSON record ({e})") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("task"), int) or "key" not in rec:
            raise GirError(f"{path}:{n}: not a lines record (needs 'task' and 'key')")
        out.append(rec)
    return out


def lines_file(path: str | Path) -> Path:
    """A lines file given as itself or as the folder holding ``lines.jsonl``."""
    path = Path(path)
    return path / LINES_FILE if path.is_dir() else path


def append_record(path: Path, record: dict) -> None:
    """Add one record to the lines file, rewriting it atomically (never a half-written line) under an
    exclusive lock, so several ``lines build`` processes (``--tasks`` shares) can fill one folder."""
    with _locked(path.with_name(path.name + ".lock")):
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        atomic_write(path, old + json.dumps(record, sort_keys=True, allow_nan=True) + "\n")


@contextmanager
def _locked(lock_path: Path):
    """An exclusive advisory lock on ``lock_path`` (POSIX ``flock``; no lock where that is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: one process per folder
        yield
        return
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def provenance_key(prov: dict) -> str:
    """16 hex digits identifying what makes line values comparable (not the date, device or code version)."""
    keyed = {k: prov[k] for k in ("suite_sha256", "gt_sha256", "crop", "train_roots", "max_train_images",
                                  "budget", "archs", "data_mode")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


def code_version() -> str:
    """``gir <version>`` plus the git commit of the checkout the package runs from, when there is one."""
    import gir

    version = f"gir {gir.__version__}"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(gir.__file__).parent,
                                capture_output=True, text=True, timeout=10)
        if commit.returncode == 0 and commit.stdout.strip():
            version += f" ({commit.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


# -------------------------------------------------------------------------------------- using lines
@dataclass
class LineSet:
    """PSNR/SSIM lines per task id (``{"psnr", "ssim"}`` dicts), their provenance and notes for the report."""

    acceptance: dict[int, dict]
    excellence: dict[int, dict]
    provenance: dict
    notes: list[str] = field(default_factory=list)


def _latest_per_task(records: list[dict]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for r in records:
        out[r["task"]] = r
    return out


def select_lines(path: str | Path, suite_sha256: str, gt_sha256: str | None = None,
                 crop: int | None = None) -> LineSet:
    """The lines of ``path`` for the suite with hash ``suite_sha256``.

    Records measured on the given ground truth and crop are preferred; otherwise the most recent set is used
    and a note says the lines were measured on other images. GirError when no record belongs to the suite.
    """
    path = lines_file(path)
    records = read_lines(path)
    if not records:
        raise GirError(f"{path}: no lines records (build them with `gir bench lines build`)")
    mine = [r for r in records if r.get("provenance", {}).get("suite_sha256") == suite_sha256]
    if not mine:
        raise GirError(f"{path}: these lines were built for another suite (suite file hash differs)")
    same = [r for r in mine if r["provenance"].get("gt_sha256") == gt_sha256 and r["provenance"].get("crop") == crop]
    notes = []
    if same:
        chosen_key = same[-1]["key"]
    else:
        chosen_key = mine[-1]["key"]
        p = mine[-1]["provenance"]
        notes.append(f"the lines were measured on other ground truth or crop ({', '.join(p.get('gt', []))}, "
                     f"crop {p.get('crop')}); AR/ER compare scores on different images")
    chosen = _latest_per_task([r for r in mine if r["key"] == chosen_key])
    acc = {tid: {m: r["acceptance"][m] for m in ("psnr", "ssim")} for tid, r in chosen.items()}
    exc = {tid: {m: r["excellence"][m] for m in ("psnr", "ssim")} for tid, r in chosen.items()}
    prov = next(iter(chosen.values()))["provenance"]
    return LineSet(acc, exc, prov, notes)


def single_task_nets(path: str | Path, line: str = "excellence") -> dict[str, Path]:
    """op name -> checkpoint of the ``line`` network of each single-op task of the ``single`` group (ids
    1-10 of a GIR suite), from the most recent records of the lines file. Missing files are left out."""
    path = lines_file(path)
    out: dict[str, Path] = {}
    for r in _latest_per_task(read_lines(path)).values():
        ckpt = _checkpoint(path.parent, r, line)
        if _single_op(r) and ckpt is not None:
            out[r["recipe"][0]["op"]] = ckpt
    return out


def _single_op(record: dict) -> bool:
    return record.get("group") == "single" and record.get("order") == 1


def _checkpoint(base: Path, record: dict, line: str) -> Path | None:
    """The existing network file of ``record``'s ``line`` (paths are relative to the lines file), or None."""
    rel = record[line].get("checkpoint")
    return base / rel if rel and (base / rel).is_file() else None


def export_lines(src: str | Path, dest: str | Path) -> Path:
    """Copy the newest complete set of lines in ``src`` (a lines folder or file) to the file ``dest`` for
    shipping: one record per task (the most recent provenance key only), with the excellence networks of the
    single-op tasks (what ``step-by-step`` needs) exported, weights only, into the folder ``<dest stem>/``
    beside it. Other records' checkpoint fields become null: those networks stay in ``src``."""
    from gir.models.checkpoint import export_weights

    src_file, dest = lines_file(src), Path(dest)
    records = read_lines(src_file)
    if not records:
        raise GirError(f"{src_file}: no lines to export")
    key = records[-1]["key"]
    chosen = sorted(_latest_per_task([r for r in records if r["key"] == key]).values(), key=lambda r: r["task"])
    net_dir = dest.with_suffix("")
    net_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for r in chosen:
        r = json.loads(json.dumps(r))
        for line in LINE_NAMES:
            ckpt = _checkpoint(src_file.parent, r, line)
            if line == "excellence" and _single_op(r) and ckpt is not None:
                name = f"task-{r['task']:03d}-{line}.safetensors"
                export_weights(ckpt, net_dir / name, key="params")
                r[line]["checkpoint"] = f"{net_dir.name}/{name}"
            else:
                r[line]["checkpoint"] = None
        out.append(json.dumps(r, sort_keys=True, allow_nan=True))
    atomic_write(dest, "\n".join(out) + "\n")
    return dest


# ---------------------------------------------------------------------------------------- building
def train_config(task, line: str, budget: Budget, train_roots: Sequence[Path], device: str = "auto",
                 max_train_images: int | None = None) -> dict:
    """The engine config that trains ``line``'s network on ``task`` alone (see the module docstring)."""
    from gir.degradations import Recipe

    text = task.recipe.to_text()
    if Recipe.parse(text).steps != task.recipe.steps:
        raise GirError(f"task {task.id}: its recipe does not survive the text form ({text}); cannot train on it")
    from gir.training.config import budgeted_run

    return budgeted_run(f"lines-task{task.id:03d}-{line}", task.seed, ARCHS[line], train_roots, max_train_images,
                        [{"recipe": text, "name": f"task{task.id}"}], {"roots": []}, budget, device)


def train_line(cfg: dict, run_dir: Path) -> Path:
    """Train (or resume, or find finished) the run in ``run_dir``; returns its final weights file."""
    return train_in(run_dir, cfg)


def task_record(task, scores: dict[str, dict], checkpoints: dict[str, str], seconds: dict[str, float],
                key: str, provenance: dict) -> dict:
    """One ``lines.jsonl`` record: task fields, ``input``/``acceptance``/``excellence`` scores (PSNR dB, SSIM;
    means over the ground truth), each line's checkpoint (relative to the lines folder) and train seconds."""
    first = next(iter(scores.values()))
    rec = {"task": task.id, "group": task.group, "order": task.order, "text": task.text,
           "recipe": [{"op": s.op, "params": dict(s.params)} for s in task.recipe.steps],
           "input": {"psnr": first["input_psnr"], "ssim": first["input_ssim"], "n": first["n"]}}
    for line in LINE_NAMES:
        rec[line] = {"psnr": scores[line]["psnr"], "ssim": scores[line]["ssim"], "checkpoint": checkpoints[line],
                     "train_seconds": round(seconds[line], 2)}
    rec["key"] = key
    rec["provenance"] = provenance
    return rec


def build_task(task, gt: Sequence[GroundTruth], out_dir: Path, key: str, provenance: dict, budget: Budget,
               train_roots: Sequence[Path], device: str, max_train_images: int | None) -> dict:
    """Train and score both lines of one task; returns its record."""
    from gir.restore.engine import Restorer

    nets, ckpts, secs = {}, {}, {}
    for line in LINE_NAMES:
        run_dir = out_dir / "runs" / key / f"task-{task.id:03d}-{line}"
        t0 = time.perf_counter()
        ckpt = train_line(train_config(task, line, budget, train_roots, device, max_train_images), run_dir)
        secs[line] = time.perf_counter() - t0
        net = Restorer(str(ckpt), device=device, tile=0, impulse_repair=False)  # the net alone
        nets[line] = lambda lq, _task, net=net: net(lq)
        ckpts[line] = ckpt.relative_to(out_dir).as_posix()
    scores = {line: per_task[task.id] for line, per_task in score_methods(nets, [task], gt)[0].items()}
    return task_record(task, scores, ckpts, secs, key, provenance)


def build_lines(out_dir: str | Path, suite: str | Path | None = None, gt_dirs: Sequence[str | Path] | None = None,
                crop: int | None = DEFAULT_CROP, train_roots: Sequence[str | Path] | None = None, *,
                budget: Budget = Budget(), tasks: Sequence[int] | None = None, max_images: int | None = None,
                max_train_images: int | None = None, device: str = "auto", progress: bool = True) -> Path:
    """Train and score the lines of every suite task (or of ``tasks``) into ``out_dir/lines.jsonl``.

    suite: suite JSON (default: the shipped default suite). gt_dirs / crop / max_images: the ground truth as
    ``gir bench run`` takes it. train_roots: clean training folders (default ``<shared data>/train``).
    Tasks already recorded with the same provenance key are skipped; one task at a time, each record appended
    as soon as the task is done. Returns the lines file.
    """
    from tqdm.auto import tqdm

    suite_path = resolve_suite(suite)
    task_list = load_tasks(suite_path, tasks)
    dirs = resolve_gt_dirs(gt_dirs)
    gt = load_gt(dirs, crop, max_images)
    roots = [Path(r).resolve() for r in (train_roots or [shared_data() / "train"])]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise GirError(f"training folder(s) not found: {', '.join(missing)} (give --train DIR)")
    prov = {"suite": str(suite_path), "suite_sha256": file_sha256(suite_path), "gt": [str(d) for d in dirs],
            "gt_images": len(gt), "gt_sha256": gt_digest(gt), "crop": crop or 0,
            "train_roots": [str(r) for r in roots], "max_train_images": max_train_images,
            "budget": asdict(budget), "archs": ARCHS, "data_mode": "mix (the task's recipe alone)",
            "optimizer": "adam, cosine, L1, no EMA", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": code_version(), "device": device}
    key = provenance_key(prov)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LINES_FILE
    done = {r["task"] for r in read_lines(path) if r["key"] == key}
    todo = [t for t in task_list if t.id not in done]
    bar = tqdm(todo, desc="lines", unit="task", disable=not progress, dynamic_ncols=True)
    for task in bar:
        bar.set_postfix_str(f"task {task.id}: {task.text[:40]}")
        append_record(path, build_task(task, gt, out_dir, key, prov, budget, roots, device, max_train_images))
    bar.close()
    return path
