"""Frame folders (two videos' frames): frame times from a frame rate or a times file, one-to-one matching by
the smallest timing error, then the pairs' registration of :mod:`gir.data.align.pairs` (:func:`align_frames`)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from gir.data.align.defaults import (DEFAULT_MAX_RESIDUAL, DEFAULT_MAX_SIDE, DEFAULT_MIN_CORRELATION,
                                     DEFAULT_MIN_OVERLAP)
from gir.data.align.pairs import AlignReport, PairResult, _check_folder, _one_line, _run_batch, _settings
from gir.data.folders import IMAGE_SUFFIXES
from gir.errors import GirError


TIMES_FILES = ("times.txt", "times.csv")


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _parse_times(path: Path) -> list[tuple[Path, float]]:
    """Read ``filename time_seconds`` lines (whitespace or comma separated; '#' comments, a header line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GirError(f"{path}: cannot read ({_one_line(e)})") from None
    out: list[tuple[Path, float]] = []
    seen: set[str] = set()
    first = True
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header_allowed, first = first, False
        parts = [s.strip() for s in (line.rsplit(",", 1) if "," in line else line.rsplit(None, 1))]
        if len(parts) != 2 or not parts[0]:
            raise GirError(f"{path}:{number}: expected 'filename time_seconds', got {line!r}")
        try:
            t = float(parts[1])
        except ValueError:
            if header_allowed:  # e.g. "filename,time"
                continue
            raise GirError(f"{path}:{number}: {parts[1]!r} is not a time in seconds") from None
        if not math.isfinite(t):
            raise GirError(f"{path}:{number}: time {parts[1]!r} is not finite")
        frame = path.parent / parts[0]
        if not frame.is_file():
            raise GirError(f"{path}:{number}: frame file {frame} does not exist")
        if parts[0] in seen:
            raise GirError(f"{path}:{number}: frame {parts[0]} is listed twice")
        seen.add(parts[0])
        out.append((frame, t))
    if not out:
        raise GirError(f"{path}: lists no frames")
    return out


def read_frame_times(folder, fps: float | None = None) -> list[tuple[Path, float]]:
    """(frame file, time in seconds) of a frame folder, in time order.

    With ``fps``: the folder's images in natural name order (frame_2 before frame_10), frame k at k / fps.
    Without: the folder's ``times.txt`` or ``times.csv``, one ``filename time_seconds`` per line (whitespace
    or a comma between; blank lines, '#' comments and one header line are skipped; names are relative to
    the folder). Raises GirError for a missing folder, no frames, no fps and no times file, a bad line.
    """
    root = _check_folder(folder, "frame")
    if fps is not None:
        if not float(fps) > 0:
            raise GirError(f"{root}: fps must be > 0, got {fps!r}")
        files = _frame_files(root)
        if not files:
            raise GirError(f"{root}: no frame images")
        return [(p, k / float(fps)) for k, p in enumerate(files)]
    for name in TIMES_FILES:
        if (root / name).is_file():
            frames = _parse_times(root / name)
            return sorted(frames, key=lambda ft: ft[1])
    raise GirError(f"{root}: no {' or '.join(TIMES_FILES)} in the folder; give its frame rate (fps)")


def match_frames(lq_times: Sequence[float], gt_times: Sequence[float], max_error: float | None = None
                 ) -> list[tuple[int, int, float]]:
    """Pair LQ frames with GT frames by timing: a list of (i, j, |lq_times[i] - gt_times[j]|).

    Each LQ frame takes the GT frame nearest in time (ties: the earlier GT frame); when several LQ frames
    take the same GT frame, only the one with the smallest error keeps it (ties: the earlier LQ frame) and
    the others stay unmatched, so the pairing is one-to-one. Nearest-neighbour assignment of sorted times
    is non-decreasing, so the result is monotone: sorted by LQ time, GT times strictly increase. Pairs
    with an error over ``max_error`` (seconds) are dropped. Indices refer to the given sequences, which
    need not be sorted. O((n + m) log m), greedy (not a global optimum of the summed error).
    """
    lq = np.asarray(lq_times, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt_times, dtype=np.float64).reshape(-1)
    if lq.size == 0 or gt.size == 0:
        return []
    gt_order = np.argsort(gt, kind="stable")
    gt_sorted = gt[gt_order]
    best: dict[int, tuple[float, int]] = {}
    for i in np.argsort(lq, kind="stable"):
        k = int(np.searchsorted(gt_sorted, lq[i]))
        candidates = [c for c in (k - 1, k) if 0 <= c < gt_sorted.size]
        c = min(candidates, key=lambda c: (abs(gt_sorted[c] - lq[i]), c))
        err = abs(float(gt_sorted[c] - lq[i]))
        if max_error is not None and err > max_error:
            continue
        j = int(gt_order[c])
        if j not in best or err < best[j][0]:
            best[j] = (err, int(i))
    pairs = [(i, j, err) for j, (err, i) in best.items()]
    return sorted(pairs, key=lambda p: (lq[p[0]], p[0]))


def align_frames(lq_dir, gt_dir, out_dir, lq_fps: float | None = None, gt_fps: float | None = None,
                 max_frame_error: float | None = None, model: str = "similarity", method: str = "auto",
                 max_residual: float = DEFAULT_MAX_RESIDUAL, min_correlation: float = DEFAULT_MIN_CORRELATION,
                 min_overlap: float = DEFAULT_MIN_OVERLAP, max_side: int = DEFAULT_MAX_SIDE,
                 overwrite: bool = False, log=None) -> AlignReport:
    """:func:`align_pairs` for two frame folders (e.g. two videos' frames, synchronised on a marker).

    Frame times come from :func:`read_frame_times` (``lq_fps`` / ``gt_fps``, else each folder's times
    file), frames are paired by :func:`match_frames` (one-to-one, smallest timing error, at most
    ``max_frame_error`` seconds), and each matched pair is registered and written like a pair of
    :func:`align_pairs` under the GT frame's stem + ".png"; the report adds each pair's timing error and
    how many frames were left without a partner.
    """
    settings, kwargs = _settings(model, method, max_residual, min_correlation, min_overlap, max_side)
    if max_frame_error is not None and not max_frame_error >= 0:
        raise GirError(f"max_frame_error must be >= 0 seconds, got {max_frame_error!r}")
    lq = read_frame_times(lq_dir, lq_fps)
    gt = read_frame_times(gt_dir, gt_fps)
    matches = match_frames([t for _, t in lq], [t for _, t in gt], max_frame_error)
    names = [gt[j][0].stem + ".png" for _, j, _ in matches]
    if len(set(names)) != len(names):
        raise GirError(f"{gt_dir}: two GT frames share a file stem; rename them")
    items = [PairResult(name=n, lq=str(lq[i][0]), gt=str(gt[j][0]), frame_error=err)
             for n, (i, j, err) in zip(names, matches)]
    settings.update(lq_dir=str(lq_dir), gt_dir=str(gt_dir), mode="frames", lq_fps=lq_fps, gt_fps=gt_fps,
                    max_frame_error=max_frame_error)
    unmatched = {"lq": len(lq) - len(matches), "gt": len(gt) - len(matches)}
    return _run_batch(items, out_dir, overwrite, settings, kwargs, unmatched=unmatched, log=log)
