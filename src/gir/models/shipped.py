"""The weights shipped in ``gir/weights``: their file names, what a ``--model`` spec means, and their cards.

``NAME.safetensors`` is a gir checkpoint and ``NAME.md`` its model card (``gir/weights/README.md``). Everything
that looks a shipped network up by name (the restorer, the analyzer, the experts, ``gir models``) goes
through this module, so the folder and the naming are said once. The functions read :data:`WEIGHTS_DIR` when
called, so a test can point it at another folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from gir.errors import GirError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".md"
DEFAULT_MODEL = "gir-wunet-cpu"
"""The single network ``--model`` means when none is named (milestone 1's blind restorer)."""


def shipped_path(name: str) -> Path:
    """``gir/weights/NAME.safetensors`` (whether or not it exists)."""
    return WEIGHTS_DIR / f"{name}{WEIGHTS_SUFFIX}"


def is_shipped(name: str) -> bool:
    return shipped_path(name).is_file()


def shipped_models() -> list[str]:
    """Names of the weight files shipped in ``gir/weights`` (``NAME.safetensors``), sorted."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name[:-len(WEIGHTS_SUFFIX)] for p in WEIGHTS_DIR.glob(f"*{WEIGHTS_SUFFIX}"))


def resolve_model(spec: str | os.PathLike | None = None) -> Path:
    """The checkpoint file for ``--model``: None -> the shipped default ``gir/weights/DEFAULT.safetensors``;
    an existing file path -> that file; a bare name -> ``gir/weights/NAME.safetensors``.

    Raises GirError (one line) for a missing default, an unknown name or a missing file.
    """
    if spec is None:
        path = shipped_path(DEFAULT_MODEL)
        if not path.is_file():
            raise GirError(f"the default model {DEFAULT_MODEL!r} is not installed ({path} is missing); pass "
                           f"--model NAME|PATH with a checkpoint file, e.g. one written by `gir train`")
        return path
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise GirError(f"{spec}: --model needs a checkpoint file or a model name, not a folder")
    if os.sep not in str(spec) and "/" not in str(spec) and not p.suffix:
        shipped = shipped_path(str(spec))
        if shipped.is_file():
            return shipped
        known = ", ".join(shipped_models()) or "none"
        raise GirError(f"unknown model {str(spec)!r}: neither a file nor a shipped model (shipped: {known})")
    raise GirError(f"{spec}: no such model file")


def card_title(name: str) -> str:
    """The first line of ``NAME.md`` without its Markdown heading mark and the repeated name ("the `jpeg`
    expert of `gir restore`"); "" when the weights have no card."""
    path = WEIGHTS_DIR / f"{name}{CARD_SUFFIX}"
    if not path.is_file():
        return ""
    with path.open(encoding="utf-8") as f:
        first = f.readline().strip().lstrip("#").strip()
    for dash in (" — ", " - ", ": "):
        if first.startswith(name + dash):
            return first[len(name) + len(dash):].strip()
    return first


def shipped_table() -> list[dict]:
    """One row per shipped weights file: ``{"name", "mib", "about"}`` (size in MiB, the card's first line)."""
    return [{"name": n, "mib": shipped_path(n).stat().st_size / 2**20, "about": card_title(n)}
            for n in shipped_models()]
