"""Hard clean examples for the analyzer: windows of clean training photos that it reads as degraded.

The analyzer is trained on random crops, most of them easy: a clean sky or wall says clean at once. The crops
it gets wrong are rarer, and on held-out photos they are the ones that cost most: dense texture (grass,
gravel, fur) read as noise, which the denoiser then erases, or blades of grass read as scratches. Hard example
mining gives those more weight: :func:`mine` reads every ``window``-px window of each photo (a grid with
stride ``window``), and each window where a family of ``families`` reaches ``threshold`` is written out, with
``margin`` px of context on each side, as a PNG in ``out``. A training config then draws clean patches from
that folder as well as from the photos (``mode: clean`` with ``roots``), with the same crops under noise
beside them so that the network still learns what noise on texture looks like.

    python -m gir.training.hard_clean ../shared/data/train -o runs/hard_clean

Deterministic: the same photos and analyzer give the same files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

FAMILIES_MINED = ("noise", "damage")


def windows(h: int, w: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of the ``size``-px windows on a grid of stride ``size`` over an H x W photo (the last row
    and column flush with the edges); [] for a photo smaller than a window."""
    if h < size or w < size:
        return []
    ys = sorted({*range(0, h - size + 1, size), h - size})
    xs = sorted({*range(0, w - size + 1, size), w - size})
    return [(y, x) for y in ys for x in xs]


def window_probabilities(analyzer, rgb: np.ndarray, corners, size: int) -> np.ndarray:
    """Calibrated probabilities (N x families + clean) of the windows at ``corners``, each read alone
    (:meth:`gir.analysis.analyze.Analyzer.outputs`)."""
    from gir.analysis.families import FAMILIES

    out = analyzer.outputs(np.stack([rgb[y:y + size, x:x + size] for y, x in corners]))
    return analyzer.calibration.apply(out[:, :len(FAMILIES) + 1])


def mine(roots, out: str | Path, *, analyzer=None, families=FAMILIES_MINED, threshold: float = 0.5,
         margin: int = 16) -> list[tuple[str, str, float]]:
    """Write the hard clean windows of the photos under ``roots`` to ``out`` -> [(file written, family, p)].

    analyzer: an :class:`gir.analysis.analyze.Analyzer` (None: the shipped one). A window is hard when one of
    ``families`` has p >= ``threshold`` there; it is written with ``margin`` px of context (less at the photo's
    edges) as ``<photo>_<y>_<x>.png``."""
    from gir.analysis.analyze import Analyzer
    from gir.analysis.families import FAMILIES
    from gir.data.folders import list_images
    from gir.io import read_rgb, write_image

    analyzer = analyzer if analyzer is not None else Analyzer(scratches=None, kernel=None, exposure=False)
    size = int(analyzer.crop)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    idx = [FAMILIES.index(f) for f in families]
    written = []
    for path in list_images(roots):
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        corners = windows(h, w, size)
        if not corners:
            continue
        p = window_probabilities(analyzer, rgb, corners, size)
        for (y, x), row in zip(corners, p):
            j = int(np.argmax(row[idx]))
            if row[idx[j]] < threshold:
                continue
            y0, x0 = max(0, y - margin), max(0, x - margin)
            crop = rgb[y0:min(h, y + size + margin), x0:min(w, x + size + margin)]
            name = out / f"{path.stem}_{y}_{x}.png"
            write_image(name, crop)
            written.append((name.name, families[j], float(row[idx[j]])))
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m gir.training.hard_clean", description=__doc__.split("\n")[0])
    ap.add_argument("roots", nargs="+", help="folders of clean training photos")
    ap.add_argument("-o", "--out", required=True, help="folder for the hard windows (PNG)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--families", default=",".join(FAMILIES_MINED))
    args = ap.parse_args(argv)
    found = mine(args.roots, args.out, families=tuple(args.families.split(",")), threshold=args.threshold)
    counts = {f: sum(1 for _, g, _ in found if g == f) for f in args.families.split(",")}
    print(f"{len(found)} hard windows written to {args.out}: " + ", ".join(f"{f} {n}" for f, n in counts.items()))


if __name__ == "__main__":
    main()
