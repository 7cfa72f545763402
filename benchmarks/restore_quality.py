"""Quality of a restoration model against the degraded input and classical baselines, in one run.

Tasks: GIR's ten single degradations at their representative settings (paper 000, A.1.1), two extra single
ops that have textbook baselines (salt-and-pepper, low light), and ten fixed mixed chains of order 2-4
(acquisition ops first, as in the random chains). Every (task, image) pair gets its own seed, so the input,
the model and the baseline see the same degraded image, and reruns see the same inputs.

Four more tasks are issue 21's bars: Gaussian noise sigma 25, JPEG quality 20, Gaussian blur sigma 1.6 and
bicubic x2 down-up sampling.

Methods in the same run: ``input`` (no restoration), ``classical`` (per-op textbook method, told the op and
its setting, chains undone last step first: :mod:`gir.bench.classical`), ``model`` (blind: not told the task,
run as ``gir restore`` runs it: by default the pipeline of :mod:`gir.restore.pipeline`, analyze -> plan ->
experts -> verify; with ``--model`` that one network, impulse repair first unless ``--no-impulse-repair``)
and ``previous`` (``--previous``, default milestone 1's single network ``gir-wunet-cpu``, run the same way;
``--previous none`` leaves it out). PSNR / SSIM on RGB, no border crop (:mod:`gir.metrics`).

A second table puts the model on Gaussian noise sigma=25 on CBSD68, the field's most published number, next
to BM3D (30.71 dB published; run here too when the ``bm3d`` package is installed, on ``--bm3d-images``
images, the same ones for the model) and FFDNet (31.21 dB published).

    python benchmarks/restore_quality.py                                 # shipped model, CBSD68 + Kodak24
    python benchmarks/restore_quality.py --model runs/x/models/net_latest.safetensors --max-images 8
    python benchmarks/restore_quality.py --append benchmarks/RESULTS.md --json out/quality.json
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.bench import classical
from gir.bench.evaluate import EvalTask, evaluate, load_images, mean_table
from gir.degradations.recipe import Recipe

BARS = ["noise(sigma=25)", "jpeg(quality=20)", "blur(sigma=1.6)", "resize(scale=2)"]  # issue 21
SINGLE = ["resize", "blur", "noise", "jpeg", "ringing", "rl_artifact", "damage", "rain", "haze", "snow"]
EXTRA = ["salt_pepper", "low_light"]
MIXED = [
    "blur(sigma=1.5) > noise(sigma=15)",
    "resize(scale=2) > jpeg(quality=50)",
    "noise(sigma=15) > jpeg(quality=50)",
    "haze(beta=1.2) > noise(sigma=10)",
    "rain > jpeg(quality=60)",
    "ringing > noise(sigma=10) > jpeg(quality=60)",
    "resize(scale=2) > noise(sigma=10) > jpeg(quality=50)",
    "haze(beta=1.2) > blur(sigma=1.5) > rl_artifact",
    "snow > resize(scale=2) > noise(sigma=10) > jpeg(quality=70)",
    "rain > blur(sigma=1.5) > damage(count=5) > jpeg(quality=60)",
]
PUBLISHED_SIGMA25 = {"BM3D": 30.71, "FFDNet": 31.21}  # CBSD68, RGB PSNR (paper numbers)


def tasks() -> list[EvalTask]:
    out = [EvalTask(op, Recipe.from_text(op), "single") for op in SINGLE]
    out += [EvalTask(op, Recipe.from_text(op), "extra") for op in EXTRA]
    out += [EvalTask(text, Recipe.from_text(text), f"mixed-{len(Recipe.from_text(text).steps)}")
            for text in MIXED]
    out += [EvalTask(text, Recipe.from_text(text), "bar") for text in BARS]
    return out


def model_method(spec: str | None, impulse_repair: bool = True):
    """(img, recipe) -> restored, and a description: the default pipeline for None, else that network."""
    if spec is None:
        from gir.restore.pipeline import Pipeline

        pipeline = Pipeline(device="cpu", skip=None if impulse_repair else ["impulse"])
        experts = ", ".join(f"{n} ({'/'.join(e.families)})" for n, e in pipeline.experts.items())
        return (lambda img, recipe: pipeline(img)), f"the default pipeline (experts: {experts})"
    from gir.restore import Restorer

    restorer = Restorer(spec, device="cpu", impulse_repair=impulse_repair)
    return (lambda img, recipe: restorer(img)), restorer.describe()


def classical_method(img, recipe):
    return classical.undo_recipe(img, recipe)


def quality_table(scores, task_list) -> tuple[str, dict]:
    """Markdown table per task (mean over all images of all sets) and the summary numbers."""
    means = mean_table(scores, ("task", "method"))
    prev = any(k[1] == "previous" for k in means)
    lines = ["| task | group | input PSNR / SSIM | classical (method) PSNR / SSIM | model PSNR / SSIM | "
             + ("previous PSNR / SSIM | " if prev else "") + "model - input | model - classical |"
             + (" model - previous |" if prev else ""),
             "|---|---|---|---|---|" + ("---|" if prev else "") + "---:|---:|" + ("---:|" if prev else "")]
    gains, over_classical, improved, not_worse = [], [], 0, 0
    for t in task_list:
        i, c, m = (means[(t.name, k)] for k in ("input", "classical", "model"))
        gains.append(m["psnr"] - i["psnr"])
        over_classical.append(m["psnr"] - c["psnr"])
        improved += m["psnr"] > i["psnr"] + 0.005
        not_worse += m["psnr"] > i["psnr"] - 0.005
        pr = means[(t.name, "previous")] if prev else None
        lines.append(f"| `{t.name}` | {t.group} | {i['psnr']:.2f} / {i['ssim']:.3f} | "
                     f"{c['psnr']:.2f} / {c['ssim']:.3f} ({classical.describe(t.recipe)}) | "
                     f"{m['psnr']:.2f} / {m['ssim']:.3f} | "
                     + (f"{pr['psnr']:.2f} / {pr['ssim']:.3f} | " if prev else "")
                     + f"{gains[-1]:+.2f} | {over_classical[-1]:+.2f} |"
                     + (f" {m['psnr'] - pr['psnr']:+.2f} |" if prev else ""))
    methods = ("input", "classical", "model") + (("previous",) if prev else ())
    avg = {k: float(np.mean([means[(t.name, k)]["psnr"] for t in task_list])) for k in methods}
    avg_ssim = {k: float(np.mean([means[(t.name, k)]["ssim"] for t in task_list])) for k in methods}
    lines.append(f"| **average** | {len(task_list)} tasks | {avg['input']:.2f} / {avg_ssim['input']:.3f} | "
                 f"{avg['classical']:.2f} / {avg_ssim['classical']:.3f} | {avg['model']:.2f} / "
                 f"{avg_ssim['model']:.3f} | "
                 + (f"{avg['previous']:.2f} / {avg_ssim['previous']:.3f} | " if prev else "")
                 + f"{np.mean(gains):+.2f} | {np.mean(over_classical):+.2f} |"
                 + (f" {avg['model'] - avg['previous']:+.2f} |" if prev else ""))
    summary = {"tasks": len(task_list), "model_beats_input": int(improved), "model_not_below_input": int(not_worse),
               "avg_psnr": avg, "avg_ssim": avg_ssim,
               "worst_gain_over_input": float(min(gains))}
    return "\n".join(lines), summary


def per_dataset_table(scores) -> str:
    means = mean_table(scores, ("dataset", "method"))
    sets = list(dict.fromkeys(s.dataset for s in scores))
    lines = ["| set | input | classical | model |", "|---|---:|---:|---:|"]
    for d in sets:
        lines.append(f"| {d} | " + " | ".join(f"{means[(d, m)]['psnr']:.2f} / {means[(d, m)]['ssim']:.3f}"
                                              for m in ("input", "classical", "model")) + " |")
    return "\n".join(lines)


def sigma25(model, cbsd68: Path, bm3d_images: int, max_images: int | None, seed: int, previous=None
            ) -> tuple[str, dict]:
    """Model (the previous model and BM3D when given / installed) on CBSD68 with AWGN sigma=25; returns the
    table and numbers."""
    task = EvalTask("noise(sigma=25)", Recipe.from_text("noise(sigma=25)"), "sigma25")
    images = list(load_images(cbsd68, max_images))
    methods = {"model": model, **({"previous": previous} if previous is not None else {})}
    with tqdm(total=len(images), desc="sigma 25 / model", unit="img") as bar:
        full = evaluate(methods, [task], images, seed, on_pair=bar.update)
    res = {k: v["psnr"] for (k,), v in mean_table(full, ("method",)).items()}
    rows = [f"| model (all {len(images)} images) | {res['model']:.2f} | input {res['input']:.2f} |"]
    if previous is not None:
        rows.append(f"| previous (all {len(images)} images) | {res['previous']:.2f} | model "
                    f"{res['model'] - res['previous']:+.2f} |")
    out = {"images": len(images), "model": res["model"], "input": res["input"], "previous": res.get("previous")}
    try:
        import bm3d
    except ImportError:
        rows.append("| BM3D (this run) | not run: `pip install bm3d` to include it | |")
    else:
        sub = images[:bm3d_images]

        def run_bm3d(img, recipe):
            return np.clip(bm3d.bm3d_rgb(img, 25 / 255), 0, 1).astype(np.float32)
        with tqdm(total=len(sub), desc="sigma 25 / BM3D", unit="img") as bar:
            part = evaluate({"model": model, "bm3d": run_bm3d}, [task], sub, seed, on_pair=bar.update)
        r = {k: v["psnr"] for (k,), v in mean_table(part, ("method",)).items()}
        rows.append(f"| BM3D, this run (first {len(sub)} images) | {r['bm3d']:.2f} | model on the same images "
                    f"{r['model']:.2f} ({r['model'] - r['bm3d']:+.2f}) |")
        out.update(bm3d_images=len(sub), bm3d=r["bm3d"], model_on_bm3d_images=r["model"])
    for name, value in PUBLISHED_SIGMA25.items():
        rows.append(f"| {name} (published, all 68) | {value:.2f} | model {res['model'] - value:+.2f} |")
    table = "| method | PSNR (dB) | note |\n|---|---:|---|\n" + "\n".join(rows)
    return table, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model name or checkpoint (default: the default pipeline)")
    ap.add_argument("--previous", default="gir-wunet-cpu",
                    help="a second model in the same run (default gir-wunet-cpu, milestone 1's; 'none': skip)")
    ap.add_argument("--data", default="../shared/data/test", help="folder holding cbsd68/ and kodak24/")
    ap.add_argument("--sets", nargs="+", default=["cbsd68", "kodak24"])
    ap.add_argument("--max-images", type=int, help="first N images of each set (default all)")
    ap.add_argument("--bm3d-images", type=int, default=68, help="CBSD68 images BM3D runs on (~20-40 s each)")
    ap.add_argument("--no-sigma25", action="store_true", help="skip the sigma=25 comparison")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--impulse-repair", action=argparse.BooleanOptionalAction, default=True,
                    help="the model runs as `gir restore` does, impulse repair first (default); "
                         "--no-impulse-repair measures the network alone")
    ap.add_argument("--json", help="write all numbers and per-image scores here")
    ap.add_argument("--append", help="also append the tables to this Markdown file")
    args = ap.parse_args()

    from gir.utils.runtime import tune_allocator
    tune_allocator()
    data = Path(args.data)
    missing = [s for s in args.sets if not (data / s).is_dir()]
    if missing:
        raise SystemExit(f"{data}: missing {', '.join(missing)} (point --data at the test images)")
    model, described = model_method(args.model, args.impulse_repair)
    methods = {"classical": classical_method, "model": model}
    if args.previous and args.previous.lower() != "none":
        methods["previous"] = model_method(args.previous, args.impulse_repair)[0]
    task_list = tasks()
    images = [im for s in args.sets for im in load_images(data / s, args.max_images)]
    t0 = time.perf_counter()
    with tqdm(total=len(images) * len(task_list), desc="tasks x images", unit="pair") as bar:
        scores = evaluate(methods, task_list, images, args.seed, on_pair=bar.update)
    table, summary = quality_table(scores, task_list)
    head = (f"### Restoration quality: {described}\n\n{datetime.now():%Y-%m-%d}, {platform.node()}, "
            f"{platform.processor() or platform.machine()}; sets {', '.join(args.sets)} "
            f"({len(images)} images{'' if not args.max_images else f', first {args.max_images} per set'}), "
            f"seed {args.seed}; `python benchmarks/restore_quality.py"
            f"{' --model ' + args.model if args.model else ''}"
            f"{f' --max-images {args.max_images}' if args.max_images else ''}`; "
            f"{time.perf_counter() - t0:.0f} s.\n\nPSNR (dB, RGB) / SSIM, mean over images; "
            f"model above the input on {summary['model_beats_input']}/{summary['tasks']} tasks, not below it "
            f"(within 0.005 dB) on {summary['model_not_below_input']}/{summary['tasks']}"
            f"{'; previous: ' + args.previous if 'previous' in methods else ''}.\n")
    text = head + "\n" + table + "\n\nPer set, all tasks:\n\n" + per_dataset_table(scores)
    results = {"summary": summary, "scores": [s.__dict__ for s in scores]}
    if not args.no_sigma25 and (data / "cbsd68").is_dir():
        t25, n25 = sigma25(model, data / "cbsd68", args.bm3d_images, args.max_images, args.seed,
                           methods.get("previous"))
        text += "\n\nGaussian noise sigma=25, CBSD68:\n\n" + t25
        results["sigma25"] = n25
    emit(text + "\n", args.append)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
