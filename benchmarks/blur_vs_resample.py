"""Issue 28: does the restore path tell blur from bicubic resampling? Two probes on scikit-image photos (not in
../shared), degraded with Pillow and OpenCV by ``heldout_restore.py``'s own functions:

* ``analyzer``: the analyzer's p(blur) and p(resize) on bicubic x2 / x3 down-up and Gaussian blur sigma 1.0 /
  1.6 / 2.0 (what set ``yields_to`` in ``gir.restore.policy``);
* ``sweep``: bicubic x2 (then JPEG 40), the JPEG step run, then the plug-and-play deblurring told a Gaussian of
  fixed sigma (0.6 / 0.8 / 1.0 / 1.11) and noise 1.8 or 4.0: PSNR against the original, to see which kernel the
  resampling acts like.

    python benchmarks/blur_vs_resample.py --part analyzer
    python benchmarks/blur_vs_resample.py --part sweep
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heldout_restore as H  # noqa: E402

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "immunohistochemistry")


def _photo(name: str) -> np.ndarray:
    from skimage import data

    return getattr(data, name)()


def part_analyzer() -> None:
    from gir.analysis.analyze import get_analyzer

    an = get_analyzer(None, device="cpu")
    tasks = [("bicubic x2", lambda x: H.bicubic_down_up(x, 2)), ("bicubic x3", lambda x: H.bicubic_down_up(x, 3)),
             ("gauss 1.0", lambda x: H.gaussian_blur(x, 1.0)), ("gauss 1.6", lambda x: H.gaussian_blur(x, 1.6)),
             ("gauss 2.0", lambda x: H.gaussian_blur(x, 2.0))]
    print("| photo | " + " | ".join(f"{t} blur / resize" for t, _ in tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for name in PHOTOS:
        img = _photo(name)
        cells = []
        for _, fn in tasks:
            d = an(fn(img).astype(np.float32) / 255)
            cells.append(f"{d.findings['blur'].p:.2f} / {d.findings['resize'].p:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def part_sweep() -> None:
    from gir.metrics import psnr
    from gir.restore.operators import Blur
    from gir.restore.pipeline import Pipeline
    from gir.restore.pnp import solve

    pipe = Pipeline(only="jpeg", ensemble=1)
    prior = pipe.experts["deblur"].prior
    for name in ("chelsea", "coffee"):
        img = _photo(name)
        gt = img.astype(np.float32) / 255
        for task, fn in (("bicubic x2 > jpeg40", lambda x: H.jpeg(H.bicubic_down_up(x, 2), 40)),
                         ("bicubic x2", lambda x: H.bicubic_down_up(x, 2))):
            lq = fn(img).astype(np.float32) / 255
            x = pipe.run(lq).image
            row = [f"{name} {task}: input {psnr(lq, gt):.2f}, after the JPEG step {psnr(x, gt):.2f}"]
            for sigma in (0.6, 0.8, 1.0, 1.11):
                k = H.gaussian_kernel(sigma).astype(np.float64)
                row.append(f"sigma {sigma}: " + " / ".join(f"{psnr(solve(x, Blur(k), prior, n), gt):.2f}"
                                                           for n in (1.8, 4.0)))
            print("; ".join(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", required=True, choices=("analyzer", "sweep"))
    args = ap.parse_args()
    {"analyzer": part_analyzer, "sweep": part_sweep}[args.part]()


if __name__ == "__main__":
    main()
