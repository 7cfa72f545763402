"""Issue 29: upscaling (`gir restore --scale`, the ``gir-upscale`` network), measured.

Parts, each a Markdown table (append them to RESULTS.md with ``--append``):

* ``sets``: Set5 and Set14 (``../shared/data/test``) at x2 / x3 / x4 in the literature's protocol
  (:mod:`gir.bench.superres`: LR by MATLAB bicubic stored as 8 bits, Y channel, ``scale`` border pixels
  shaved; one-channel files on their gray values), the network alone (tiled as `gir restore` tiles it, no
  self-ensemble) next to bicubic and the published figures of FSRCNN and IMDN; also the shrink-back residual
  that `gir restore` checks each enlargement with (:data:`gir.restore.upscale.MAX_RESIDUAL`).
* ``speed``: seconds for x4 of a 0.25 MP input (4 MP out) and x2 of a 1 MP input, through
  :class:`gir.restore.upscale.Upscaler` (what `gir restore --scale` runs after the restoration steps).
* ``degraded``: Set5 and Set14 at x2 / x4 with LR files that are more than down-sampled, written here with
  numpy and Pillow (not the library's ops): MATLAB-bicubic LR, then Gaussian noise sigma 5 and a Pillow JPEG of
  quality 60. Bicubic, ``gir-upscale`` and ``--real-model`` (default ``gir-upscale-real``), each alone, PSNR-Y
  against the HR image (the protocol's crop).
* ``real``: a contact sheet of the real low-resolution photos (RealSRSet, old photos) at x4: bicubic, the
  fidelity network alone and `gir restore --scale 4` (the default pipeline: restored at the input size, then
  enlarged by the network its analysis chooses), centre crops,
  written to ``docs/upscale_real.png``; the table lists what the pipeline ran on each photo.

    python benchmarks/upscale.py --part sets --threads 2
    python benchmarks/upscale.py --part speed --threads 2
    python benchmarks/upscale.py --part degraded --threads 2
    python benchmarks/upscale.py --part real --threads 2
"""
from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, shared_or_skip  # noqa: E402

SCALES = (2, 3, 4)
# Y-channel PSNR as published: FSRCNN (Dong et al., ECCV 2016), IMDN (Hui et al., ACM MM 2019).
PUBLISHED = {
    "set5": {"bicubic": (33.66, 30.39, 28.42), "FSRCNN": (37.00, 33.16, 30.71), "IMDN": (38.00, 34.36, 32.21)},
    "set14": {"bicubic": (30.24, 27.55, 26.00), "FSRCNN": (32.63, 29.43, 27.59), "IMDN": (33.63, 30.32, 28.58)},
}


def header(args) -> str:
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    return (f"Machine: {platform.processor() or platform.machine()}, {args.threads} torch threads; "
            f"{datetime.now():%Y-%m-%d %H:%M}; `{cmd}`\n")


def part_sets(args, root: Path) -> str:
    import torch

    from gir.bench.evaluate import mean_table, score_pairs
    from gir.bench.superres import bicubic, load_sr_images, rgb_only, sr_pairs
    from gir.degradations.matlab_resize import imresize
    from gir.restore.engine import Restorer
    from gir.restore.verify import residual_rms

    lines = [f"### Upscaling: Set5 / Set14, literature protocol ({args.model})\n", header(args),
             "| set | scale | bicubic | gir-upscale | gain | SSIM | FSRCNN (gain) | IMDN (gain) | shrink-back residual "
             "mean / max (0-255) |", "|---|---|---|---|---|---|---|---|---|"]
    for name in ("set5", "set14"):
        images = list(load_sr_images(root / "test" / name))
        for k, s in enumerate(SCALES):
            net = Restorer(args.model, impulse_repair=False, ensemble=1, scale=s)
            residuals: list[float] = []

            def method(lr, scale, net=net, residuals=residuals):
                out = net(lr)
                residuals.append(residual_rms(lr, imresize(out, 1.0 / scale)))
                return out

            with torch.inference_mode():
                scores = score_pairs({"net": rgb_only(method)}, sr_pairs(images, [s]), crop_border=s, y_channel=True,
                                     baseline=bicubic)
            m = mean_table(scores, by=("method",))
            bic, ours = m[("input",)], m[("net",)]
            pub = PUBLISHED[name]
            gains = {k2: v[k] - pub["bicubic"][k] for k2, v in pub.items()}
            lines.append(f"| {name} ({len(images)}) | x{s} | {bic['psnr']:.2f} | **{ours['psnr']:.2f}** | "
                         f"+{ours['psnr'] - bic['psnr']:.2f} | {ours['ssim']:.4f} | {pub['FSRCNN'][k]:.2f} "
                         f"(+{gains['FSRCNN']:.2f}) | {pub['IMDN'][k]:.2f} (+{gains['IMDN']:.2f}) | "
                         f"{np.mean(residuals):.2f} / {np.max(residuals):.2f} |")
    return "\n".join(lines) + "\n"


def _degrade_lr(lr: np.ndarray, seed: int) -> np.ndarray:
    """Noise sigma 5 (numpy) then a Pillow JPEG of quality 60, on an LR float image (3 channels or 1)."""
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    u8 = np.clip(np.rint(lr * 255 + rng.normal(0, 5, lr.shape)), 0, 255).astype(np.uint8)
    gray = u8.shape[2] == 1
    buf = io.BytesIO()
    Image.fromarray(u8[..., 0] if gray else u8).save(buf, format="JPEG", quality=60)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0
    return out[..., None] if gray else out


def part_degraded(args, root: Path) -> str:
    import torch

    from gir.bench.evaluate import mean_table, score_pairs
    from gir.bench.superres import bicubic, load_sr_images, rgb_only, sr_pairs
    from gir.data.pairs import Pair
    from gir.restore.engine import Restorer

    lines = ["### Upscaling photos that are more than down-sampled (noise 5 + JPEG 60 on the LR)\n", header(args),
             "| set | scale | bicubic | gir-upscale (fidelity) | " + args.real_model + " |", "|---|---|---|---|---|"]
    for name in ("set5", "set14"):
        images = list(load_sr_images(root / "test" / name))
        for s in (2, 4):
            nets = {"fidelity": Restorer(args.model, impulse_repair=False, ensemble=1, scale=s),
                    "real": Restorer(args.real_model, impulse_repair=False, ensemble=1, scale=s)}

            pairs = [Pair(p.task, p.dataset, p.image, _degrade_lr(p.lq, k), p.gt, p.told)
                     for k, p in enumerate(sr_pairs(images, [s]))]
            with torch.inference_mode():
                scores = score_pairs({k: rgb_only(lambda lr, scale, v=v: v(lr)) for k, v in nets.items()}, pairs, crop_border=s,
                                     y_channel=True, baseline=bicubic)
            m = mean_table(scores, by=("method",))
            lines.append(f"| {name} ({len(images)}) | x{s} | {m[('input',)]['psnr']:.2f} | "
                         f"{m[('fidelity',)]['psnr']:.2f} | {m[('real',)]['psnr']:.2f} |")
    return "\n".join(lines) + "\n"


def part_speed(args, root) -> str:
    from gir.restore.upscale import Upscaler

    rng = np.random.default_rng(0)
    lines = [f"### Upscaling speed ({args.model}, through gir.restore.upscale.Upscaler)\n", header(args),
             "| task | input | output | seconds (best of 2) | s per output MP | bar |", "|---|---|---|---|---|---|"]
    photo = _photo()
    for scale, side, bar in ((4, 500, 5.0), (2, 1000, 4.0)):
        x = _tile_photo(photo, side, rng)
        up = Upscaler(scale, args.model)
        up(x[:64, :64])  # warm-up (memory probe)
        best = min(_timed(lambda: up(x)) for _ in range(2))
        out_mp = (side * scale) ** 2 / 1e6
        lines.append(f"| x{scale} | {side}x{side} | {side * scale}x{side * scale} | {best:.2f} | "
                     f"{best / out_mp:.2f} | {bar:.0f} s |")
    return "\n".join(lines) + "\n"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _photo() -> np.ndarray:
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0


def _tile_photo(photo: np.ndarray, side: int, rng) -> np.ndarray:
    """A side x side photo made of the test photo repeated (real content, any size)."""
    reps = -(-side // photo.shape[0]) + 1
    big = np.tile(photo, (reps, reps, 1))
    y, x = rng.integers(0, big.shape[0] - side, 2)
    return np.ascontiguousarray(big[y:y + side, x:x + side])


def part_real(args, root: Path) -> str:
    from gir.io import read_image
    from gir.restore.pipeline import Pipeline
    from gir.restore.upscale import bicubic_enlarge
    from gir.viz import contact_sheet

    from gir.restore.engine import Restorer

    pipe = Pipeline(scale=4, upscaler=None if args.model == "gir-upscale" else args.model)
    fidelity = Restorer(args.model, impulse_repair=False, ensemble=1, scale=4)
    files = sorted((root / "real" / "realsrset_lowres").glob("*"))[: args.max_images]
    files += sorted((root / "real" / "old_photos").glob("*"))[: max(2, args.max_images // 4)]
    tiles, labels = [], []
    lines = ["### Upscaling real photos x4: what `gir restore --scale 4` ran\n", header(args),
             "| photo | size | found | steps kept | enlargement (shrink-back residual) | seconds |",
             "|---|---|---|---|---|---|"]
    for f in files:
        rgb = read_image(f).rgb
        outcome = pipe.run(rgb, file=str(f))
        kept = ", ".join(r.step.expert for r in outcome.records if r.check.kept) or "none"
        up = outcome.upscale
        lines.append(f"| {f.parent.name}/{f.name} | {rgb.shape[1]}x{rgb.shape[0]} | "
                     f"{outcome.diagnosis.verdict()} | {kept} | {up.method} ({up.residual:.2f}) | "
                     f"{outcome.seconds:.1f} |")
        c = args.crop
        h, w = rgb.shape[:2]
        y0, x0 = max(0, (h - c) // 2), max(0, (w - c) // 2)
        crop = (slice(y0 * 4, (y0 + c) * 4), slice(x0 * 4, (x0 + c) * 4))
        tiles += [bicubic_enlarge(rgb, 4)[crop], fidelity(rgb)[crop], outcome.image[crop]]
        labels += [f"{f.name}: bicubic x4", f"{args.model} alone", f"gir restore --scale 4\n({kept}; {up.method})"]
    sheet = contact_sheet(tiles, labels, cols=6)
    out = Path(__file__).resolve().parents[1] / "docs" / "upscale_real.png"
    from PIL import Image

    Image.fromarray(sheet).save(out, optimize=True)
    lines.append(f"\nContact sheet: `docs/{out.name}` ({len(files)} photos, centre {args.crop} px of the input "
                 f"shown at x4).")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", required=True, choices=("sets", "speed", "degraded", "real"))
    ap.add_argument("--real-model", default="gir-upscale-real", help="degraded part: the real-photo network")
    ap.add_argument("--model", default="gir-upscale", help="the SR network (a shipped name or a checkpoint)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-images", type=int, default=8, help="real part: RealSRSet photos on the sheet")
    ap.add_argument("--crop", type=int, default=64, help="real part: input pixels of each crop's side")
    ap.add_argument("--append", help="append the table to this file (e.g. benchmarks/RESULTS.md)")
    args = ap.parse_args()
    root = shared_or_skip(args.threads)
    if root is None and args.part != "speed":
        return
    text = {"sets": part_sets, "speed": part_speed, "degraded": part_degraded, "real": part_real}[args.part](
        args, Path(root or "."))
    emit(text, args.append)


if __name__ == "__main__":
    main()
