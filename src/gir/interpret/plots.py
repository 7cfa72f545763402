"""Figures of the interpretation tools, drawn on matplotlib's Agg canvas (no pyplot, no global backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from gir.errors import GirError
from gir.io import write_figure


def tsne_plot(embedding: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Scatter of an N x 2 ``embedding``, one colour per label (in order of first appearance) with a legend;
    written as PNG to ``path`` (parent folders created; written to a temporary name and moved into place).
    Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    emb = np.asarray(embedding, dtype=np.float64)
    labels = [str(l) for l in labels]
    if emb.ndim != 2 or emb.shape[1] != 2 or emb.shape[0] != len(labels):
        raise GirError(f"tsne_plot needs an N x 2 embedding and N labels, got {emb.shape} and {len(labels)}")
    order = list(dict.fromkeys(labels))
    fig = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    colours = _colours(len(order))
    y = np.asarray(labels)
    for colour, name in zip(colours, order):
        pts = emb[y == name]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=colour, alpha=0.8, edgecolors="none", label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize=8, markerscale=1.5, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path, format="png")


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
