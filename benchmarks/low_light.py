"""Low light: the pipeline's route (the `general` network) against a blind classical brightening, with ground
truth on synthetic low light and without it on real photos (issues 32 and 33).

Photos that are not in ../shared (scikit-image's, ``heldout_restore.py``; 256-px centre crops) darkened two
ways: the library's ``low_light`` op at its representative setting, and one written here (linear light x 0.12,
Poisson noise of 300 photons at white, read noise 0.002, sRGB-like gamma 2.2, 8 bits). Methods, all blind:
``gir restore``'s default pipeline, the general network alone (``gir-wunet-cpu``), a gamma curve taking the mean
luma to 0.4 (the suite's classical low-light method, ``gir.bench.classical``), and that gamma followed by
``gir-denoiser`` told the noise Immerkaer's estimator reads after the curve. PSNR against the original. Then the
real LOL and LIME photos of ``../shared/data/real`` (at most 512 px) scored with NIQE (the project's model) and
BRISQUE (the ``brisque`` package's, ``gir.metrics.brisque``), lower is better.

    python benchmarks/low_light.py
"""
from __future__ import annotations

import platform
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import heldout_restore as H  # noqa: E402

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LIBRARY = "low_light(exposure=0.1,gamma=1.2,photons=500,read_noise=0.002)"


def darken_here(gt8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lin = (gt8 / 255.0) ** 2.2
    dark = 0.12 * lin
    noisy = rng.poisson(dark * 300) / 300 + rng.normal(0, 0.002, dark.shape)
    return H.quantise(np.clip(noisy, 0, 1) ** (1 / 2.2) * 255)


def main() -> None:
    from gir.bench.classical import CLASSICAL
    from gir.degradations.recipe import Recipe
    from gir.restore.classical import noise_std
    from gir.metrics import psnr
    from gir.restore.engine import Restorer
    from gir.restore.pipeline import Pipeline
    from gir.restore.pnp import denoiser_prior

    prior = denoiser_prior()
    pipe = Pipeline(ensemble=1)
    general = Restorer("gir-wunet-cpu", impulse_repair=False, ensemble=1)

    def gamma_to(img):  # the suite's classical low-light method: the mean luma to 0.4
        return CLASSICAL["low_light"][1](img, {})

    def gamma_denoised(img):
        b = gamma_to(img)
        s = noise_std(b)  # Immerkaer's estimate
        return prior(b, s) if s > 1.0 else b

    methods = {"pipeline": lambda x: pipe.run(x).image, "general network": general, "gamma (classical)": gamma_to,
               "gamma + denoiser": gamma_denoised}
    print(f"`python {' '.join(sys.argv)}`, {datetime.now():%Y-%m-%d %H:%M}, {platform.processor() or platform.machine()}\n")
    imgs, _ = H.skimage_images(256, None)
    recipe = Recipe.parse(LIBRARY)
    print("| darkened by | input | " + " | ".join(methods) + " |\n|" + "---|" * (len(methods) + 2))
    for task in ("library " + LIBRARY, "written here (x0.12 linear, 300 photons)"):
        rows = []
        for i, (name, gt8) in enumerate(imgs):
            gt = gt8.astype(np.float32) / 255
            if task.startswith("library"):
                lq = H.quantise(recipe.apply(gt, seed=i) * 255).astype(np.float32) / 255
            else:
                lq = darken_here(gt8, np.random.default_rng(i)).astype(np.float32) / 255
            rows.append([psnr(lq, gt)] + [psnr(fn(lq), gt) for fn in methods.values()])
        m = np.mean(rows, 0)
        print(f"| {task} ({len(rows)}) | " + " | ".join(f"{v:.2f}" for v in m) + " |", flush=True)
    from gir.bench.real import fit_side, safe_brisque, safe_niqe
    from gir.io import read_rgb

    print("\nReal photos, NIQE / BRISQUE (lower is better):\n")
    print("| photo | input | " + " | ".join(methods) + " |\n|" + "---|" * (len(methods) + 2))
    files = sorted((SHARED_REAL / "lol_lowlight").glob("*")) + sorted((SHARED_REAL / "lime_lowlight").glob("*"))
    if not files:
        print(f"(no real photos under {SHARED_REAL})")
    for f in files:
        x = fit_side(read_rgb(f), 512)
        outs = [x] + [fn(x) for fn in methods.values()]
        print(f"| {f.parent.name}/{f.name} | " + " | ".join(f"{safe_niqe(o):.2f} / {safe_brisque(o):.1f}" for o in outs)
              + " |", flush=True)


if __name__ == "__main__":
    main()
