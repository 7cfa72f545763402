"""``gir interpret``: what a restoration network's features know about the degradation of its input.

    gir interpret knn --model SPEC [--model SPEC ...] [--ops OP,OP,...] --images DIR [--images DIR]
                      [--max-images N] [--crop 128] [--k 5] [--splits 10] [--levels NAME,...] [--seed 0]
                      [-o DIR]
    gir interpret ddr --model SPEC [...] [--ops ...] --images DIR [...] [--layer NAME] [-o DIR]
    gir interpret lam --model SPEC IMAGE --box X,Y,W,H [--steps 50] [--sigma-max 4] [-o FIG.png] [--json]

SPEC: a shipped model name, a checkpoint path, or ``random:<arch>[:<preset>]``. ``knn`` is paper 004's
degradation-classification probe (kNN accuracy on pooled multi-level encoder features, plus their
Calinski-Harabasz index); ``ddr`` is paper 000's deep degradation representation analysis (CH index of one
layer's globally pooled features). Both write a t-SNE plot per model and a JSON file to -o. ``lam`` is
paper 000's attribution analysis (the local attribution map of one output box and its diffusion index, DI);
it prints the DI and writes a heat-map figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from gir.cli_args import add_output
from gir.errors import GirError
from gir.io import atomic_write

DEFAULT_OPS = ("haze", "rain", "noise", "motion_blur", "low_light")  # paper 004's five degradations


# ------------------------------------------------------------------------------------------------- input
def split_ops(text: str) -> list[str]:
    """Split ``--ops`` on commas outside parentheses: ``noise(sigma=25),haze(A=0.9,beta=1)`` -> 2 ops."""
    out, cur, depth = [], [], 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    if any(not o for o in out):
        raise GirError(f"--ops {text!r}: empty entry")
    return out


def load_clean_images(dirs: Sequence[str], max_images: int | None, crop: int,
                      log=None) -> tuple[list[str], list]:
    """(names, float32 H x W x 3 images) of the first ``max_images`` images of ``dirs`` that are at least
    ``crop`` px on each side; smaller ones are skipped (reported through ``log``)."""
    from gir.data.folders import list_images
    from gir.io import read_rgb

    names, images, skipped = [], [], []
    for path in list_images(list(dirs), key="--images"):
        if max_images and len(images) >= max_images:
            break
        img = read_rgb(path)
        if min(img.shape[:2]) < crop:
            skipped.append(path.name)
            continue
        names.append(str(path))
        images.append(img)
    if skipped and log:
        log(f"skipped {len(skipped)} image(s) smaller than the {crop}-px crop: {', '.join(skipped[:5])}"
            + (" ..." if len(skipped) > 5 else ""))
    if not images:
        raise GirError(f"no image of at least {crop} x {crop} px under {', '.join(map(str, dirs))}")
    return names, images


def _prepare(args) -> tuple[list[str], list[str], list[tuple[str, Any]]]:
    """Validate ops and models first (cheap), then read and degrade the images: (op texts, image names,
    samples)."""
    from gir.interpret.features import degraded_set, parse_ops

    ops = [t for t, _ in parse_ops(split_ops(args.ops))]
    if args.max_images is not None and args.max_images < 1:
        raise GirError(f"--max-images must be positive, got {args.max_images}")
    for spec in args.model:
        _check_spec(spec)
    names, images = load_clean_images(args.images, args.max_images, args.crop, log=_log(args))
    samples = degraded_set(images, ops, crop=args.crop, seed=args.seed, progress=not args.quiet)
    return ops, names, samples


def _check_spec(spec: str) -> None:
    """Fail before any work on a model spec that cannot load (random specs are built later, quickly)."""
    from gir.interpret.features import RANDOM_PREFIX, _build_random, resolve_checkpoint

    if spec.startswith(RANDOM_PREFIX):
        _build_random(spec, 0)
    else:
        resolve_checkpoint(spec)


def _log(args):
    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr)
    return log


def _plot_name(label: str, used: set[str]) -> str:
    from gir.interpret.features import slug

    base = f"tsne_{slug(label)}"
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return f"{name}.png"


def _write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2) + "\n")


def _common_record(args, ops, names, samples) -> dict[str, Any]:
    return {"ops": ops, "images": names, "crop": args.crop, "seed": args.seed, "n_samples": len(samples)}


# ------------------------------------------------------------------------------------------------- knn
def run_knn(args) -> dict[str, Any]:
    """Everything ``gir interpret knn`` computes; writes knn.json and the plots, returns the record."""
    from gir.interpret.ddr import calinski_harabasz, tsne_embedding
    from gir.interpret.features import load_network, multilevel_features
    from gir.interpret.knn import knn_probe
    from gir.interpret.plots import tsne_plot

    ops, names, samples = _prepare(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    labels = [lab for lab, _ in samples]
    images = [img for _, img in samples]
    levels = [s.strip() for s in args.levels.split(",")] if args.levels else None
    record = {**_common_record(args, ops, names, samples), "k": args.k, "splits": args.splits,
              "grid": args.grid, "features": "multilevel: each level adaptive-avg-pooled to grid x grid, "
                                             "concatenated, L2-normalised", "models": []}
    used: set[str] = set()
    for spec in args.model:
        t0 = time.perf_counter()
        model, label = load_network(spec, args.device, seed=args.seed)
        model_levels = levels or list(_levels_of(model))
        feats = multilevel_features(model, images, levels=model_levels, grid=args.grid, progress=not args.quiet)
        probe = knn_probe(feats, labels, k=args.k, splits=args.splits, seed=args.seed)
        ch = calinski_harabasz(feats, labels)
        plot = out / _plot_name(label, used)
        acc = f"{100 * probe['accuracy_mean']:.1f} ± {100 * probe['accuracy_std']:.1f} %"
        tsne_plot(tsne_embedding(feats, args.seed), labels, plot, f"{label}: kNN {acc}, CH {ch:.1f}")
        record["models"].append({"model": label, "levels": model_levels, "dim": int(feats.shape[1]),
                                 "knn": probe, "calinski_harabasz": ch, "tsne": plot.name,
                                 "seconds": round(time.perf_counter() - t0, 2)})
        del model
    _write_json(out / "knn.json", record)
    return record


def _levels_of(model) -> tuple[str, ...]:
    from gir.models.features import encoder_levels

    return encoder_levels(model)


def knn_table(record: dict[str, Any]) -> str:
    """The Markdown table of a knn record: model, kNN accuracy mean ± std, CH index."""
    lines = ["| model | kNN accuracy | CH index |", "|---|---:|---:|"]
    for m in record["models"]:
        p = m["knn"]
        lines.append(f"| {m['model']} | {100 * p['accuracy_mean']:.1f} ± {100 * p['accuracy_std']:.1f} % | "
                     f"{m['calinski_harabasz']:.2f} |")
    chance = 100 / len(record["ops"])
    lines.append("")
    lines.append(f"{record['n_samples']} samples ({len(record['images'])} images x {len(record['ops'])} ops: "
                 f"{', '.join(record['ops'])}), {record['crop']}-px crops; k = {record['k']}, "
                 f"{record['splits']} stratified 2:1 splits; chance = {chance:.1f} %")
    return "\n".join(lines)


def cmd_knn(args) -> int:
    record = run_knn(args)
    print(knn_table(record))
    print(f"wrote {Path(args.output) / 'knn.json'} and {len(record['models'])} t-SNE plot(s) in {args.output}")
    return 0


# ------------------------------------------------------------------------------------------------- ddr
def run_ddr(args) -> dict[str, Any]:
    """Everything ``gir interpret ddr`` computes; writes ddr.json and the plots, returns the record."""
    from gir.interpret.ddr import ddr_analysis
    from gir.interpret.features import load_network
    from gir.interpret.plots import tsne_plot

    ops, names, samples = _prepare(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    record = {**_common_record(args, ops, names, samples),
              "features": "DDR: one layer's output, globally average-pooled", "models": []}
    used: set[str] = set()
    for spec in args.model:
        t0 = time.perf_counter()
        model, label = load_network(spec, args.device, seed=args.seed)
        res = ddr_analysis(model, samples, layer=args.layer, seed=args.seed, label=label,
                           progress=not args.quiet)
        plot = out / _plot_name(label, used)
        tsne_plot(res.embedding, res.labels, plot, f"{label} [{res.layer}]: CH {res.calinski_harabasz:.1f}")
        record["models"].append({**res.summary(), "tsne": plot.name,
                                 "seconds": round(time.perf_counter() - t0, 2)})
        del model
    _write_json(out / "ddr.json", record)
    return record


def ddr_table(record: dict[str, Any]) -> str:
    lines = ["| model | layer | CH index |", "|---|---|---:|"]
    for m in record["models"]:
        lines.append(f"| {m['model']} | {m['layer']} | {m['calinski_harabasz']:.2f} |")
    lines.append("")
    lines.append(f"{record['n_samples']} samples ({len(record['images'])} images x {len(record['ops'])} ops: "
                 f"{', '.join(record['ops'])}), {record['crop']}-px crops; lower CH = weaker clustering by "
                 f"degradation (paper 000: better generalisation)")
    return "\n".join(lines)


def cmd_ddr(args) -> int:
    record = run_ddr(args)
    print(ddr_table(record))
    print(f"wrote {Path(args.output) / 'ddr.json'} and {len(record['models'])} t-SNE plot(s) in {args.output}")
    return 0


# ------------------------------------------------------------------------------------------------- lam
def run_lam(args) -> dict[str, Any]:
    """Everything ``gir interpret lam`` computes; writes the figure, returns the record. The box is checked
    against the image before the model loads."""
    from gir.interpret.features import load_network, slug
    from gir.interpret.lam import check_box, lam, lam_figure, parse_box
    from gir.io import read_rgb

    box = parse_box(args.box)
    image = read_rgb(args.image)
    h, w = image.shape[:2]
    box = check_box(box, h, w)
    _check_spec(args.model)
    t0 = time.perf_counter()
    model, label = load_network(args.model, args.device, seed=args.seed)
    res = lam(model, image, box, steps=args.steps, sigma_max=args.sigma_max, batch=args.batch,
              progress=not args.quiet)
    default = Path("interpret-runs/lam") / f"{Path(args.image).stem}_{slug(label)}.png"
    out = Path(args.output) if args.output else default
    lam_figure(image, res, out, title=f"{label} {Path(args.image).name}")
    return {"model": label, "image": str(args.image), "size": [w, h], **res.summary(), "seed": args.seed,
            "figure": str(out), "seconds": round(time.perf_counter() - t0, 2)}


def cmd_lam(args) -> int:
    record = run_lam(args)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        x, y, bw, bh = record["box"]
        print(f"{record['model']}  box {x},{y},{bw},{bh}: DI = {record['diffusion_index']:.2f} "
              f"(Gini {record['gini']:.4f}; {record['steps']} steps, sigma_max {record['sigma_max']:g} px)")
        print(f"wrote {record['figure']}")
    return 0


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


# ----------------------------------------------------------------------------------------------- parser
def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _common(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--model", action="append", required=True, metavar="SPEC",
                   help="shipped model NAME, checkpoint PATH or random:<arch>[:<preset>] (repeatable)")
    p.add_argument("--ops", default=",".join(DEFAULT_OPS),
                   help="comma-separated op names (representative strength) or recipe texts such as "
                        f"noise(sigma=25); default: paper 004's five, {','.join(DEFAULT_OPS)}")
    p.add_argument("--images", action="append", required=True, metavar="DIR",
                   help="folder of clean images (repeatable)")
    p.add_argument("--max-images", type=_positive, help="use only the first N images (over all folders)")
    p.add_argument("--crop", type=_positive, default=128, help="centre-crop side in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations, random weights, splits "
                                                       "and t-SNE (default 0)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps (default auto)")
    add_output(p, f"output folder (default {out_default})", default=out_default)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def add_interpret_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``interpret`` with ``knn``, ``ddr`` and ``lam`` to a ``gir`` subparsers object; returns the
    parser."""
    ip = subparsers.add_parser("interpret", help="what network features know about degradations: kNN probe "
                                                 "(paper 004), DDR clustering and LAM attribution (paper 000)",
                               description="Interpretation of restoration networks: degradation "
                                           "classification by kNN on encoder features (paper 004), the deep "
                                           "degradation representation's clustering and the local attribution "
                                           "map with its diffusion index (paper 000).")
    sub = ip.add_subparsers(dest="interpret_command", required=True, metavar="SUBCOMMAND")

    k = sub.add_parser("knn", help="kNN degradation-classification accuracy on multi-level encoder features",
                       description="Paper 004's probe: every image is centre-cropped and degraded by every op; "
                                   "the encoder levels are pooled to a small grid, concatenated and L2-normalised; "
                                   "a kNN (uniform weights, KD-tree) is scored on random stratified 2:1 splits. "
                                   "Prints a Markdown table; writes knn.json and a t-SNE plot per model.")
    _common(k, "interpret-runs/knn")
    k.add_argument("--k", type=_positive, default=5, help="neighbours (default 5)")
    k.add_argument("--splits", type=_positive, default=10, help="random train/test splits (default 10)")
    k.add_argument("--grid", type=_positive, default=4, help="each level is pooled to GRID x GRID (default 4)")
    k.add_argument("--levels", help="comma-separated module names instead of the declared encoder levels "
                                    "(e.g. only the deepest, as in paper 004's table)")
    k.set_defaults(func=cmd_knn)

    d = sub.add_parser("ddr", help="Calinski-Harabasz index and t-SNE of deep degradation representations",
                       description="Paper 000's DDR analysis: one layer's features, globally average-pooled, per "
                                   "degraded image; prints the CH index per model (lower = weaker clustering by "
                                   "degradation); writes ddr.json and a t-SNE plot per model.")
    _common(d, "interpret-runs/ddr")
    d.add_argument("--layer", help="module name (as in model.named_modules()); default: the deepest declared "
                                   "encoder level")
    d.set_defaults(func=cmd_ddr)

    from gir.interpret.lam import DEFAULT_BATCH, DEFAULT_SIGMA_MAX, DEFAULT_STEPS

    a = sub.add_parser("lam", help="local attribution map of one output box and its diffusion index (DI)",
                       description="Paper 000's attribution analysis (LAM, its ref. [36]): path-integrated gradients "
                                   "of the output box's gradient magnitude along a progressive blur path from a "
                                   "Gaussian-blurred baseline to the image; DI = (1 - Gini of the map) x 100, higher "
                                   "= the network uses a wider range of input pixels. Prints the DI; writes a "
                                   "heat-map figure.")
    a.add_argument("image", help="the input image (any size the model accepts; LAM runs on the whole image)")
    a.add_argument("--model", required=True, metavar="SPEC",
                   help="shipped model NAME, checkpoint PATH or random:<arch>[:<preset>]")
    a.add_argument("--box", required=True, metavar="X,Y,W,H",
                   help="the analysed output patch: left, top, width, height in pixels")
    a.add_argument("--steps", type=_positive, default=DEFAULT_STEPS,
                   help=f"points of the path integral (default {DEFAULT_STEPS})")
    a.add_argument("--sigma-max", type=_positive_float, default=DEFAULT_SIGMA_MAX,
                   help=f"Gaussian sigma of the blurred baseline in px (default {DEFAULT_SIGMA_MAX:g})")
    a.add_argument("--batch", type=_positive, default=DEFAULT_BATCH,
                   help=f"path points per forward/backward pass (default {DEFAULT_BATCH})")
    add_output(a, "figure path (default interpret-runs/lam/<image>_<model>.png)")
    a.add_argument("--json", action="store_true", help="print the record as JSON instead of a line")
    a.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0)")
    a.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps (default auto)")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=cmd_lam)
    return ip
