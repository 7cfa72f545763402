"""``gir bench real``: restore real degraded photos (no ground truth) and compare NIQE and BRISQUE before and
after.

Each photo is read, downscaled (area interpolation) so its longer side is at most ``max_side`` pixels (for
speed; 0 keeps it), restored by the method, and scored with NIQE (:func:`gir.metrics.niqe.niqe`, the
project's pristine model unless another is given; lower is better) and with BRISQUE
(:func:`gir.metrics.brisque.brisque`, a package's model, not the project's; lower is better; "n/a" without
``pip install 'gir[iqa]'``) before and after. Photos smaller than NIQE's minimum (two patches per side) are
kept with NIQE "n/a". Unreadable files are reported by name and skipped; the command then exits non-zero.

Output folder::

    <folder>/scores.csv, <folder>/scores.md   per photo: size, NIQE and BRISQUE before, after, change
    <folder>/sheet.jpg                        contact sheet: each photo before and after
    summary.csv, summary.md                   per folder and overall: photos, mean NIQE and BRISQUE
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from gir.batch import BatchReport
from gir.data.patches import fit_side  # noqa: F401  (also gir.bench.real.fit_side for the benchmarks)
from gir.errors import GirError
from gir.io import atomic_write

DEFAULT_MAX_SIDE = 512
SHEET_PHOTOS = 12  # photos per contact sheet (the first ones, by name)
THUMB_SIDE = 256


@dataclass
class PhotoScore:
    folder: str
    name: str
    width: int
    height: int
    niqe_before: float
    niqe_after: float
    brisque_before: float = math.nan
    brisque_after: float = math.nan


@dataclass
class RealResult:
    out_dir: Path
    scores: list[PhotoScore]
    report: BatchReport = field(default_factory=BatchReport)


def safe_niqe(img: np.ndarray, model=None) -> float:
    """NIQE, or NaN when the image is too small (or too flat) for it."""
    from gir.metrics.niqe import NiqeError, niqe

    try:
        return niqe(img, model)
    except NiqeError:
        return math.nan


def safe_brisque(img: np.ndarray) -> float:
    """BRISQUE, or NaN without the package (or for an image too small for it)."""
    from gir.metrics.brisque import brisque

    try:
        return brisque(img)
    except GirError:
        return math.nan


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def _mean(values: Sequence[float]) -> float:
    ok = [v for v in values if math.isfinite(v)]
    return float(np.mean(ok)) if ok else math.nan


def _thumb(img: np.ndarray) -> np.ndarray:
    return fit_side(img, THUMB_SIDE)


def photo_table(scores: Sequence[PhotoScore]) -> tuple[str, str]:
    """(CSV, Markdown) per photo: name, size, NIQE and BRISQUE before / after / after - before."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "width", "height", "niqe_before", "niqe_after", "change", "brisque_before",
                "brisque_after", "brisque_change"])
    md = ["| photo | size | NIQE before | NIQE after | change | BRISQUE before | BRISQUE after | change |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        cells = [_fmt(v) for v in (s.niqe_before, s.niqe_after, s.niqe_after - s.niqe_before, s.brisque_before,
                                   s.brisque_after, s.brisque_after - s.brisque_before)]
        w.writerow([s.name, s.width, s.height, *cells])
        md.append(f"| {s.name} | {s.width}x{s.height} | " + " | ".join(cells) + " |")
    return buf.getvalue(), "\n".join(md) + "\n"


def summary_table(by_folder: dict[str, list[PhotoScore]], model: str, max_side: int | None,
                  failures: Sequence[str]) -> tuple[str, str]:
    """(CSV, Markdown) per folder and overall: photos scored, mean NIQE and BRISQUE before and after (n/a values
    left out)."""
    groups = {**by_folder, "all": [s for v in by_folder.values() for s in v]}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["folder", "photos", "niqe_before", "niqe_after", "brisque_before", "brisque_after"])
    md = [f"# Real photos: NIQE and BRISQUE before / after `{model}`", "",
          (f"Photos downscaled to at most {max_side} px on the longer side" if max_side else "Photos at full size")
          + "; NIQE (project pristine model) and BRISQUE (the `brisque` package's model), lower is better; means "
          "over photos large enough for each (n/a: none, or BRISQUE not installed).", "",
          "| folder | photos | NIQE before | NIQE after | BRISQUE before | BRISQUE after |",
          "|---|---:|---:|---:|---:|---:|"]
    for name, scores in groups.items():
        cells = [_fmt(_mean([getattr(s, k) for s in scores]))
                 for k in ("niqe_before", "niqe_after", "brisque_before", "brisque_after")]
        w.writerow([name, len(scores), *cells])
        label = f"**{name}**" if name == "all" else name
        md.append(f"| {label} | {len(scores)} | " + " | ".join(cells) + " |")
    if failures:
        md += ["", "Skipped (unreadable):", ""] + [f"- {f}" for f in failures]
    return buf.getvalue(), "\n".join(md) + "\n"


def _folder_names(dirs: Sequence[Path]) -> list[str]:
    names, seen = [], {}
    for d in dirs:
        base = d.name or "photos"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def bench_real(model: str, dirs: Sequence[str | Path], out_dir: str | Path, *, max_side: int | None = DEFAULT_MAX_SIDE,
               device: str = "auto", niqe_model: str | Path | None = None, progress: bool = True) -> RealResult:
    """Restore every photo under ``dirs`` with ``model`` (a model name/path or ``identity``) and write the
    NIQE tables and contact sheets into ``out_dir``. Unreadable files land in the returned report."""
    from tqdm.auto import tqdm

    from gir.batch import expand_inputs
    from gir.bench.methods import resolve_method
    from gir.io import read_rgb, write_image
    from gir.metrics.niqe import load_pristine
    from gir.viz import contact_sheet, wrap_label

    if not dirs:
        raise GirError("give at least one folder of real photos (--dir DIR)")
    method = resolve_method(model, device=device)
    pristine = load_pristine(niqe_model) if niqe_model else None
    out_dir = Path(out_dir)
    result = RealResult(out_dir, [])
    by_folder: dict[str, list[PhotoScore]] = {}
    folders = [Path(d) for d in dirs]
    for folder, name in zip(folders, _folder_names(folders)):
        paths, problems = expand_inputs([str(folder)])
        for p in problems:
            result.report.fail(p)
        scores, tiles, labels = [], [], []
        for path in tqdm(paths, desc=f"real {name}", unit="img", disable=not progress, dynamic_ncols=True):
            try:
                img = fit_side(read_rgb(path), max_side)
            except (GirError, OSError, ValueError) as e:
                result.report.fail(str(e) if str(e).startswith(str(path)) else f"{path}: {e}")
                continue
            out = np.clip(method(img, None), 0, 1).astype(np.float32)
            s = PhotoScore(name, path.name, img.shape[1], img.shape[0], safe_niqe(img, pristine),
                           safe_niqe(out, pristine), safe_brisque(img), safe_brisque(out))
            scores.append(s)
            result.report.done += 1
            if len(tiles) < 2 * SHEET_PHOTOS:
                tiles += [_thumb(img), _thumb(out)]
                labels += [wrap_label(f"{path.name} before NIQE {_fmt(s.niqe_before)}", 40),
                           f"after NIQE {_fmt(s.niqe_after)}"]
        by_folder[name] = scores
        result.scores += scores
        sub = out_dir / name
        sub.mkdir(parents=True, exist_ok=True)
        csv_text, md_text = photo_table(scores)
        atomic_write(sub / "scores.csv", csv_text)
        atomic_write(sub / "scores.md", f"# {name}: NIQE and BRISQUE before / after `{model}`\n\n" + md_text)
        if tiles:
            sheet = contact_sheet(tiles, labels, cols=4)
            write_image(sub / "sheet.jpg", sheet.astype(np.float32) / 255.0, quality=90)
    csv_text, md_text = summary_table(by_folder, str(model), max_side, result.report.failures)
    atomic_write(out_dir / "summary.csv", csv_text)
    atomic_write(out_dir / "summary.md", md_text)
    return result
