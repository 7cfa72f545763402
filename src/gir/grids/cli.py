"""``gir grids``: paper 002 (GRIDS) from the command line (thin: each command calls :mod:`gir.grids`).

    gir grids similarity --model SPEC --images DIR -o D [--ops a,b,...] [--crop 128] [--max-images N]
                         [--layer NAME] [--n-per-op 32]
    gir grids group --matrix D/matrix.json --delta 0.7 -o G [--dry-run-verify FILE]
                    [--iterations N] [--model-config YAML] [--train DIR] [--val DIR]
    gir grids selector --matrix D/matrix.json --grouping G/grouping.json --images DIR -o E
    gir grids select IMAGE --experts E
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from gir.cli_args import add_output
from gir.errors import GirError


def _shared() -> Path:
    from gir.bench.protocol import shared_data

    return shared_data()


def cmd_similarity(args) -> int:
    from gir.grids.similarity import format_matrix, read_matrix, run_similarity

    record = run_similarity(args.model, args.images, args.output, ops=args.ops, crop=args.crop,
                            max_images=args.max_images, n_per_op=args.n_per_op, layer=args.layer, seed=args.seed,
                            method=args.method, strength=args.strength, device=args.device)
    ops, m, _ = read_matrix(Path(args.output) / "matrix.json")
    print(f"S[i][j] = ln KL(GGD_i || GGD_j); network {record['model']}, layer {record['layer'] or 'default'}, "
          f"{record['n_images']} image(s), {record['n_per_op']} crops of {record['crop']} px per op")
    print(format_matrix(ops, m))
    print(f"wrote {Path(args.output) / 'matrix.json'} and {Path(args.output) / 'matrix.png'}")
    return 0


def _model_config(text: str) -> dict:
    import yaml

    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise GirError(f"--model-config: invalid YAML ({e})") from None
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise GirError("--model-config must name an architecture: NAME or '{type: NAME, preset: small}'")
    return cfg


def cmd_group(args) -> int:
    from gir.grids.grouping import (TrainBudget, drops_verifier, read_drops, search_groups, verify_by_training,
                                    write_group_configs)
    from gir.grids.similarity import read_matrix

    ops, matrix, _ = read_matrix(args.matrix)
    arch = _model_config(args.model_config)
    budget = TrainBudget(iterations=args.iterations, batch_size=args.batch_size, patch_size=args.patch_size,
                         lr=args.lr, per_op=args.per_op_budget)
    train = [Path(t) for t in (args.train or [_shared() / "train"])]
    val = Path(args.val) if args.val else _shared() / "test" / "kodak24"
    if args.dry_run_verify:
        verify = drops_verifier(read_drops(args.dry_run_verify))
    else:
        work = Path(args.work) if args.work else Path(args.output) / "verify"
        verify = verify_by_training(work, train, val, arch=arch, budget=budget, val_images=args.val_images,
                                    val_crop=args.val_crop, device=args.device, seed=args.seed,
                                    max_train_images=args.max_train_images,
                                    log=lambda s: print(s, file=sys.stderr))
    result = search_groups(ops, matrix, verify, args.delta, tie=args.tie, max_size=args.max_size,
                           max_verifications=args.max_verifications)
    paths = write_group_configs(result, args.output, train, arch, budget, args.seed,
                                val_roots=[val] if val.is_dir() else [])
    print(result.describe())
    if args.verbose:
        print("\n".join(result.log))
    print(f"wrote {len(paths)} config(s) and {Path(args.output) / 'grouping.json'}")
    return 0


def cmd_selector(args) -> int:
    from gir.grids.selection import build_selector
    from gir.grids.similarity import op_ggds, read_matrix

    _, _, record = read_matrix(args.matrix)
    try:
        grouping = json.loads(Path(args.grouping).read_text(encoding="utf-8"))
        groups = grouping["groups"]
    except FileNotFoundError:
        raise GirError(f"{args.grouping}: no such grouping file") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise GirError(f"{args.grouping}: not a grouping.json written by `gir grids group` ({e})") from None
    if not record.get("model"):
        raise GirError(f"{args.matrix}: names no feature network ('model')")
    sel = build_selector(record["model"], args.images, groups, args.output, op_ggds=op_ggds(record),
                         calib_images=args.images, crop=int(record.get("crop") or 128), crops=args.crops,
                         per_op=args.per_op, layer=record.get("layer"), seed=args.seed,
                         percentile=args.percentile, method=record.get("method") or "moments",
                         max_images=args.max_images, device=args.device)
    for name, (ops, g) in sel.groups.items():
        print(f"{name}: {', '.join(ops)}  (alpha {g.alpha:.3f}, beta {g.beta:.4g})")
    print(sel.rule)
    print(f"calibration: {sel.calibration['n']} images, chosen group holds their op for "
          f"{100 * sel.calibration['accuracy']:.0f}%")
    print(f"wrote {Path(args.output) / 'groups.json'}")
    return 0


def cmd_select(args) -> int:
    from gir.grids.selection import select_image

    sel = select_image(args.image, args.experts, crops=args.crops, seed=args.seed, device=args.device)
    print(json.dumps(sel.to_dict(), indent=1) if args.json else sel.describe())
    return 0


def add_grids_parser(sub) -> None:
    """Register ``gir grids {similarity,group,selector,select}`` on the top-level subparsers."""
    g = sub.add_parser("grids", help="GRIDS (paper 002): degradation similarity, grouping, model selection",
                       description="Grouped restoration with image degradation similarity (paper 002).")
    gs = g.add_subparsers(dest="grids_command", required=True, metavar="STEP")

    s = gs.add_parser("similarity", help="log-KL similarity matrix of degradations from DDR features")
    s.add_argument("--model", required=True, help="feature network: shipped model name, checkpoint path or "
                                                  "random:<arch>[:<preset>]")
    s.add_argument("--images", required=True, help="folder of clean images")
    add_output(s, "output folder (matrix.json, matrix.png)", required=True)
    s.add_argument("--ops", help="comma-separated ops (default: paper 002's eleven: blur,motion_blur,rl_artifact,"
                                 "sr,ringing,defocus_blur,jpeg,poisson_noise,inpainting,noise,salt_pepper)")
    s.add_argument("--crop", type=int, default=128, help="crop side in px (default 128)")
    s.add_argument("--max-images", type=int, help="use the first N images")
    s.add_argument("--n-per-op", type=int, default=32, help="degraded crops per op (default 32)")
    s.add_argument("--layer", help="feature layer (module name; default: the feature function's)")
    s.add_argument("--method", default="moments", choices=("moments", "mle"), help="GGD fit (default moments)")
    s.add_argument("--strength", default="random", choices=("random", "representative"),
                   help="op strengths: drawn from each op's random range (default) or representative")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_similarity)

    p = gs.add_parser("group", help="degradation grouping search (Algorithm 1); one gir train config per group")
    p.add_argument("--matrix", required=True, help="matrix.json from `gir grids similarity` (or its folder)")
    p.add_argument("--delta", type=float, default=0.7, help="largest PSNR drop allowed per group, dB (default 0.7)")
    add_output(p, "output folder (group_<k>.yaml, grouping.json)", required=True)
    p.add_argument("--dry-run-verify", metavar="FILE",
                   help="take drops from this JSON ({'a+b': dB, '*': default} or a grouping.json) instead of "
                        "training")
    p.add_argument("--iterations", type=int, default=1000, help="training iterations per run (default 1000)")
    p.add_argument("--per-op-budget", action="store_true",
                   help="--iterations are per op: a group of k ops trains k x iterations (equal total budget)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch-size", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--model-config", default="{type: srresnet, preset: small}",
                   help="architecture as YAML, e.g. '{type: restormer, preset: small}' (default srresnet small)")
    p.add_argument("--train", action="append", help="clean training folder (repeatable; default "
                                                    "<shared data>/train)")
    p.add_argument("--max-train-images", type=int)
    p.add_argument("--val", help="held-out clean images for scoring (default <shared data>/test/kodak24)")
    p.add_argument("--val-images", type=int, default=8)
    p.add_argument("--val-crop", type=int, default=128)
    p.add_argument("--work", help="verification cache folder (default OUT/verify); a rerun skips finished runs")
    p.add_argument("--tie", type=float, default=0.05, help="mean distances within this bin are ranked by variance")
    p.add_argument("--max-size", type=int, help="largest group size to consider")
    p.add_argument("--max-verifications", type=int,
                   help="stop after verifying this many groups (training runs) and keep the best partition found")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true", help="print every verification and search step")
    p.set_defaults(func=cmd_group)

    b = gs.add_parser("selector", help="build groups.json (group GGDs + calibrated OOD threshold)")
    b.add_argument("--matrix", required=True, help="matrix.json (op GGDs, network, layer, crop)")
    b.add_argument("--grouping", required=True, help="grouping.json from `gir grids group`")
    b.add_argument("--images", required=True, help="held-out clean images for the OOD threshold")
    add_output(b, "expert folder to write groups.json into", required=True)
    b.add_argument("--per-op", type=int, default=4, help="calibration images per grouped op (default 4)")
    b.add_argument("--crops", type=int, default=16, help="random crops per image (default 16)")
    b.add_argument("--percentile", type=float, default=95.0, help="threshold percentile (default 95)")
    b.add_argument("--max-images", type=int)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--device", default="cpu")
    b.set_defaults(func=cmd_selector)

    c = gs.add_parser("select", help="pick the group model for an image; flag out-of-distribution inputs")
    c.add_argument("image", help="the image")
    c.add_argument("--experts", required=True, help="folder holding groups.json")
    c.add_argument("--crops", type=int, help="random crops (default: the selector's)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="cpu")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=cmd_select)
