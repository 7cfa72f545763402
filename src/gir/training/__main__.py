"""``python -m gir.training [CONFIG] [--set k=v ...] [--resume RUN] [-o RUN_DIR]``: the engine without the
``gir`` CLI, e.g. under ``torchrun --nproc_per_node 8 -m gir.training configs/gir_nafnet.yaml``; the options
are those of ``gir train`` (:func:`gir.training.cli.add_train_arguments`)."""
from __future__ import annotations

import os
import sys

from gir.cli_args import Parser
from gir.errors import GirError
from gir.training.cli import add_train_arguments, train


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m gir.training",
                description="Train a restoration network from a YAML config (the engine of `gir train`).")
    add_train_arguments(ap)
    args = ap.parse_args(argv)
    if not args.config and not args.resume:
        ap.error("give a config file or --resume RUN_DIR")
    try:
        out = train(args)
    except GirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
