"""``python -m gir.training CONFIG [--set k=v ...] [--resume RUN] [--out DIR]``: the engine without the
``gir`` CLI, e.g. under ``torchrun --nproc_per_node 8 -m gir.training configs/gir_nafnet.yaml``."""
from __future__ import annotations

import argparse
import os
import sys

from gir.errors import GirError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gir.training",
                                 description="Train a restoration network from a YAML config (the engine of `gir train`).")
    ap.add_argument("config", nargs="?", help="YAML config (not needed with --resume)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. train.iterations=100 (repeatable)")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest saved state")
    ap.add_argument("--out", metavar="DIR", help="run folder (default runs/<name>-<time>)")
    args = ap.parse_args(argv)
    if not args.config and not args.resume:
        ap.error("give a config file or --resume RUN_DIR")
    from gir.training import run

    try:
        out = run(args.config, args.overrides, resume=args.resume, out_dir=args.out)
    except GirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
