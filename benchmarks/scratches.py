"""Scratch detection and repair on material the detector was not trained on (issues 32 and 33).

Parts (``--part``, default all):

* ``heldout``: scikit-image's bundled photos (``benchmarks/heldout_restore.py``'s set, 256-px centre crops),
  scratched by code written here with OpenCV only (not :mod:`gir.degradations`): straight lines
  (``cv2.line``, anti-aliased, 2-8 px, white or black), polyline cracks (``cv2.polylines``, 1-3 px, cream)
  and dust (``cv2.circle``), each photo with its own seed; then optionally Pillow JPEG 75. Reports the
  detector's F1 / IoU against the drawn mask and PSNR of input, ``gir restore --only damage`` (scratch
  repair runs on request, ``gir.restore.policy``) with the biharmonic fill and with the fill network
  (``--fill``, default the shipped ``gir-inpaint``), and each fill told the true mask (its ceiling).
* ``clean``: the same photos and the five thin-structure probes unscratched: the damage probability, the
  area the detector marks, and whether the default pipeline returns them unchanged.
* ``real``: ``../shared/data/real/old_photos_scratched`` (four scanned prints, no ground truth) and the eight
  unscratched ``old_photos``: the damage probability and area per photo, what the default pipeline and
  ``--only damage`` ran, and an overlay sheet (``--sheet``: photo | mask in red | ``--only damage`` output).

    python benchmarks/scratches.py --append benchmarks/RESULTS.md --sheet docs/scratches_real.png
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import emit  # noqa: E402
from heldout_restore import jpeg, skimage_images, structure_images  # noqa: E402


def draw_scratches(img: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(scratched uint8 HxWx3, bool mask of the drawn pixels) with OpenCV primitives only."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = img.copy()
    cover = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(2, 6))):  # straight lines
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        t = int(rng.integers(2, 9))
        col = (255, 255, 255) if rng.random() < 0.6 else (10, 10, 10)
        cv2.line(out, p0, p1, col, t, cv2.LINE_AA)
        cv2.line(cover, p0, p1, 255, t, cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 4))):  # cracks
        n = int(rng.integers(6, 20))
        steps = rng.normal(0, 0.4, n).cumsum() + rng.uniform(0, 2 * np.pi)
        pts = np.stack([np.cos(steps), np.sin(steps)], 1) * rng.uniform(4, 9)
        pts = (pts.cumsum(0) + [rng.uniform(0, w), rng.uniform(0, h)]).astype(np.int32)
        t = int(rng.integers(1, 4))
        cv2.polylines(out, [pts], False, (235, 228, 205), t, cv2.LINE_AA)
        cv2.polylines(cover, [pts], False, 255, t, cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 12))):  # dust
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        r = int(rng.integers(1, 4))
        col = (250, 250, 250) if rng.random() < 0.5 else (20, 20, 20)
        cv2.circle(out, c, r, col, -1, cv2.LINE_AA)
        cv2.circle(cover, c, r, 255, -1, cv2.LINE_AA)
    return out, cover >= 0.15 * 255


def f1_iou(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    tp = float((pred & true).sum())
    fp = float((pred & ~true).sum())
    fn = float((~pred & true).sum())
    return 2 * tp / max(1.0, 2 * tp + fp + fn), tp / max(1.0, tp + fp + fn)


def part_heldout(photos, pipe, fill: str | None = None) -> str:
    """``pipe``: the pipeline asked to repair scratches (``--only damage``: scratch repair runs on request).
    ``fill``: a fill network (shipped name or checkpoint); with one, the repair is run with each fill (the
    biharmonic one, then the network) and both fills are also told the true mask."""
    from gir.analysis.scratches import detect, fill_mask
    from gir.metrics import psnr
    from gir.restore.classical import inpaint
    from gir.restore.inpaint import network_fill

    fills = [None] + ([fill] if fill else [])
    label = {None: "biharmonic", fill: "network"}
    rows = ["| photo | variant | F1 | IoU | area true / found % | input dB | "
            + " | ".join(f"`--only damage`, {label[f]} fill dB" for f in fills) + " | "
            + " | ".join(f"{label[f]} fill told the mask dB" for f in fills) + " | ran |",
            "|---|---|---|---|---|---|" + "---|" * (2 * len(fills)) + "---|"]
    sums: dict[str, list] = {}
    for k, (name, u8) in enumerate(photos):
        for variant in ("png", "jpeg75"):
            lq8, true = draw_scratches(u8, 1000 + k)
            if variant == "jpeg75":
                lq8 = jpeg(lq8, 75)
            lq, gt = lq8.astype(np.float32) / 255, u8.astype(np.float32) / 255
            found = detect(lq)
            f1, iou = f1_iou(found.mask, true)
            outs, told = [], []
            for f in fills:
                pipe.experts["inpaint"].fill = f
                outs.append(pipe.run(lq))
                hole = fill_mask(true)
                told.append(network_fill(lq, hole, f) if f else inpaint(lq, hole))
            out = outs[-1]
            ran = ", ".join(f"{r.step.expert}{'' if r.check.kept else ' (undone)'}" for r in out.records) or "-"
            vals = (f1, iou, psnr(lq, gt), *[psnr(o.image, gt) for o in outs], *[psnr(t, gt) for t in told])
            sums.setdefault(variant, []).append(vals)
            rows.append(f"| {name} | {variant} | {f1:.3f} | {iou:.3f} | {100 * true.mean():.2f} / {found.area:.2f} | "
                        + " | ".join(f"{v:.2f}" for v in vals[2:]) + f" | {ran} |")
    for variant, vs in sums.items():
        m = np.mean(vs, axis=0)
        rows.append(f"| **mean** | {variant} | {m[0]:.3f} | {m[1]:.3f} | | " + " | ".join(f"{v:.2f}" for v in m[2:])
                    + " | |")
    return "\n".join(rows)


def part_clean(photos, pipe) -> str:
    from gir.analysis.scratches import damage_probability, detect

    rows = ["| image | area marked % | p(damage) from the mask | `gir restore` | ",
            "|---|---|---|---|"]
    unchanged = 0
    items = list(photos) + list(structure_images())
    for name, u8 in items:
        rgb = u8.astype(np.float32) / 255
        found = detect(rgb)
        out = pipe.run(rgb)
        same = np.array_equal(out.image, rgb)
        unchanged += same
        ran = "unchanged" if same else "changed: " + ", ".join(r.step.expert for r in out.records if r.check.kept)
        rows.append(f"| {name} | {found.area:.3f} | {damage_probability(found.area):.3f} | {ran} |")
    rows.append(f"| **unchanged** | | | {unchanged} of {len(items)} |")
    return "\n".join(rows)


def part_real(pipe, asked, sheet: str | None) -> str:
    """``pipe``: the default pipeline; ``asked``: with ``--only damage`` (the sheet's third column)."""
    from gir.analysis.scratches import damage_probability, detect
    from gir.bench.run import shared_data
    from gir.io import read_image

    root = shared_data() / "real"
    rows = ["| photo | area marked % | p from the mask | `gir restore` ran | `--only damage` ran | seconds |",
            "|---|---|---|---|---|---|"]
    tiles = []
    for folder in ("old_photos_scratched", "old_photos"):
        for path in sorted((root / folder).glob("*.png")):
            rgb = read_image(path).rgb
            found = detect(rgb)
            t = time.perf_counter()
            out = pipe.run(rgb)
            dt = time.perf_counter() - t
            ran = ", ".join(f"{r.step.expert}{'' if r.check.kept else ' (undone)'}" for r in out.records) or "-"
            fixed = asked.run(rgb)
            ran2 = ", ".join(f"{r.step.expert}{'' if r.check.kept else ' (undone)'}" for r in fixed.records) or "-"
            rows.append(f"| {folder}/{path.name} | {found.area:.2f} | {damage_probability(found.area):.2f} | {ran} | "
                        f"{ran2} | {dt:.1f} |")
            if folder == "old_photos_scratched":
                overlay = rgb.copy()
                overlay[found.mask] = 0.6 * overlay[found.mask] + 0.4 * np.array([1.0, 0.0, 0.0], np.float32)
                tiles.append((rgb, overlay, fixed.image))
    if sheet and tiles:
        write_sheet(tiles, sheet)
    return "\n".join(rows)


def write_sheet(tiles, path: str, height: int = 300) -> None:
    """Rows of (photo | mask overlay | restored), each scaled to ``height`` px."""
    from PIL import Image

    rows = []
    for triple in tiles:
        ims = []
        for a in triple:
            im = Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8))
            ims.append(im.resize((round(im.width * height / im.height), height), Image.LANCZOS))
        row = Image.new("RGB", (sum(i.width for i in ims) + 8 * (len(ims) - 1), height), "white")
        x = 0
        for i in ims:
            row.paste(i, (x, 0))
            x += i.width + 8
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 8 * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 8
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("all", "heldout", "clean", "real"), default="all")
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--append", help="append the tables to this Markdown file")
    ap.add_argument("--sheet", help="write the real-photo overlay sheet here (PNG)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fill", help="the fill network to compare with the biharmonic fill (shipped name or "
                                   "checkpoint; default: gir-inpaint where it is installed)")
    args = ap.parse_args()
    import torch

    from gir.models.shipped import is_shipped

    from gir.restore.pipeline import Pipeline

    torch.set_num_threads(args.threads)
    photos, skipped = skimage_images(args.max_side)
    pipe = Pipeline(device="cpu")
    asked = Pipeline(device="cpu", only=["damage"])
    head = (f"## Scratches: detection and repair (`python benchmarks/scratches.py --part {args.part}`, "
            f"{time.strftime('%Y-%m-%d')}, {args.threads} CPU threads)\n")
    parts = []
    if args.part in ("all", "heldout"):
        fill = args.fill or ("gir-inpaint" if is_shipped("gir-inpaint") else None)
        parts.append("### Held-out photos scratched with OpenCV\n\n" + part_heldout(photos, asked, fill))
    if args.part in ("all", "clean"):
        parts.append("### Clean photos and thin structure\n\n" + part_clean(photos, pipe))
    if args.part in ("all", "real"):
        parts.append("### Real scanned prints\n\n" + part_real(pipe, asked, args.sheet))
    if skipped:
        parts.append("skipped: " + ", ".join(skipped))
    emit(head + "\n" + "\n\n".join(parts) + "\n", args.append)


if __name__ == "__main__":
    main()
