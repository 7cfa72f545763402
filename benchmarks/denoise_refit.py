"""The denoiser's refit of a noise level that its residual shows to be too high (issue 32; `gir.restore.experts.
DenoiserExpert`, ``refit``).

Part ``ratio``: the residual RMS of the shipped denoiser over the level it was told, on eight scikit-image
photos (256-px crops, never trained on) under Gaussian noise sigma 5 / 15 / 30, told 1, 2 and 3 times the true
level: the measurement behind ``OVER_TOLD`` and ``RESIDUAL_RATIO``; and PSNR without and with the refit.
Part ``camera``: the synthetic camera pairs of ``benchmarks/perceptual.py`` (correlated Poisson-Gaussian noise,
Pillow JPEG), through the default pipeline with the refit off and on. Part ``clean``: the thin-structure probes
and clean photos denoised told 5 / 10 / 22 (what a wrong detection would do), without and with the refit (PSNR
against themselves). Part ``real``: RNI15 (no ground truth) through the default pipeline, refit off and on:
NIQE / BRISQUE and the level each step was told.

    python benchmarks/denoise_refit.py --part ratio|camera|clean|real [--analyzer FILE] [--append benchmarks/RESULTS.md]
"""
from __future__ import annotations

import argparse
import platform
from datetime import datetime

import numpy as np

from _report import emit, shared_or_skip
from heldout_restore import gaussian_noise, skimage_images, structure_images, to_float


def expert(refit: bool):
    from gir.restore.experts import shipped_experts

    e = shipped_experts({"device": "cpu"}, use=["denoise"])["denoise"]
    e.refit = refit
    return e


def part_ratio() -> list[str]:
    from gir.metrics import psnr
    from gir.restore.experts import residual_rms

    off, on = expert(False), expert(True)
    rng = np.random.default_rng(0)
    rows, stats = [], {}
    for name, img in skimage_images(256)[0][:8]:
        gt = img.astype(np.float32) / 255
        for s in (5, 15, 30):
            noisy = gaussian_noise(img, s, rng).astype(np.float32) / 255
            for k in (1, 2, 3):
                told = {"noise.sigma": float(s * k)}
                a = off(noisy, strengths=told)
                b = on(noisy, strengths=told)
                ratio = residual_rms(noisy, a) / (s * k)
                stats.setdefault((s, k), []).append((ratio, psnr(a, gt), psnr(b, gt), psnr(noisy, gt),
                                                     (on.measured() or told)["noise.sigma"]))
    for (s, k), v in sorted(stats.items()):
        v = np.array(v)
        rows.append(f"| {s} | {s * k} | {v[:, 0].min():.2f}-{v[:, 0].max():.2f} | {v[:, 3].mean():.2f} | "
                    f"{v[:, 1].mean():.2f} | {v[:, 2].mean():.2f} | {v[:, 4].mean():.1f} |")
    return ["Gaussian noise on eight scikit-image photos (256 px), the denoising step alone:", "",
            "| true sigma | told | residual RMS / told (min-max) | input dB | refit off dB | refit on dB | "
            "level used (mean) |", "|---|---|---|---|---|---|---|", *rows]


def part_clean() -> list[str]:
    from gir.metrics import psnr

    off, on = expert(False), expert(True)
    rows = []
    photos = [(n, a.astype(np.float32) / 255) for n, a in skimage_images(256)[0][8:14]]
    for name, img in [(n, to_float(a)) for n, a in structure_images(256)] + photos:
        cells = []
        for s in (5, 10, 22):
            told = {"noise.sigma": float(s)}
            cells.append(f"{psnr(off(img, strengths=told), img):.1f} / {psnr(on(img, strengths=told), img):.1f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return ["Clean images denoised (a wrong detection), PSNR against themselves, refit off / on:", "",
            "| image | told 5 | told 10 | told 22 |", "|---|---|---|---|", *rows]


def pipelines(analyzer: str | None):
    from gir.restore.pipeline import Pipeline

    off, on = Pipeline(device="cpu", analyzer=analyzer), Pipeline(device="cpu", analyzer=analyzer)
    off.experts["denoise"].refit, on.experts["denoise"].refit = False, True
    return off, on


def told(outcome) -> str:
    """The noise level the denoising step was verified with, and whether it was kept."""
    for r in outcome.records:
        if r.step.expert == "denoise":
            return f"{r.step.strengths.get('noise.sigma', 0):.1f} {'kept' if r.check.kept else 'undone'}"
    return "-"


def part_camera(analyzer: str | None) -> list[str]:
    from perceptual import pairs

    from gir.metrics import psnr

    off, on = pipelines(analyzer)
    rows, sums = [], np.zeros(3)
    for name, clean, lq in pairs():
        a, b = off.run(lq), on.run(lq)
        v = [psnr(lq, clean), psnr(a.image, clean), psnr(b.image, clean)]
        sums += v
        rows.append(f"| {name} | {v[0]:.2f} | {v[1]:.2f} ({told(a)}) | {v[2]:.2f} ({told(b)}) |")
    m = sums / len(rows)
    return ["Synthetic camera pairs (benchmarks/perceptual.py), the default pipeline:", "",
            "| pair | input dB | refit off dB (level, verdict) | refit on dB |", "|---|---|---|---|", *rows,
            f"| **mean** | **{m[0]:.2f}** | **{m[1]:.2f}** | **{m[2]:.2f}** |"]


def part_real(shared, analyzer: str | None) -> list[str]:
    from gir.io import read_image
    from gir.metrics.brisque import brisque
    from gir.metrics.niqe import niqe

    off, on = pipelines(analyzer)
    rows, sums = [], np.zeros(6)
    files = sorted((shared / "real" / "rni15_noisy").iterdir())
    for f in files:
        rgb = read_image(f).rgb
        a, b = off.run(rgb, file=str(f)), on.run(rgb, file=str(f))
        s = [niqe(x) for x in (rgb, a.image, b.image)] + [brisque(x) for x in (rgb, a.image, b.image)]
        sums += s
        rows.append(f"| {f.name} | " + " | ".join(f"{v:.2f}" for v in s) + f" | {told(a)} | {told(b)} |")
    m = sums / len(files)
    return ["RNI15 through the default pipeline (lower is better):", "",
            "| photo | NIQE in | refit off | refit on | BRISQUE in | refit off | refit on | level off | level on |",
            "|---|---|---|---|---|---|---|---|---|", *rows,
            "| **mean** | " + " | ".join(f"**{v:.2f}**" for v in m) + " | | |"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("ratio", "camera", "clean", "real"), required=True)
    ap.add_argument("--analyzer", help="an analyzer checkpoint instead of the shipped one (camera / real)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--append")
    args = ap.parse_args()
    shared = shared_or_skip(args.threads)
    if args.part == "ratio":
        lines = part_ratio()
    elif args.part == "clean":
        lines = part_clean()
    elif args.part == "camera":
        lines = part_camera(args.analyzer)
    else:
        if shared is None:
            return
        lines = part_real(shared, args.analyzer)
    head = (f"`python benchmarks/denoise_refit.py --part {args.part}"
            f"{' --analyzer ' + args.analyzer if args.analyzer else ''}`, {datetime.now():%Y-%m-%d %H:%M}, "
            f"{platform.machine()}, {args.threads} threads.")
    emit("\n".join([head, "", *lines]), args.append)


if __name__ == "__main__":
    main()
