"""Does a denoising step remove noise or structure? The residual's edge ratio (`gir.restore.verify.
edge_residual_ratio`, rule 4 of the verification), measured on the shipped denoiser as the pipeline runs it
(the step, then its model of the input, `DenoiserExpert.observe`).

Part ``calibrate`` (training photos, 256-px centre crops of 24 spread over ``../shared/data/train``): Gaussian
noise sigma 5 / 10 / 15 / 25 / 40 told the true level (helpful steps), and the clean photos told 5 / 10 / 22
(what a wrong detection would do): the ratio's range per case and, for each candidate limit, the share of
helpful steps kept and of clean ones refused. Part ``heldout`` (never trained on): eight scikit-image photos
and the five thin-structure probes under Gaussian noise, the same clean, camera noise (``camera_noise``, told
its RMS), and RNI15's real noise (no ground truth) told 3 / 7 / 15; PSNR gain and what the rule does.

    python benchmarks/denoise_structure.py --part calibrate|heldout [--append benchmarks/RESULTS.md]
"""
from __future__ import annotations

import argparse
import glob
import platform
from datetime import datetime

import numpy as np

from _report import emit, shared_or_skip
from heldout_restore import gaussian_noise, skimage_images, structure_images, to_float, to_rgb_u8

LIMITS = (1.5, 2.0, 2.5, 3.0, 4.0)


def step(expert, rgb: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """(output, edge ratio) of the denoising step told ``sigma``."""
    from gir.restore.verify import edge_residual_ratio

    told = {"noise.sigma": float(sigma)}
    out = expert(rgb, strengths=told)
    return out, edge_residual_ratio(rgb, expert.observe(out, told))


def denoiser():
    from gir.restore.experts import shipped_experts

    return shipped_experts({"device": "cpu"}, use=["denoise"])["denoise"]


def crops(paths: list[str], size: int = 256) -> list[tuple[str, np.ndarray]]:
    from gir.io import read_rgb

    out = []
    for p in paths:
        img = read_rgb(p)
        h, w = img.shape[:2]
        y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
        out.append((p.rsplit("/", 1)[-1], np.ascontiguousarray(img[y:y + size, x:x + size])))
    return out


def limit_table(noisy: dict, clean: dict) -> list[str]:
    """Per candidate limit: helpful steps kept (per sigma) and clean steps refused."""
    sig = sorted(noisy)
    rows = ["| limit | " + " | ".join(f"noise {s} kept" for s in sig) + " | clean told 5 / 10 / 22 refused |",
            "|---|" + "---|" * (len(sig) + 1)]
    for lim in LIMITS:
        kept = [f"{np.mean(np.array(noisy[s]) <= lim):.0%}" for s in sig]
        refused = " / ".join(f"{np.mean(np.array(clean[s]) > lim):.0%}" for s in sorted(clean))
        rows.append(f"| {lim:g} | " + " | ".join(kept) + f" | {refused} |")
    return rows


def part_calibrate(shared) -> list[str]:
    from gir.metrics import psnr

    e, rng = denoiser(), np.random.default_rng(0)
    paths = sorted(p for p in glob.glob(str(shared / "train" / "**" / "*"), recursive=True)
                   if p.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")))
    photos = crops(paths[:: max(1, len(paths) // 24)][:24])
    noisy, clean, gains = {}, {}, {}
    for _, img in photos:
        for s in (5, 10, 15, 25, 40):
            lq = gaussian_noise(to_rgb_u8(img), s, rng).astype(np.float32) / 255
            out, ratio = step(e, lq, s)
            noisy.setdefault(s, []).append(ratio)
            gains.setdefault(s, []).append(psnr(out, img) - psnr(lq, img))
        for s in (5, 10, 22):
            clean.setdefault(s, []).append(step(e, img, s)[1])
    rows = ["| case | edge ratio min / median / max | PSNR gain (mean) |", "|---|---|---|"]
    for s in sorted(noisy):
        v = np.array(noisy[s])
        rows.append(f"| noise {s}, told {s} | {v.min():.2f} / {np.median(v):.2f} / {v.max():.2f} | "
                    f"{np.mean(gains[s]):+.2f} |")
    for s in sorted(clean):
        v = np.array(clean[s])
        rows.append(f"| clean, told {s} | {v.min():.2f} / {np.median(v):.2f} / {v.max():.2f} | |")
    return [f"{len(photos)} training photos (256-px centre crops):", "", *rows, "", *limit_table(noisy, clean)]


def part_heldout(shared, limit: float) -> list[str]:
    from gir.degradations.base import OPS
    from gir.metrics import psnr

    e, rng = denoiser(), np.random.default_rng(0)
    photos = [(n, to_float(a)) for n, a in skimage_images(256)[0][:8]]
    probes = [(n, to_float(a)) for n, a in structure_images(256)]
    rows = ["| image | case | told | edge ratio | PSNR gain (noisy) / against itself (clean) | rule |",
            "|---|---|---|---|---|---|"]

    def add(name, case, told, ratio, db):
        rows.append(f"| {name} | {case} | {told:.1f} | {ratio:.2f} | {db} | {'refused' if ratio > limit else 'kept'} |")

    for name, img in photos + probes:
        for s in (5, 15, 30, 50):
            lq = gaussian_noise(to_rgb_u8(img), s, rng).astype(np.float32) / 255
            out, ratio = step(e, lq, s)
            add(name, f"noise {s}", s, ratio, f"{psnr(out, img) - psnr(lq, img):+.2f}")
        for s in (10, 22):
            out, ratio = step(e, img, s)
            add(name, "clean", s, ratio, f"{psnr(out, img):.2f}")
    cam = OPS.get("camera_noise")
    for name, img in photos:
        lq = cam.apply(img, np.random.default_rng(1), cam.sample_params(rng))
        lq = to_rgb_u8(np.clip(lq, 0, 1)).astype(np.float32) / 255
        s = float((lq - img).std() * 255)
        out, ratio = step(e, lq, s)
        add(name, "camera noise", s, ratio, f"{psnr(out, img) - psnr(lq, img):+.2f}")
    if shared is not None:
        for name, img in crops(sorted(glob.glob(str(shared / "real" / "rni15_noisy" / "*"))), 384):
            for s in (3, 7, 15):
                add(name, "RNI15 real", s, step(e, img, s)[1], "")
    return [f"Held-out, rule 4's limit {limit:g}:", "", *rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("calibrate", "heldout"), required=True)
    ap.add_argument("--append")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    shared = shared_or_skip(args.threads)
    if args.part == "calibrate" and shared is None:
        return
    from gir.restore.verify import EDGE_RATIO

    body = part_calibrate(shared) if args.part == "calibrate" else part_heldout(shared, EDGE_RATIO)
    head = (f"`python benchmarks/denoise_structure.py --part {args.part}` ({platform.processor() or platform.machine()}, "
            f"{datetime.now():%Y-%m-%d %H:%M}):")
    emit("\n".join([head, "", *body]), args.append)


if __name__ == "__main__":
    main()
