"""Batch file handling shared by the commands: expand inputs, plan outputs, collect failures."""
from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gir.errors import GirError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def expand_inputs(items: list[str], suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> tuple[list[Path], list[str]]:
    """Expand files, folders (recursively, image suffixes only, sorted) and globs.

    Returns (paths, problems): ``problems`` holds one line per item that matched nothing.
    Explicitly named files are kept whatever their suffix, so a bad one is reported by the reader.
    """
    paths: list[Path] = []
    problems: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in suffixes)
            if not found:
                problems.append(f"{item}: folder holds no images ({', '.join(suffixes)})")
            paths += found
        elif p.exists():
            paths.append(p)
        elif glob.has_magic(item):
            found = sorted(Path(q) for q in glob.glob(item, recursive=True) if Path(q).is_file())
            if not found:
                problems.append(f"{item}: pattern matches no files")
            paths += found
        else:
            problems.append(f"{item}: no such file or folder")
    seen, unique = set(), []
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique, problems


def plan_outputs(inputs: list[Path], out_dir: Path, suffix: str | None = None,
                 rename: Callable[[Path], str] | None = None) -> dict[Path, Path]:
    """Map each input to ``out_dir/<its file name>`` (suffix replaced when given, or the name from ``rename``).

    Raises GirError when two inputs would write the same output, or an output would overwrite an input.
    """
    plan: dict[Path, Path] = {}
    targets: dict[Path, Path] = {}
    input_set = {p.resolve() for p in inputs}
    for p in inputs:
        name = rename(p) if rename else (p.name if suffix is None else p.with_suffix(suffix).name)
        out = out_dir / name
        key = out.resolve()
        if key in input_set:
            raise GirError(f"{out}: refusing to overwrite an input file; choose another output folder")
        if key in targets:
            raise GirError(f"{p} and {targets[key]} would both be written to {out}; process them separately")
        targets[key] = p
        plan[p] = out
    return plan


@dataclass
class BatchReport:
    """Counts successes and keeps one line per failure for the end-of-batch summary."""

    done: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, msg: str) -> None:
        self.failures.append(msg)

    def summary(self, verb: str) -> str:
        lines = [f"{verb} {self.done} image(s); {len(self.failures)} failed"]
        lines += [f"  failed: {m}" for m in self.failures]
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

