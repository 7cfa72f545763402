"""A batch of LQ/GT pairs (:func:`align_pairs`): each registered, cropped to the overlap and written, with a
report of every pair kept or rejected and why."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from gir.data.align.defaults import (DEFAULT_MAX_RESIDUAL, DEFAULT_MAX_SIDE, DEFAULT_MIN_CORRELATION,
                                     DEFAULT_MIN_OVERLAP, METHODS, MODELS)
from gir.data.align.estimate import estimate_transform
from gir.data.align.geometry import _round
from gir.data.align.verify import Alignment, warp_to
from gir.data.datasets import match_pairs
from gir.errors import ConfigError, GirError
from gir.io import atomic_write, read_image, write_image


@dataclass
class PairResult:
    """One pair of a batch: ``name`` is the file name written under OUT/lq and OUT/gt (when kept)."""

    name: str
    lq: str
    gt: str
    kept: bool = False
    why: str = ""
    alignment: Alignment | None = None
    frame_error: float | None = None
    size: tuple[int, int] | None = None  # (width, height) of the written crops

    def to_dict(self) -> dict:
        row = {"name": self.name, "lq": self.lq, "gt": self.gt, "kept": self.kept, "why": self.why}
        if self.frame_error is not None:
            row["frame_error_s"] = _round(self.frame_error, 6)
        if self.size is not None:
            row["width"], row["height"] = self.size
        if self.alignment is not None:
            detail = self.alignment.to_dict()
            for key in ("ok", "why"):
                detail.pop(key)
            row.update(detail)
        return row


@dataclass
class AlignReport:
    """What :func:`align_pairs` / :func:`align_frames` did: one :class:`PairResult` per pair, in order."""

    out_dir: Path
    settings: dict
    pairs: list[PairResult]
    unmatched: dict | None = None  # frame mode: {"lq": n, "gt": n} frames left without a partner

    @property
    def kept(self) -> list[PairResult]:
        return [p for p in self.pairs if p.kept]

    @property
    def rejected(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.kept]

    def to_dict(self) -> dict:
        out = {"settings": self.settings, "kept": len(self.kept), "rejected": len(self.rejected),
               "pairs": [p.to_dict() for p in self.pairs]}
        if self.unmatched is not None:
            out["unmatched_frames"] = self.unmatched
        return out

    def table(self) -> str:
        """A plain-text table: name, kept/rejected, dx, dy, rotation, scale, residual, correlation, why."""
        head = ("name", "status", "dx", "dy", "rot", "scale", "resid px", "corr", "why")
        rows = [head]
        for p in self.pairs:
            a = p.alignment
            if a is None:
                nums = ("-",) * 6
            else:
                q = a.params()
                nums = (f"{q['dx']:+.2f}", f"{q['dy']:+.2f}", f"{q['rotation']:+.3f}", f"{q['scale']:.4f}",
                        f"{a.residual:.3f}" if math.isfinite(a.residual) else "-", f"{a.correlation:.2f}")
            rows.append((p.name, "kept" if p.kept else "rejected", *nums, p.why))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
        lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 + "  " + r[-1] for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def summary(self) -> str:
        extra = ""
        if self.unmatched:
            extra = f"; frames without a partner: {self.unmatched['lq']} LQ, {self.unmatched['gt']} GT"
        return (f"kept {len(self.kept)} of {len(self.pairs)} pair(s), rejected {len(self.rejected)}{extra}; "
                f"wrote {self.out_dir / 'report.json'}")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if isinstance(e, GirError) and text else f"{type(e).__name__}: {text}".rstrip(": ")


def _check_folder(path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise GirError(f"{p}: {what} folder does not exist" if not p.exists() else f"{p}: {what} is not a folder")
    return p


def _prepare_out(out_dir, names: Sequence[str], overwrite: bool) -> Path:
    """Create OUT/lq and OUT/gt; refuse (GirError) when an output file exists and not ``overwrite``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GirError(f"{out}: exists and is not a folder")
    if not overwrite:
        planned = [out / "report.json", out / "report.txt"]
        planned += [out / sub / n for n in names for sub in ("lq", "gt")]
        existing = [p for p in planned if p.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise GirError(f"{existing[0]}: already exists{more}; pass overwrite=True (--overwrite) to replace")
    for sub in ("lq", "gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def _align_one(item: PairResult, out: Path, kwargs: dict) -> None:
    """Register, crop and write one pair (fills ``item``; exceptions propagate to the caller)."""
    lq_img, gt_img = read_image(item.lq), read_image(item.gt)
    a = estimate_transform(lq_img.rgb, gt_img.rgb, **kwargs)
    item.alignment = a
    if not a.ok:
        item.why = a.why
        return
    x, y, w, h = a.overlap
    lq_crop = warp_to(lq_img.rgb, a, gt_img.rgb.shape)[y:y + h, x:x + w]
    gt_crop = gt_img.rgb[y:y + h, x:x + w]
    write_image(out / "lq" / item.name, lq_crop, bit_depth=lq_img.bit_depth, gray=lq_img.gray)
    write_image(out / "gt" / item.name, gt_crop, bit_depth=gt_img.bit_depth, gray=gt_img.gray)
    item.kept, item.size = True, (w, h)


def _run_batch(items: list[PairResult], out_dir, overwrite: bool, settings: dict, kwargs: dict,
               unmatched: dict | None = None, log=None) -> AlignReport:
    out = _prepare_out(out_dir, [it.name for it in items], overwrite)
    for item in items:
        try:
            _align_one(item, out, kwargs)
        except Exception as e:  # noqa: BLE001 - one bad pair never stops the batch; the report says why
            item.kept, item.why = False, _one_line(e)
        if not item.kept:
            for sub in ("lq", "gt"):  # with overwrite, drop what an earlier run kept under this name
                (out / sub / item.name).unlink(missing_ok=True)
        if log is not None:
            log(f"{item.name}: {'kept' if item.kept else 'rejected: ' + item.why}")
    report = AlignReport(out, settings, items, unmatched)
    atomic_write(out / "report.json", json.dumps(report.to_dict(), indent=1) + "\n")
    atomic_write(out / "report.txt", report.table() + "\n\n" + report.summary() + "\n")
    return report


def _settings(model, method, max_residual, min_correlation, min_overlap, max_side) -> tuple[dict, dict]:
    if model not in MODELS:
        raise GirError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if method not in METHODS:
        raise GirError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not max_residual > 0:
        raise GirError(f"max_residual must be > 0 px, got {max_residual!r}")
    if not 0 <= min_overlap <= 1:
        raise GirError(f"min_overlap must be in [0, 1], got {min_overlap!r}")
    if int(max_side) < 64:
        raise GirError(f"max_side must be >= 64 px, got {max_side!r}")
    kwargs = {"model": model, "method": method, "max_residual": float(max_residual),
              "min_correlation": float(min_correlation), "min_overlap": float(min_overlap),
              "max_side": int(max_side)}
    return dict(kwargs), kwargs


def align_pairs(lq_dir, gt_dir, out_dir, model: str = "similarity", method: str = "auto",
                max_residual: float = DEFAULT_MAX_RESIDUAL, min_correlation: float = DEFAULT_MIN_CORRELATION,
                min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                overwrite: bool = False, log=None) -> AlignReport:
    """Register every LQ image of ``lq_dir`` to the GT of the same file stem in ``gt_dir`` and write the
    aligned crops.

    Files are paired by stem (:func:`gir.data.datasets.match_pairs`, the folders' own files, not
    sub-folders); a GT without an LQ is an error (GirError), an LQ without a GT is ignored. Each pair is
    registered by :func:`estimate_transform` (model, method and thresholds as there) and, when it passes,
    the LQ warped onto the GT grid and the GT are cropped to the overlap rectangle and written as PNG:
    ``OUT/lq/NAME`` and ``OUT/gt/NAME`` with NAME = the GT's stem + ".png", same size, 8 or 16 bits like
    the source (gray sources stay gray; alpha is dropped). ``OUT/report.json`` lists every pair (kept or
    rejected, why, dx/dy/rotation/scale, matrix, residual, correlation, overlap) and ``OUT/report.txt``
    holds :meth:`AlignReport.table` and the summary line.

    An unreadable or unregistrable pair is rejected with its reason; the batch goes on. Existing outputs
    are refused (GirError, before anything is written) unless ``overwrite``; with ``overwrite`` the outputs
    of pairs rejected now are removed, so the folder matches the report. Deterministic. ``log``: called
    with one line per pair. Raises GirError for missing folders, unpairable folders and bad settings.
    """
    settings, kwargs = _settings(model, method, max_residual, min_correlation, min_overlap, max_side)
    lq_root, gt_root = _check_folder(lq_dir, "LQ"), _check_folder(gt_dir, "GT")
    try:
        pairs = match_pairs(lq_root, gt_root, recursive=False, key="align")
    except ConfigError as e:
        raise GirError(f"cannot pair {lq_root} with {gt_root}: {e}") from None
    items = [PairResult(name=g.stem + ".png", lq=str(q), gt=str(g)) for q, g in pairs]
    settings.update(lq_dir=str(lq_root), gt_dir=str(gt_root), mode="pairs")
    return _run_batch(items, out_dir, overwrite, settings, kwargs, log=log)
