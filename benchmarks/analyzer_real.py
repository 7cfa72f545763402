"""The analyzer's verdict on real degraded photos (no ground truth): a Markdown table and contact sheets to
read it against the photos.

    python benchmarks/analyzer_real.py                       # ../shared/data/real, shipped analyzer
    python benchmarks/analyzer_real.py --sheets docs/analysis/real --append benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.analysis.analyze import CROPS, get_analyzer
from gir.batch import expand_inputs

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def sheet(entries: list[tuple[str, np.ndarray, str]], path: Path, cols: int = 4, side: int = 256) -> None:
    """A grid of thumbnails (long side ``side``) with the file name and verdict under each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-len(entries) // cols)
    fig = Figure(figsize=(cols * 3.2, rows * 3.5), dpi=100)
    FigureCanvasAgg(fig)
    for i, (name, rgb, verdict) in enumerate(entries):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(np.clip(rgb, 0, 1))
        ax.set_axis_off()
        ax.set_title(name, fontsize=8)
        ax.text(0.5, -0.04, verdict.replace("; ", "\n"), transform=ax.transAxes, ha="center", va="top", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    from gir.io import read_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=REAL)
    ap.add_argument("--weights")
    ap.add_argument("--crops", type=int, default=CROPS)
    ap.add_argument("--sheets", type=Path, help="folder for one contact sheet per subfolder (PNG)")
    ap.add_argument("--append")
    args = ap.parse_args()
    analyzer = get_analyzer(args.weights, "cpu", args.crops)
    files, problems = expand_inputs([str(args.dir)])
    lines = [f"Analyzer on real photos ({args.dir.name}/, {len(files)} files), {datetime.now():%Y-%m-%d}, "
             f"{platform.machine()}, weights `{analyzer.path.name}`. Detected = p >= 0.5.", "",
             "| photo | size | clean | detected (p, strength) | next most likely |", "|---|---|---:|---|---|"]
    by_folder: dict[str, list] = {}
    t_total = 0.0
    for path in files:
        img = read_image(path)
        t0 = time.perf_counter()
        d = analyzer(str(path))
        t_total += time.perf_counter() - t0
        found = d.detected()
        rest = sorted(((f.p, n) for n, f in d.findings.items() if n not in found), reverse=True)[:2]
        name = f"{path.parent.name}/{path.name}"
        lines.append(f"| {name} | {d.size[1]}x{d.size[0]} | {d.clean:.2f} | {d.verdict() if found else '-'} | "
                     + ", ".join(f"{n} {p:.2f}" for p, n in rest) + " |")
        small = img.rgb[:: max(1, max(img.rgb.shape[:2]) // 256), :: max(1, max(img.rgb.shape[:2]) // 256)]
        by_folder.setdefault(path.parent.name, []).append((path.name, small, d.verdict()))
    lines.append("")
    lines.append(f"{len(files)} photos analysed in {t_total:.1f} s.")
    if problems:
        lines.append("Not read: " + "; ".join(problems))
    if args.sheets:
        for folder, entries in by_folder.items():
            sheet(entries, args.sheets / f"{folder}.jpg")
    emit("\n".join(lines), args.append)


if __name__ == "__main__":
    main()
