"""DCPT 5D experiment (paper 004): the DCPT fine-tuned network against the one trained from scratch for the same
number of iterations, per task, on the five tasks both were trained on.

Tasks at representative strengths: haze, rain, Gaussian noise sigma=25, motion blur, low light. Images:
256-px centre crops of CBSD68 + Kodak24 (``--crop``; ``--max-images`` per set). Every (task, image) pair
gets its own seed (:func:`gir.bench.evaluate.pair_seed`), so both networks and the input see the same
degraded image, and reruns see the same inputs. Scored through the project's one path,
:func:`gir.bench.evaluate.evaluate`: PSNR / SSIM on RGB, no border crop. The networks run blind (not told the
task), as ``gir restore`` runs them but without the impulse repair (the network alone).

    python benchmarks/dcpt_5d.py runs/dcpt_5d_finetune/models/net_latest.safetensors \\
        runs/scratch_5d/models/net_latest.safetensors                    # configs/dcpt_5d_*.yaml, scratch_5d
    python benchmarks/dcpt_5d.py A.safetensors B.safetensors --names dc-guided scratch --max-images 4
    python benchmarks/dcpt_5d.py A B --append benchmarks/RESULTS.md --json out/dcpt_5d.json
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.bench.evaluate import EvalTask, evaluate, load_images, mean_table
from gir.degradations.recipe import Recipe

TASKS = [("haze", "haze"), ("rain", "rain"), ("noise25", "noise(sigma=25)"), ("motion_blur", "motion_blur"),
         ("low_light", "low_light")]


def tasks() -> list[EvalTask]:
    """The five 5D tasks; a bare op name takes its representative parameters."""
    return [EvalTask(name, Recipe.from_text(text), "5d") for name, text in TASKS]


def network_method(path: str, key: str):
    """A blind restoration method (degraded image, recipe) -> restored image from a checkpoint, and its
    description; ``key`` params_ema falls back to params when the checkpoint has no EMA."""
    from gir.models.checkpoint import load_model, load_state
    from gir.restore import Restorer

    used = load_state(path, key=key)[1]["key"]
    restorer = Restorer(load_model(path, key=key), device="cpu", impulse_repair=False)
    return (lambda img, recipe: restorer(img)), f"{path} ({used})"


def cropped(images, crop: int | None):
    """(dataset, name, image) with each image centre-cropped to ``crop`` px (None: whole)."""
    from gir.data.patches import centre_crop

    for dataset, name, img in images:
        yield dataset, name, centre_crop(img, crop) if crop else img


def comparison_table(scores, task_list, names: tuple[str, str]) -> tuple[str, dict]:
    """Markdown: per task the input and both models (PSNR / SSIM) and model A - model B; then the average."""
    a, b = names
    means = mean_table(scores, ("task", "method"))
    lines = [f"| task | recipe | input PSNR / SSIM | {a} PSNR / SSIM | {b} PSNR / SSIM | {a} - {b} (dB) | "
             f"{a} - {b} (SSIM) |", "|---|---|---|---|---|---:|---:|"]
    rows = {}
    for t in task_list:
        i, ma, mb = (means[(t.name, k)] for k in ("input", a, b))
        rows[t.name] = {"input": i, a: ma, b: mb, "diff_psnr": ma["psnr"] - mb["psnr"],
                        "diff_ssim": ma["ssim"] - mb["ssim"]}
        lines.append(f"| `{t.name}` | `{t.recipe.to_text()}` | {i['psnr']:.2f} / {i['ssim']:.3f} | "
                     f"{ma['psnr']:.2f} / {ma['ssim']:.3f} | {mb['psnr']:.2f} / {mb['ssim']:.3f} | "
                     f"{rows[t.name]['diff_psnr']:+.2f} | {rows[t.name]['diff_ssim']:+.4f} |")
    avg = {k: {m: float(np.mean([means[(t.name, k)][m] for t in task_list])) for m in ("psnr", "ssim")}
           for k in ("input", a, b)}
    lines.append(f"| **average** | {len(task_list)} tasks | {avg['input']['psnr']:.2f} / {avg['input']['ssim']:.3f} "
                 f"| {avg[a]['psnr']:.2f} / {avg[a]['ssim']:.3f} | {avg[b]['psnr']:.2f} / {avg[b]['ssim']:.3f} | "
                 f"{avg[a]['psnr'] - avg[b]['psnr']:+.2f} | {avg[a]['ssim'] - avg[b]['ssim']:+.4f} |")
    wins = sum(r["diff_psnr"] > 0 for r in rows.values())
    return "\n".join(lines), {"tasks": rows, "average": avg, "a_wins": int(wins)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_a", help="checkpoint of the DCPT fine-tuned network")
    ap.add_argument("model_b", help="checkpoint of the network trained from scratch")
    ap.add_argument("--names", nargs=2, default=["dcpt", "scratch"], metavar=("A", "B"))
    ap.add_argument("--key", default="params_ema", choices=["params_ema", "params"],
                    help="weights to read (params_ema falls back to params)")
    ap.add_argument("--data", default="../shared/data/test", help="folder holding cbsd68/ and kodak24/")
    ap.add_argument("--sets", nargs="+", default=["cbsd68", "kodak24"])
    ap.add_argument("--max-images", type=int, help="first N images of each set (default all)")
    ap.add_argument("--crop", type=int, default=256, help="centre crop side in px (0: whole images)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", help="write all numbers and per-image scores here")
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()
    if args.names[0] == args.names[1] or "input" in args.names:
        raise SystemExit("--names: two different names, neither 'input'")

    import torch

    from gir.utils.runtime import tune_allocator
    tune_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    missing = [s for s in args.sets if not (data / s).is_dir()]
    if missing:
        raise SystemExit(f"{data}: missing {', '.join(missing)} (point --data at the test images)")
    methods, described = {}, {}
    for name, path in zip(args.names, (args.model_a, args.model_b)):
        methods[name], described[name] = network_method(path, args.key)
    task_list = tasks()
    images = list(cropped((im for s in args.sets for im in load_images(data / s, args.max_images)),
                          args.crop or None))
    t0 = time.perf_counter()
    with tqdm(total=len(images) * len(task_list), desc="tasks x images", unit="pair") as bar:
        scores = evaluate(methods, task_list, images, args.seed, on_pair=bar.update)
    table, summary = comparison_table(scores, task_list, tuple(args.names))
    command = "python benchmarks/dcpt_5d.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    a, b = args.names
    head = (f"### DCPT 5D: {a} vs {b}\n\n{datetime.now():%Y-%m-%d}, {platform.node()}, "
            f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads; "
            f"`{command}`; {time.perf_counter() - t0:.0f} s.\n\n"
            f"{a}: `{described[a]}`; {b}: `{described[b]}`. Sets {', '.join(args.sets)} "
            f"({len(images)} images{f', first {args.max_images} per set' if args.max_images else ''}"
            f"{f', {args.crop}-px centre crops' if args.crop else ''}), seed {args.seed}. PSNR (dB, RGB) / "
            f"SSIM, mean over images; {a} above {b} on {summary['a_wins']}/{len(task_list)} tasks.\n")
    emit(head + "\n" + table + "\n", args.append)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "scores": [s.__dict__ for s in scores]},
                                              indent=1))


if __name__ == "__main__":
    main()
