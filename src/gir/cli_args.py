"""What every command's parser shares: no abbreviated options, and one spelling of the output flag.

``gir`` builds its parser from :class:`Parser`; every subcommand's parser (``sub.add_parser``) is of the same
class, so none of them takes ``--mode`` for ``--model``. :func:`add_output` adds ``-o/--output``; the older
spellings of a command (``--out``, ``--out-dir``) still work but are not shown.
"""
from __future__ import annotations

import argparse
from typing import Sequence


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with ``allow_abbrev=False`` by default; its subparsers are Parsers too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def add_output(parser: argparse.ArgumentParser, help: str, *, required: bool = False, default=None,
               metavar: str | None = None, aliases: Sequence[str] = ("--out",)) -> None:
    """``-o/--output`` (``args.output``), with ``aliases`` accepted as hidden spellings of it. A required
    output may be given by any one of them."""
    target = parser.add_mutually_exclusive_group(required=True) if required else parser
    target.add_argument("-o", "--output", default=default, metavar=metavar, help=help)
    if aliases:
        target.add_argument(*aliases, dest="output", default=default, metavar=metavar, help=argparse.SUPPRESS)

