"""The ``gir`` command: a thin layer over the Python API (each subcommand calls library functions)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gir.cli_args import Parser
from gir.errors import GirError


# --------------------------------------------------------------------------------------------- degrade
def _degrade_list() -> int:
    from gir.degradations import OPS

    for name in OPS:
        spec = OPS.get(name)
        tags = [spec.source]
        if spec.acquisition:
            tags.append("acquisition: first op only in random chains")
        if spec.needs_depth:
            tags.append("uses a depth map (estimated from the image unless given)")
        if spec.composite:
            tags.append("composite")
        print(f"{name}  [{'; '.join(tags)}]")
        print(f"    {spec.doc.splitlines()[0] if spec.doc else ''}")
        for p in spec.params:
            print(f"    - {p.describe()}")
    return 0


def _degrade_gallery(args) -> int:
    from gir.degradations.gallery import gallery
    from gir.io import read_image, write_image

    if not args.output:
        raise GirError("--gallery needs -o SHEET.png")
    img = read_image(args.gallery)
    sheet = gallery(img.rgb, seed=args.seed or 0)
    write_image(args.output, sheet.astype("float32") / 255.0)
    print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


def _depth_for(src: Path, depth_arg: Path, shape):
    """Depth map (HxW in [0, 1], white = far) for ``src``: the file itself, or the folder entry with its stem."""
    from gir.io import read_image

    path = depth_arg
    if depth_arg.is_dir():
        matches = sorted(depth_arg.glob(src.stem + ".*"))
        if not matches:
            raise GirError(f"{src}: no depth map named {src.stem}.* in {depth_arg}")
        path = matches[0]
    depth = read_image(path).rgb.mean(axis=2)
    if depth.shape != tuple(shape[:2]):
        raise GirError(f"{path}: depth map is {depth.shape[1]}x{depth.shape[0]}, image is {shape[1]}x{shape[0]}")
    return depth


def _degrade_files(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from gir.batch import BatchReport, expand_inputs, plan_outputs
    from gir.degradations import Recipe, sample_recipe
    from gir.io import atomic_write, read_image, save_like

    if not args.inputs:
        raise GirError("give input images (or --list / --gallery IMAGE)")
    if not args.output:
        raise GirError("-o OUT_DIR is required")
    if (args.recipe is None) == (not args.random):
        raise GirError("give exactly one of --recipe TEXT_OR_JSON or --random")
    fixed = Recipe.parse(args.recipe) if args.recipe else None
    inputs, problems = expand_inputs(args.inputs)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise GirError(f"{out_dir}: exists and is not a folder")
    suffix = f".{args.format.lstrip('.')}" if args.format else None
    plan = plan_outputs(inputs, out_dir, suffix)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = BatchReport(failures=list(problems))
    base_seed = args.seed if args.seed is not None else (fixed.seed if fixed and fixed.seed is not None else 0)
    for i, src in enumerate(tqdm(inputs, desc="degrade", unit="img", disable=len(inputs) < 2)):
        try:
            img = read_image(src)
            if fixed is not None:
                recipe = fixed.with_seed(base_seed)
            else:
                rng = np.random.default_rng(np.random.SeedSequence([base_seed, i]))
                recipe = sample_recipe(rng, order=args.order)
            depth = _depth_for(src, Path(args.depth), img.rgb.shape) if args.depth else None
            out = recipe.apply(img.rgb, depth=depth)
            dst = plan[src]
            # Lossy outputs at quality 100, so writing adds as little as possible to the recipe's degradation.
            save_like(dst, out, img, quality=100)
            atomic_write(dst.with_suffix(".json"), recipe.to_json() + "\n")
            report.done += 1
        except (GirError, OSError, ValueError) as e:
            report.fail(str(e) if str(e).startswith(str(src)) else f"{src}: {e}")
    print(report.summary("degraded"), file=sys.stderr if report.failures else sys.stdout)
    return report.exit_code


def cmd_degrade(args) -> int:
    if args.list:
        return _degrade_list()
    if args.gallery:
        return _degrade_gallery(args)
    return _degrade_files(args)


# ---------------------------------------------------------------------------------------------- models
def cmd_models(args) -> int:
    from gir.models.info import model_table
    from gir.models.shipped import WEIGHTS_DIR, shipped_table

    rows = model_table(presets=tuple(args.presets.split(",")), size=args.size)
    print("| architecture | preset | params | GFLOP/MP | size multiple |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['preset']} | {r['params'] / 1e6:.3f} M | {r['gflops_per_mp']:.1f} | "
              f"{r['size_multiple']} |")
    print(f"\nshipped weights ({WEIGHTS_DIR}; --model NAME, card NAME.md):\n")
    print("| weights | MiB | what it is (the card's first line) |")
    print("|---|---:|---|")
    for w in shipped_table():
        print(f"| {w['name']} | {w['mib']:.1f} | {w['about'] or '(no card)'} |")
    return 0


# ---------------------------------------------------------------------------------------------- export
def cmd_export(args) -> int:
    from gir.models.checkpoint import export_weights

    if Path(args.output).resolve() == Path(args.checkpoint).resolve():
        raise GirError(f"{args.output}: the export would overwrite its source checkpoint")
    export_weights(args.checkpoint, args.output, key=args.weights, fp16=args.fp16)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 2**20:.1f} MiB, {args.weights}"
          f"{', float16' if args.fp16 else ''})")
    return 0


# --------------------------------------------------------------------------------------------- restore
def cmd_restore(args) -> int:
    from gir.models.conditioning import parse_values
    from gir.restore import restore_files

    report = restore_files(args.inputs, args.output, model=args.model, device=args.device, tile=args.tile,
                           overlap=args.overlap, half=args.half, fmt=args.format, quality=args.quality,
                           progress=not args.quiet, log=None if args.quiet else _stderr_line,
                           impulse_repair=args.impulse_repair, only=args.only, skip=args.skip,
                           explain=args.explain, write_json=args.json, ensemble=args.ensemble,
                           conditions=parse_values(args.condition), kernel=args.kernel, scale=args.scale,
                           mode=args.mode)
    print(report.summary("restored"), file=sys.stderr if report.failures else sys.stdout)
    return report.exit_code


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


# ------------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="gir", description="General image restoration toolkit.")
    ap.add_argument("--version", action="version", version=f"gir {__import__('gir').__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("degrade", help="degrade images with a recipe or random chains; list ops; gallery",
                       description="Degrade images. Recipe text: 'haze(A=0.9,beta=0.75) > noise(sigma=20) > "
                                   "jpeg(quality=50)'; a missing parameter takes its representative value.")
    d.add_argument("inputs", nargs="*", help="image files, folders or globs")
    d.add_argument("-o", "--output", help="output folder (or the sheet file with --gallery)")
    d.add_argument("--recipe", help="recipe text, JSON text, or a path to a recipe JSON file")
    d.add_argument("--random", action="store_true", help="a random chain per image (paper 000, eq. 4)")
    d.add_argument("--order", default="1-5", help="chain length for --random: N or LO-HI (default 1-5)")
    d.add_argument("--seed", type=int, help="seed (default: the recipe file's seed, else 0)")
    d.add_argument("--depth", help="depth map image (white = far) or a folder of them matched by file stem, "
                                   "for haze/snow; default: estimated from the image")
    d.add_argument("--format", help="write this format instead of the input's (e.g. png for exact pixels)")
    d.add_argument("--list", action="store_true", help="list ops with parameters and ranges")
    d.add_argument("--gallery", metavar="IMAGE", help="draw every op at its representative setting on a sheet")
    d.set_defaults(func=cmd_degrade)

    m = sub.add_parser("models", help="list architectures (parameters, GFLOP per megapixel) and the shipped "
                                      "weights with their cards")
    m.add_argument("--presets", default="small,paper", help="comma-separated presets (default small,paper)")
    m.add_argument("--size", type=int, default=256, help="square input side used for counting FLOPs")
    m.set_defaults(func=cmd_models)

    from gir.training.cli import add_training_parsers
    add_training_parsers(sub)

    e = sub.add_parser("export", help="write a checkpoint's EMA (or raw) weights alone, for shipping")
    e.add_argument("checkpoint", help="checkpoint written by gir train (runs/NAME/models/net_latest.safetensors)")
    e.add_argument("output", help="the .safetensors file to write")
    e.add_argument("--weights", default="params_ema", choices=("params_ema", "params"),
                   help="which weights to keep (default params_ema, falling back to params)")
    e.add_argument("--fp16", action="store_true", help="store the weights as float16 (half the size; loaded "
                                                        "into float32)")
    e.set_defaults(func=cmd_export)

    from gir.bench.cli import add_bench_parser
    add_bench_parser(sub)
    from gir.grids.cli import add_grids_parser
    add_grids_parser(sub)
    from gir.data.cli import add_data_parser
    add_data_parser(sub)

    from gir.interpret.cli import add_interpret_parser
    add_interpret_parser(sub)

    from gir.analysis.cli import add_analyze_parsers
    add_analyze_parsers(sub)

    from gir.serve.cli import add_serve_parser  # issue 31: the web page and HTTP API
    add_serve_parser(sub)

    r = sub.add_parser("restore", help="restore images: analyze, route to experts, verify (tiled for any size)",
                       description="Restore images. By default each photo is analysed (gir analyze), the "
                                   "experts for what was found run in order, and a step that did not help is "
                                   "undone; a photo with nothing detected comes back unchanged. With one input "
                                   "file, -o may be a file or a folder; otherwise -o is a folder and outputs "
                                   "keep their input's file name. Alpha, grayscale, 16-bit depth and the "
                                   "input's format are kept.")
    r.add_argument("inputs", nargs="+", help="image files, folders or globs")
    r.add_argument("-o", "--output", required=True, help="output folder (or file, for one input file)")
    r.add_argument("--model", help="run this one network on every image instead of the pipeline: a shipped "
                                   "model NAME (e.g. gir-wunet-cpu, milestone 1's blind network) or a "
                                   "checkpoint PATH")
    r.add_argument("--explain", action="store_true",
                   help="print each photo's diagnosis, plan and what each step changed or why it was undone")
    r.add_argument("--json", action="store_true", help="write the same beside each output as <output>.json")
    r.add_argument("--only", metavar="FAMILIES", help="restore only these families, e.g. noise,jpeg")
    r.add_argument("--skip", metavar="FAMILIES", help="never restore these families, e.g. damage")
    r.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="auto: cuda, else mps, else cpu (default auto)")
    r.add_argument("--half", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16/fp16 autocast (default: on for cuda, off otherwise)")
    r.add_argument("--tile", default="auto", help="tile side in pixels, 'auto' (from free memory) or 0 (no "
                                                  "tiling); default auto")
    r.add_argument("--overlap", type=int, default=32, help="pixels shared by neighbouring tiles (default 32)")
    r.add_argument("--ensemble", default="auto", choices=("auto", "1", "2", "4", "8"),
                   help="geometric self-ensemble of every network: the mean over this many flips / transposes "
                        "(slower by that factor; 4: +0.2 dB on noise sigma 25); default auto: as many as cost "
                        "no more than one pass over a 1 MP photo, at most 4 (1 MP and larger photos: 1)")
    r.add_argument("--condition", action="append", metavar="NAME=VALUE",
                   help="a conditioning value, e.g. noise.sigma=25 (0-75) or jpeg.quality=30 (repeatable): "
                        "with --model, what the network needs; for the default pipeline, overrides what the "
                        "analysis measured")
    r.add_argument("--kernel", metavar="FILE",
                   help="the blur kernel (.npy, or a grayscale image whose values are its weights) for the "
                        "default pipeline's deblurring, instead of the one it estimates (non-blind)")
    r.add_argument("--scale", default="1", metavar="S",
                   help="upscale by 2, 3 or 4 after restoring (the output is S times the input's width and "
                        "height; super-resolution network gir-upscale, checked against the input); default 1")
    r.add_argument("--mode", default="fidelity", choices=("fidelity", "perceptual"),
                   help="fidelity (default): the result closest to the truth on average; perceptual: where an "
                        "expert has an adversarially trained twin (the denoiser), keep its detail wherever the "
                        "artifact map trusts it (never on text, lines or flat areas; with --explain/--json the "
                        "map is written beside the output as <output>.trust.png)")
    r.add_argument("--format", help="write this format (png, jpg, tif, webp) instead of the input's")
    r.add_argument("--quality", type=int, default=95, help="JPEG / WebP quality 1-100 (default 95)")
    r.add_argument("--impulse-repair", action=argparse.BooleanOptionalAction, default=True,
                   help="replace salt-and-pepper samples before the network when an image shows impulse "
                        "noise; other images pass untouched (default on)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-image lines")
    r.set_defaults(func=cmd_restore)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GirError as e:
        print(f"gir: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
