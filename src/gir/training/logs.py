"""Run-folder outputs besides weights: ``metrics.jsonl`` (one JSON record per line) and ``curves.png``.

Records: ``{"type": "train", "iter", "loss", "terms", "lr", "it_s", "img_s", "tasks", "time"}`` every log
interval, ``{"type": "val", "iter", "psnr", "ssim", "tasks": {name: {"psnr", "ssim", "n"}}}`` at each
validation, and ``{"type": "end", ...}`` when a session ends.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gir.io import write_figure


class MetricsLog:
    """Appends records to ``path``; a resumed run first drops records past the iteration it resumes from."""

    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")

    def truncate_after(self, iteration: int) -> None:
        """Keep only records of iterations <= ``iteration`` (all records when 0 removes the file)."""
        if not self.enabled or not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if r.get("iter", 0) <= iteration]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics file (a torn last line, from a killed run, is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _smooth(values: list[float], n: int) -> list[float]:
    """Trailing moving average over up to ``n`` values."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def plot_curves(metrics_path: str | Path, out_path: str | Path, title: str = "") -> Path:
    """Training loss (log scale, with a moving average) and validation PSNR (mean and per task) vs
    iteration, as a PNG. Uses matplotlib's Agg canvas directly (no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recs = read_metrics(metrics_path) if Path(metrics_path).exists() else []
    train = [r for r in recs if r.get("type") == "train" and _finite(r.get("loss"))]
    val = [r for r in recs if r.get("type") == "val"]
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    if train:
        it = [r["iter"] for r in train]
        loss = [r["loss"] for r in train]
        ax1.plot(it, loss, color="tab:blue", alpha=0.35, lw=1, label="loss")
        ax1.plot(it, _smooth(loss, 10), color="tab:blue", lw=2, label="moving average")
        if all(v > 0 for v in loss):
            ax1.set_yscale("log")
        ax1.legend(loc="upper right", fontsize=8)
    ax1.set(xlabel="iteration", ylabel="training loss", title="loss")
    ax1.grid(alpha=0.3)
    metric = val[-1].get("score_name", "psnr") if val else "psnr"  # the objective's score (records say)
    if val:
        it = [r["iter"] for r in val]
        tasks = sorted({t for r in val for t in r.get("tasks", {})})
        if len(tasks) > 1:
            for t in tasks[:12]:
                pts = [(r["iter"], r["tasks"][t][metric]) for r in val if metric in r.get("tasks", {}).get(t, {})]
                if pts:
                    ax2.plot(*zip(*pts), lw=1, alpha=0.7, label=t[:40])
        ax2.plot(it, [r.get("score", r.get("psnr")) for r in val], color="black", lw=2, marker="o", ms=3,
                 label="mean")
        ax2.legend(loc="lower right", fontsize=7)
    ax2.set(xlabel="iteration", ylabel="PSNR (dB)" if metric == "psnr" else metric, title="validation")
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return write_figure(fig, out_path)  # readers never see a half-written file


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
