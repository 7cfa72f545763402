"""``gir train`` (and ``python -m gir.training``, the same options) and ``gir analyze-calibrate`` (fit the
analyzer's calibration on a training run's checkpoint): thin parsers over :mod:`gir.training` and
:mod:`gir.analysis.calibration`.

    gir train [CONFIG] [--set KEY=VALUE ...] [--resume RUN_DIR] [-o RUN_DIR]
    gir analyze-calibrate CHECKPOINT --images DIR... -o OUT.safetensors [--samples N]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from gir.cli_args import add_output
from gir.errors import GirError


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``gir train`` and ``python -m gir.training``."""
    p.add_argument("config", nargs="?", help="YAML config (see configs/); optional with --resume")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. train.iterations=100 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run exactly")
    add_output(p, "the run folder (default: runs/<name>-<date-time>)", metavar="RUN_DIR",
               aliases=("--out-dir", "--out"))


def train(args) -> "Path":
    """The run of parsed :func:`add_train_arguments` options; returns its folder."""
    from gir.training import run

    if not args.config and not args.resume:
        raise GirError("give a CONFIG file, or --resume RUN_DIR")
    return run(args.config, overrides=args.overrides, resume=args.resume, out_dir=args.output)


def cmd_train(args) -> int:
    print(f"run folder: {train(args)}")
    return 0


def cmd_calibrate(args) -> int:
    from gir.analysis.analyze import Analyzer, Calibration
    from gir.analysis.calibration import (collect, ece_table, export_calibrated, fit, sampler_recipes,
                                          training_sampler)
    from gir.bench.evaluate import load_images
    from gir.models.checkpoint import load_state
    from gir.training.config import load_config

    load_state(args.checkpoint, "params_ema")  # a readable checkpoint, or a one-line error
    run_cfg_path = Path(args.checkpoint).resolve().parent.parent / "config.yaml"
    if not run_cfg_path.is_file():
        raise GirError(f"{args.checkpoint}: no run config.yaml two folders up; calibrate a checkpoint of a "
                       f"gir train run (runs/NAME/models/net_*.safetensors)")
    sampler = training_sampler(load_config(run_cfg_path))
    sampler.bind([1])
    images = []
    for d in args.images:
        images += [(name, img) for _, name, img in load_images(d)]
    if not images:
        raise GirError("analyze-calibrate: --images holds no images")
    analyzer = Analyzer(args.checkpoint, args.device, args.crops)
    order = [images[i % len(images)] for i in range(args.samples)]
    ev = collect(analyzer, order, sampler_recipes(sampler))
    cal = fit(ev, analyzer.calibration.top)
    print(f"{'output':<10} {'ECE raw':>8} {'ECE cal':>8}")
    for name, raw, calibrated in ece_table(ev, Calibration(**cal)):
        print(f"{name:<10} {raw:8.3f} {calibrated:8.3f}")
    meta = {"calibrated_on": [str(d) for d in args.images], "calibration_samples": args.samples}
    export_calibrated(args.checkpoint, args.output, cal, meta)
    print(f"wrote {args.output}")
    return 0


def add_training_parsers(sub) -> None:
    """Register ``gir train`` and ``gir analyze-calibrate`` on the top-level subparsers."""
    t = sub.add_parser("train", help="train a restoration network from a YAML config")
    add_train_arguments(t)
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("analyze-calibrate", help="fit the analyzer's calibration on held-out photos",
                       description="Degrade whole photos with the recipes of the analyzer's own training "
                                   "sampler (unseen seeds), fit Platt scaling per output, print the expected "
                                   "calibration error before and after, and write the calibrated weights.")
    c.add_argument("checkpoint", help="an analyzer run's checkpoint (runs/NAME/models/net_latest.safetensors)")
    c.add_argument("--images", nargs="+", required=True, help="folders of clean photos (not the test sets)")
    add_output(c, "the calibrated .safetensors to write", required=True)
    c.add_argument("--samples", type=int, default=600, help="degraded photos to fit on (600)")
    c.add_argument("--crops", type=int, default=12)
    c.add_argument("--device", default="cpu")
    c.set_defaults(func=cmd_calibrate)


__all__ = ["add_train_arguments", "add_training_parsers", "cmd_calibrate", "cmd_train", "train"]
