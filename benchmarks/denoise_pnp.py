"""Issue 28: the noise-level-conditioned denoiser and plug-and-play deblurring, measured.

Three parts, each a Markdown table (append them to RESULTS.md with ``--append``):

* ``published``: CBSD68 and Kodak24 (``../shared/data/test``) at sigma 15 / 25 / 50, the denoiser told the true
  sigma, in the published protocol (float Gaussian noise from numpy, seeded per image, neither clipped nor
  rounded; outputs rounded to 8 bits and scored on RGB, as KAIR scores FFDNet and DRUNet) and as users have
  noisy photos (clipped and rounded to 8 bits). Each ``--model`` is a column; FFDNet's and DRUNet's published
  figures are printed beside them.
* ``heldout``: photos that are not in ../shared (scikit-image's bundled photos, ``heldout_restore.py``),
  degraded here with numpy and OpenCV: noise sigma 15 / 25 / 50, Gaussian blur sigma 1.6, motion blur of
  length 11 at an angle drawn per photo, blur 1.2 then noise 10; clean. Methods: the input, blind `gir
  restore` (the default pipeline), the denoiser told sigma, plug-and-play told the true kernel (the bound the
  kernel estimate works towards), and the blur kernel estimate's error.
* ``speed``: seconds per megapixel of the denoiser and of plug-and-play deblurring on a 1 MP photo.

    python benchmarks/denoise_pnp.py --part published --model gir-denoiser --threads 2
    python benchmarks/denoise_pnp.py --part heldout --threads 2 --previous /tmp/prev   # see --previous
    python benchmarks/denoise_pnp.py --part speed --threads 2
"""
from __future__ import annotations

import argparse
import math
import platform
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heldout_restore as H  # noqa: E402
from _report import emit, shared_or_skip  # noqa: E402

PUBLISHED = {  # RGB PSNR, Gaussian noise, from the FFDNet (TIP 2018) and DRUNet (DPIR, TPAMI 2021) papers
    "cbsd68": {"FFDNet": (33.87, 31.21, 27.96), "DRUNet": (34.30, 31.69, 28.51)},
    "kodak24": {"FFDNet": (34.63, 32.13, 28.98), "DRUNet": (35.31, 32.89, 29.86)},
}
SIGMAS = (15, 25, 50)


def header(args) -> str:
    cmd = "python benchmarks/denoise_pnp.py " + shlex.join(sys.argv[1:])
    return (f"Machine: {platform.processor() or platform.machine()}, {args.threads} torch thread(s); "
            f"{datetime.now():%Y-%m-%d %H:%M}; `{cmd}`")


def psnr8(out: np.ndarray, gt: np.ndarray) -> float:
    from gir.metrics import score_restored

    return score_restored(out, gt)[0]


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def noisy(gt: np.ndarray, sigma: float, seed: int, clipped: bool) -> np.ndarray:
    """gt + N(0, sigma) from numpy (float64, seeded), unclipped (the published protocol) or clipped and
    rounded to 8 bits."""
    rng = np.random.default_rng(seed)
    y = gt.astype(np.float64) + rng.normal(0.0, sigma / 255.0, gt.shape)
    if clipped:
        y = np.rint(np.clip(y, 0, 1) * 255) / 255
    return y.astype(np.float32)


def denoiser(model: str, clip_input: bool = True):
    from gir.restore.engine import Restorer

    r = Restorer(model, impulse_repair=False, ensemble=1, clip_input=clip_input)
    return lambda y, s: r(y, conditions={"noise.sigma": s})


def part_published(args, root: Path) -> str:
    nets = {m: denoiser(m, clip_input=False) for m in args.model}  # float noise reaches the network as it is
    lines = [f"### Denoising told sigma: CBSD68 and Kodak24 (issue 28)", "", header(args), ""]
    cols = ["set", "protocol", "sigma", "input", *args.model, "FFDNet (paper)", "DRUNet (paper)"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name in ("cbsd68", "kodak24"):
        files = sorted((root / "test" / name).glob("*.png"))[:args.max_images]
        imgs = [read_rgb(f) for f in files]
        for clipped in (False, True):
            for si, sigma in enumerate(SIGMAS):
                scores = {"input": [], **{m: [] for m in nets}}
                for i, gt in enumerate(imgs):
                    y = noisy(gt, sigma, 1000 * sigma + i, clipped)
                    scores["input"].append(psnr8(y, gt))
                    for m, net in nets.items():
                        scores[m].append(psnr8(net(y, float(sigma)), gt))
                pub = PUBLISHED[name]
                row = [f"{name} ({len(imgs)})", "8-bit clipped" if clipped else "float (published)", str(sigma),
                       *(f"{np.mean(scores[k]):.2f}" for k in ("input", *nets)),
                       f"{pub['FFDNet'][si]:.2f}", f"{pub['DRUNet'][si]:.2f}"]
                lines.append("| " + " | ".join(row) + " |")
                print(lines[-1], flush=True)
    return "\n".join(lines)


def random_motion(rng: np.random.Generator, length: int = 11) -> tuple[np.ndarray, float]:
    angle = float(rng.uniform(0, 180))
    return H.motion_kernel(length, angle), angle


def blur_with(img8: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """OpenCV filter2D (a correlation: the convolution kernel is the flipped one), reflected borders, uint8."""
    return H.quantise(cv2.filter2D(img8.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT))


def heldout_tasks():
    """(name, fn(img8, rng) -> (lq8, true kernel or None, sigma))."""
    def noise(s):
        return lambda a, rng: (H.gaussian_noise(a, s, rng), None, float(s))

    def gauss(a, rng):
        k = H.gaussian_kernel(1.6)
        return blur_with(a, k), k, 0.0

    def motion(a, rng):
        k, _ = random_motion(rng)
        return blur_with(a, k), k, 0.0

    def chain(a, rng):
        k = H.gaussian_kernel(1.2)
        return H.gaussian_noise(blur_with(a, k), 10, rng), k, 10.0

    return [("noise s15", noise(15)), ("noise s25", noise(25)), ("noise s50", noise(50)),
            ("gaussian blur s1.6", gauss), ("motion blur 11px, random angle", motion),
            ("blur 1.2 > noise 10", chain), ("clean", lambda a, rng: (a.copy(), None, 0.0))]


def part_heldout(args) -> str:
    from gir.analysis.kernel import estimate_kernel
    from gir.restore.operators import Blur
    from gir.restore.pipeline import Pipeline
    from gir.restore.pnp import denoiser_prior, solve

    imgs, skipped = H.skimage_images(args.max_side, args.max_images)
    pipe = Pipeline(ensemble=1)
    prior = denoiser_prior()
    told = denoiser("gir-denoiser")
    lines = [f"### Held-out photos: noise and blur, blind and told (issue 28)", "", header(args),
             f"{len(imgs)} scikit-image photos, centre crops of at most {args.max_side} px"
             + (f" (left out: {', '.join(skipped)})" if skipped else "") + ".", ""]
    previous = {}
    if args.previous:  # issue 21's blind experts, run alone on their family's tasks (the baseline)
        from gir.restore.engine import Restorer

        folder = Path(args.previous)
        previous = {kind: Restorer(str(folder / f"gir-expert-{kind}.safetensors"), impulse_repair=False, ensemble=1)
                    for kind in ("noise", "sharpen") if (folder / f"gir-expert-{kind}.safetensors").is_file()}
    cols = ["task", "input", "gir restore (blind)", "gain", "told (sigma / true kernel)", "gain told",
            "previous expert alone", "kept", "kernel estimate"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    wanted = [w.strip() for w in args.tasks.split(",")] if args.tasks else None
    for t, (name, fn) in enumerate(heldout_tasks()):
        if wanted is not None and not any(name.startswith(w) for w in wanted if w):
            continue
        rows = []
        for i, (img_name, gt8) in enumerate(imgs):
            rng = np.random.default_rng(H.task_seed(0, name, img_name))
            lq8, kernel, sigma = fn(gt8, rng)
            gt, lq = gt8.astype(np.float32) / 255, lq8.astype(np.float32) / 255
            outcome = pipe.run(lq)
            blind = psnr8(outcome.image, gt) if name != "clean" else psnr8(outcome.image, lq)
            ref, est = float("nan"), ""
            if kernel is not None:
                ref = psnr8(solve(lq, Blur(kernel[::-1, ::-1]), prior, sigma), gt)
                view = told(lq, sigma) if sigma > 2 else lq
                e = estimate_kernel(view)
                est = (f"{e.params['sigma']:.2f}" if e.kind == "gaussian" else
                       f"{e.params['length']:.1f}@{e.params['angle']:.0f}" if e.kind == "motion" else e.kind)
            elif sigma > 0:
                ref = psnr8(told(lq, sigma), gt)
            prev = previous.get("noise" if name.startswith("noise") else "sharpen" if "blur" in name else "")
            prev_score = psnr8(prev(lq), gt) if prev is not None and name != "clean" else float("nan")
            rows.append((psnr8(lq, gt) if name != "clean" else math.inf, blind, ref, outcome.changed, est,
                         prev_score))
            print(f"  {name} {img_name}: {rows[-1]}", flush=True)
        inp = np.mean([r[0] for r in rows])
        bl = [r[1] for r in rows]
        if name == "clean":
            finite = [b for b in bl if math.isfinite(b)]
            row = [name, "-", f"{sum(not math.isfinite(b) for b in bl)}/{len(bl)} unchanged; lowest "
                   f"{min(finite):.2f} dB vs itself" if finite else f"{len(bl)}/{len(bl)} unchanged", "-", "-", "-",
                   "-", f"{sum(r[3] for r in rows)}/{len(rows)}", ""]
        else:
            ref = np.mean([r[2] for r in rows])
            ests = ", ".join(r[4] for r in rows if r[4])
            row = [name, f"{inp:.2f}", f"{np.mean(bl):.2f}", f"{np.mean(bl) - inp:+.2f}",
                   f"{ref:.2f}" if math.isfinite(ref) else "-", f"{ref - inp:+.2f}" if math.isfinite(ref) else "-",
                   fmt_mean([r[5] for r in rows]), f"{sum(r[3] for r in rows)}/{len(rows)}", ests]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def fmt_mean(values) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{np.mean(finite):.2f}" if finite else "-"


def part_speed(args) -> str:
    from gir.restore.experts import DeblurExpert
    from gir.analysis.kernel import gaussian_kernel_for

    rng = np.random.default_rng(0)
    img = np.clip(cv2.GaussianBlur(rng.random((1000, 1000, 3), dtype=np.float32), (0, 0), 3) * 1.5 - 0.25, 0, 1)
    told = denoiser("gir-denoiser")
    told(img[:64, :64], 10.0)  # load
    t = time.perf_counter()
    told(img, 10.0)
    den = time.perf_counter() - t
    from gir.restore.pnp import Schedule

    deblur = DeblurExpert("deblur", ("blur",), "pnp", "", kernel=gaussian_kernel_for(1.6))
    deblur(img[:64, :64])
    t = time.perf_counter()
    deblur(img)
    pnp = time.perf_counter() - t
    blind = DeblurExpert("deblur", ("blur",), "pnp", "")
    blind._prior = deblur.prior
    blurred = cv2.GaussianBlur(img, (0, 0), 1.6)
    t = time.perf_counter()
    blind(blurred)
    est = time.perf_counter() - t
    lines = [f"### Speed per megapixel (issue 28)", "", header(args), "",
             "| expert | s per MP (1000 x 1000) | bar |", "|---|---|---|",
             f"| gir-denoiser alone | {den:.2f} | 1 |", f"| plug-and-play deblurring ({Schedule().iterations} iterations, bf16 prior) | {pnp:.2f} | 3 |",
             f"| plug-and-play deblurring with the kernel estimate | {est:.2f} | 3 |"]
    print("\n".join(lines))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--part", choices=("published", "heldout", "speed"), required=True)
    ap.add_argument("--model", action="append", help="denoiser(s) for the published part (default gir-denoiser)")
    ap.add_argument("--max-images", type=int)
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--previous", help="a folder with issue 21's gir-expert-noise / gir-expert-sharpen weights "
                                       "(`git show 6bb2ad6:src/gir/weights/NAME.safetensors`): the baseline column")
    ap.add_argument("--tasks", help="comma-separated held-out task names to run (default: all), e.g. "
                                    "'gaussian blur s1.6,motion blur 11px, random angle'... matched by prefix")
    ap.add_argument("--append", help="append the table to this file")
    args = ap.parse_args()
    args.model = args.model or ["gir-denoiser"]
    root = shared_or_skip(args.threads)
    if args.part == "published":
        if root is None:
            return
        text = part_published(args, Path(root))
    elif args.part == "heldout":
        text = part_heldout(args)
    else:
        text = part_speed(args)
    if args.append:
        emit("", args.append)
        with open(args.append, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
