"""How well the degradation analyzer (``gir analyze``) tells what is wrong with photos it never saw.

Images: CBSD68 + Kodak24 (whole photos; the analyzer never trained on them). Sets, every (set, image) pair
seeded on its own so reruns see the same inputs:

* ``clean``: the photos as they are (PNG files: no JPEG tables);
* ``representative``: each family's representative op at its representative strength (one op per photo);
* ``chains``: random chains of 1-3 ops from the analyzer's pool at random strengths (2 per photo);
* ``noise``: Gaussian noise at sigma 5-50, for the sigma error, next to ``skimage.restoration.estimate_sigma``
  (wavelet-based, per channel, averaged) on the same images;
* ``jpeg``: Pillow JPEG at quality 10-90 (libjpeg, written independently of the library's OpenCV op), the
  quality read from pixels alone and from the file's tables.

Reported: per-family AUROC (positives: photos with the family; negatives: every other photo of the set,
clean ones included) at representative strength and on chains, the share of clean photos called clean, the
strength errors, ECE of the calibrated probabilities (raw network sigmoid next to it), a confusion plot, and
the time per photo.

    python benchmarks/analyzer_quality.py                              # shipped analyzer, all 92 photos
    python benchmarks/analyzer_quality.py --weights runs/analyzer/models/net_latest.safetensors --max-images 10
    python benchmarks/analyzer_quality.py --append benchmarks/RESULTS.md --plot docs/analysis/confusion.png
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.analysis.analyze import CROPS, get_analyzer
from gir.analysis.calibration import expected_calibration_error
from gir.analysis.families import FAMILIES, analyzer_pool, recipe_targets
from gir.bench.evaluate import load_images
from gir.data.patches import quantize
from gir.degradations import OPS, Recipe, sample_recipe
from gir.degradations.depth import estimate_depth

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
REPRESENTATIVE = {  # family -> the op text that represents it
    "noise": "noise", "blur": "blur", "jpeg": "jpeg", "resize": "resize(scale=2)", "ringing": "ringing",
    "haze": "haze", "rain": "rain", "snow": "snow", "low_light": "low_light", "damage": "damage",
    "impulse": "salt_pepper", "raindrop": "raindrop", "demosaic": "demosaic",
}
NOISE_SIGMAS = (5, 10, 15, 25, 35, 50)
JPEG_QUALITIES = (10, 20, 30, 50, 70, 90)


def stable(text: str) -> int:
    """A number for a text that is the same in every process (unlike ``hash``)."""
    import zlib

    return zlib.crc32(text.encode())


def seed_of(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def degrade(img: np.ndarray, recipe: Recipe, depth_cache: dict, key: str) -> np.ndarray:
    depth = None
    if any(OPS.get(s.op).needs_depth for s in recipe.steps):
        depth = depth_cache.setdefault(key, estimate_depth(img))
    return quantize(recipe.apply(img, depth=depth))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def pillow_jpeg(img: np.ndarray, quality: int) -> tuple[np.ndarray, bytes]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    data = buf.getvalue()
    out = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0
    return out, data


def run(args) -> dict:
    from skimage.restoration import estimate_sigma

    from gir.analysis.jpeg_tables import read_jpeg_tables

    analyzer = get_analyzer(args.weights, "cpu", args.crops)
    images = []
    for name in ("cbsd68", "kodak24"):
        images += [(f"{name}/{f}", img) for _, f, img in load_images(args.data / name, args.max_images)]
    depth: dict = {}
    rows = []  # (set, image, recipe text, p (F+1), strengths dict)
    timings = []

    def record(kind, key, recipe, lq, jpeg=None):
        t0 = time.perf_counter()
        d = analyzer(lq, jpeg=jpeg)
        timings.append((time.perf_counter() - t0, lq.shape[0] * lq.shape[1]))
        p = np.array([d.findings[f].p for f in FAMILIES] + [d.clean])
        strengths = {f"{fam}.{k}": v for fam, fnd in d.findings.items() for k, v in fnd.strength.items()}
        rows.append({"set": kind, "image": key, "recipe": recipe.to_text(), "p": p.tolist(),
                     "strengths": strengths, "source": d.findings["jpeg"].source})
        return d

    pool = analyzer_pool()
    for i, (key, img) in enumerate(tqdm(images, desc="photos", unit="img")):
        record("clean", key, Recipe(()), img)
        for fam, text in REPRESENTATIVE.items():
            r = Recipe.from_text(text).with_seed(seed_of(stable(key), stable(text), 1))
            record("representative", key, r, degrade(img, r, depth, key))
        for j in range(args.chains):
            rng = np.random.default_rng([stable(key), j, 2])
            r = sample_recipe(rng, order=(1, 3), pool=pool)
            record("chains", key, r, degrade(img, r, depth, key))
        if i % 2 == 0:  # strength sets on every other photo
            for s in NOISE_SIGMAS:
                r = Recipe.from_text(f"noise(sigma={s})").with_seed(seed_of(stable(key), s, 3))
                lq = degrade(img, r, depth, key)
                record("noise", key, r, lq)
                rows[-1]["skimage_sigma"] = float(estimate_sigma(lq, channel_axis=-1, average_sigmas=True) * 255)
            for q in JPEG_QUALITIES:
                lq, data = pillow_jpeg(img, q)
                record("jpeg_pixels", key, Recipe.from_text(f"jpeg(quality={q})"), lq)
                record("jpeg_tables", key, Recipe.from_text(f"jpeg(quality={q})"), lq, jpeg=read_jpeg_tables(data))
    return {"rows": rows, "timings": timings, "weights": str(analyzer.path), "calibrated": analyzer.calibrated}


def targets(rows) -> np.ndarray:
    return np.array([np.append(recipe_targets(r["recipe"]).families, recipe_targets(r["recipe"]).clean)
                     for r in rows])


def _verdict_clean(row) -> bool:
    """The photo's verdict is clean: no family at p >= 0.5, except a JPEG estimated at quality >= 85 (the mild
    compression many test photos carry from their source, which the issue allows to be reported as such)."""
    found = [FAMILIES[j] for j, p in enumerate(row["p"][:-1]) if p >= 0.5]
    mild_jpeg = row["strengths"].get("jpeg.quality", 0) >= 85
    return not found or (found == ["jpeg"] and mild_jpeg)


def summarise(res: dict, args) -> str:
    rows = res["rows"]
    by = {k: [r for r in rows if r["set"] == k] for k in ("clean", "representative", "chains", "noise",
                                                           "jpeg_pixels", "jpeg_tables")}
    lines = [f"Analyzer quality on CBSD68 + Kodak24 ({len(by['clean'])} photos, never trained on), "
             f"{datetime.now():%Y-%m-%d}, {platform.machine()} ({args.threads_note}), weights "
             f"`{Path(res['weights']).name}` ({'calibrated' if res['calibrated'] else 'uncalibrated'}), "
             f"{args.crops} windows per photo.", ""]
    rep = by["clean"] + by["representative"]
    y_rep, p_rep = targets(rep), np.array([r["p"] for r in rep])
    y_ch, p_ch = targets(by["clean"] + by["chains"]), np.array([r["p"] for r in by["clean"] + by["chains"]])
    lines += ["| family | AUROC, representative | AUROC, chains 1-3 | positives (chains) | mean p when present "
              "(repr.) | ECE (repr. + chains) |", "|---|---:|---:|---:|---:|---:|"]
    allp = np.concatenate([p_rep, p_ch])
    ally = np.concatenate([y_rep, y_ch])
    for j, fam in enumerate(FAMILIES):
        pos = y_rep[:, j] > 0
        lines.append(f"| {fam} | {auroc(p_rep[:, j], y_rep[:, j]):.3f} | {auroc(p_ch[:, j], y_ch[:, j]):.3f} | "
                     f"{int(y_ch[:, j].sum())} | {p_rep[pos, j].mean() if pos.any() else float('nan'):.2f} | "
                     f"{expected_calibration_error(allp[:, j], ally[:, j]):.3f} |")
    clean_p = np.array([r["p"][-1] for r in by["clean"]])
    none_found = np.array([_verdict_clean(r) for r in by["clean"]])
    lines += ["", f"Clean photos with a clean verdict (no family detected at p >= 0.5, or only a JPEG of quality "
                  f">= 85; what `gir restore` plans on): **{none_found.mean():.1%}** ({int(none_found.sum())}/"
                  f"{len(none_found)}); with p_clean >= 0.5: {np.mean(clean_p >= 0.5):.1%} "
                  f"({int((clean_p >= 0.5).sum())}/{len(clean_p)}); "
                  f"`clean` AUROC (representative set) {auroc(p_rep[:, -1], y_rep[:, -1]):.3f}, ECE "
                  f"{expected_calibration_error(allp[:, -1], ally[:, -1]):.3f}."]
    missed = [(r["image"], [FAMILIES[j] for j in range(len(FAMILIES)) if r["p"][j] >= 0.5])
              for r in by["clean"] if r["p"][-1] < 0.5]
    if missed:
        lines.append("Clean photos with p_clean < 0.5 (families at p >= 0.5): " + "; ".join(f"{k} ({', '.join(v) or '-'})" for k, v in missed))
    if by["noise"]:
        lines += ["", "| noise sigma | analyzer MAE | analyzer mean | skimage estimate_sigma MAE | skimage mean |",
                  "|---:|---:|---:|---:|---:|"]
        for s in NOISE_SIGMAS:
            rs = [r for r in by["noise"] if abs(recipe_targets(r["recipe"]).strengths[0] - s) < 1e-6]
            a = np.array([r["strengths"]["noise.sigma"] for r in rs])
            k = np.array([r["skimage_sigma"] for r in rs])
            lines.append(f"| {s} | {np.abs(a - s).mean():.2f} | {a.mean():.1f} | {np.abs(k - s).mean():.2f} | {k.mean():.1f} |")
        a = np.array([r["strengths"]["noise.sigma"] - recipe_targets(r["recipe"]).strengths[0] for r in by["noise"]])
        k = np.array([r["skimage_sigma"] - recipe_targets(r["recipe"]).strengths[0] for r in by["noise"]])
        lines.append(f"| all | **{np.abs(a).mean():.2f}** | | **{np.abs(k).mean():.2f}** | |")
    if by["jpeg_pixels"]:
        lines += ["", "| Pillow JPEG quality | p(jpeg), pixels | quality from pixels (MAE) | from the file's tables (MAE) |",
                  "|---:|---:|---:|---:|"]
        for q in JPEG_QUALITIES:
            rp = [r for r in by["jpeg_pixels"] if Recipe.from_text(r["recipe"]).steps[0].params["quality"] == q]
            rt = [r for r in by["jpeg_tables"] if Recipe.from_text(r["recipe"]).steps[0].params["quality"] == q]
            ep = np.abs(np.array([r["strengths"]["jpeg.quality"] for r in rp]) - q)
            et = np.abs(np.array([r["strengths"]["jpeg.quality"] for r in rt]) - q)
            pj = np.mean([r["p"][FAMILIES.index("jpeg")] for r in rp])
            lines.append(f"| {q} | {pj:.2f} | {ep.mean():.1f} | {et.mean():.1f} |")
    t = np.array(res["timings"])
    mp = t[:, 1] / 1e6
    lines += ["", f"Time per photo: {t[:, 0].mean() * 1000:.0f} ms on average ({t[:, 0].sum() / mp.sum():.3f} s per "
                  f"megapixel over these {mp.mean():.2f}-MP photos; the cost is {args.crops} windows of 128 px "
                  f"whatever the size)."]
    return "\n".join(lines)


def confusion_plot(res: dict, path: Path) -> None:
    """Mean probability of each output (columns) for each representative family and clean (rows)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in res["rows"] if r["set"] in ("clean", "representative")]
    names = [*FAMILIES, "clean"]
    m = np.zeros((len(names), len(names)))
    for i, fam in enumerate(names):
        sel = [r for r in rows if (fam == "clean" and r["set"] == "clean") or
               (r["set"] == "representative" and r["recipe"].split("(")[0] == REPRESENTATIVE.get(fam, "-").split("(")[0])]
        if sel:
            m[i] = np.mean([r["p"] for r in sel], 0)
    fig = Figure(figsize=(8.5, 7), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_yticks(range(len(names)), [f"{n} ({REPRESENTATIVE.get(n, 'none')})" for n in names])
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{m[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=6,
                    color="white" if m[i, j] < 0.6 else "black")
    ax.set(xlabel="analyzer output (mean probability)", ylabel="what the photo has")
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title("gir analyze on CBSD68 + Kodak24: one degradation at its representative strength")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", help="analyzer name or checkpoint (default: the shipped gir-analyzer)")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding cbsd68/ and kodak24/")
    ap.add_argument("--max-images", type=int, help="per set")
    ap.add_argument("--chains", type=int, default=2, help="random chains per photo (2)")
    ap.add_argument("--crops", type=int, default=CROPS)
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--plot", type=Path, help="write the confusion plot here (PNG)")
    ap.add_argument("--append", help="append the tables to this Markdown file")
    ap.add_argument("--from-json", type=Path, help="summarise the rows of an earlier --json instead of running")
    args = ap.parse_args()
    import torch

    args.threads_note = f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"
    res = json.loads(args.from_json.read_text()) if args.from_json else run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res))
    if args.plot:
        confusion_plot(res, args.plot)
    emit(summarise(res, args), args.append)


if __name__ == "__main__":
    main()
