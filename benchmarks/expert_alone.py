"""One task, several networks, whole test photos: an expert candidate against the shipped one in the same run
(the evaluation path of every benchmark: :func:`gir.bench.evaluate.evaluate`, 8-bit rounded outputs, RGB PSNR).

    python benchmarks/expert_alone.py --task "noise(sigma=25)" --set cbsd68 \
        --model gir-denoiser --model runs/experts/denoiser/models/net_latest.safetensors
    python benchmarks/expert_alone.py --task "noise(sigma=25)" --model gir-denoiser --ensemble 1 --ensemble 4

``--ensemble N`` (repeatable) scores every model also with its geometric self-ensemble of N passes. A
conditioned network (``gir.models.conditioning``) is told the values that `gir restore` would measure
(``--conditions measured``: the analyzer, fused with the pixels' JPEG quantiser lattice) or those of the task's
recipe (``--conditions task``); with ``both``, each such network is scored both ways.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, help="recipe text, e.g. 'noise(sigma=25)'")
    ap.add_argument("--model", action="append", required=True, help="shipped name or checkpoint (repeatable)")
    ap.add_argument("--set", default="cbsd68", help="test set under <shared>/test (default cbsd68)")
    ap.add_argument("--max-images", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ensemble", action="append", choices=("1", "2", "4", "8", "auto"),
                    help="self-ensemble passes (repeatable; default 1; auto: as `gir restore` chooses per photo)")
    ap.add_argument("--conditions", choices=("measured", "task", "both"), default="measured",
                    help="what a conditioned network is told (default measured, as gir restore does)")
    args = ap.parse_args(argv)

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.bench.evaluate import EvalTask, evaluate, load_images, mean_table
    from gir.degradations import Recipe
    from gir.restore.engine import Restorer

    shared = shared_or_skip(args.threads)
    if shared is None:
        return 0
    folder = shared / "test" / args.set
    label = lambda m, e: m if e == "1" else f"{m} x{e}"
    nets = {label(m, e): Restorer(m, device="cpu", impulse_repair=False, ensemble=e)
            for m in args.model for e in (args.ensemble or ["1"])}
    ways = ["measured", "task"] if args.conditions == "both" else [args.conditions]
    methods = {}
    for m, net in nets.items():
        if not net.model.descriptor.conditioning:
            methods[m] = lambda lq, _r, net=net: net(lq)
            continue
        for way in ways:
            told = measured_values if way == "measured" else task_values
            methods[f"{m} ({way} values)"] = lambda lq, r, net=net, told=told: net(lq, conditions=told(lq, r))
    t0 = time.perf_counter()
    scores = evaluate(methods, [EvalTask(args.task, Recipe.from_text(args.task))],
                      load_images(folder, args.max_images), args.seed)
    means = mean_table(scores, ("method",))
    n = means[("input",)]["n"]
    print(f"{args.task} on {args.set} ({n} whole photos, seed {args.seed}), {time.perf_counter() - t0:.0f} s\n")
    print("| model | PSNR | SSIM | vs input | vs first model |\n|---|---:|---:|---:|---:|")
    first = means[(next(iter(methods)),)]["psnr"]
    for (m,), v in means.items():
        print(f"| {Path(m).name if m != 'input' else 'input'} | {v['psnr']:.2f} | {v['ssim']:.4f} | "
              f"{v['psnr'] - means[('input',)]['psnr']:+.2f} | {v['psnr'] - first:+.2f} |")
    return 0


def task_values(lq, recipe) -> dict[str, float]:
    """The conditioning values of the degradation that made ``lq``."""
    from gir.models.conditioning import CONDITIONS, from_recipe

    return from_recipe(recipe, list(CONDITIONS))


def measured_values(lq, recipe) -> dict[str, float]:
    """The strengths `gir restore` measures on ``lq`` (:func:`gir.analysis.analyze.diagnose`; the shipped
    analyzer, which :func:`gir.analysis.analyze.get_analyzer` loads once)."""
    from gir.analysis.analyze import get_analyzer
    from gir.analysis.analyze import diagnose

    return diagnose(get_analyzer(), lq)[1].strengths()


if __name__ == "__main__":
    sys.exit(main())
