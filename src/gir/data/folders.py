"""Image folders: listing image files under one or several roots, and an in-memory uint8 decode cache."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from gir.data.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(roots: str | Path | Iterable[str | Path], suffixes: Sequence[str] = IMAGE_SUFFIXES,
                recursive: bool = True, key: str = "roots", max_images: int | None = None) -> list[Path]:
    """Image files under ``roots`` (folders, or single image files), sorted per root, roots in order.

    Suffixes match case-insensitively. ``max_images`` keeps the first N. Raises :class:`ConfigError` (naming
    the config ``key``) for a missing root or when no image is found.
    """
    if isinstance(roots, (str, Path)):
        roots = [roots]
    roots = [Path(r) for r in roots]
    if not roots:
        raise ConfigError(f"{key}: no folder given")
    exts = {s.lower() if s.startswith(".") else "." + s.lower() for s in suffixes}
    files: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        if root.is_file():
            found = [root]
        elif root.is_dir():
            pattern = root.rglob("*") if recursive else root.glob("*")
            found = sorted(p for p in pattern if p.suffix.lower() in exts and p.is_file())
        else:
            raise ConfigError(f"{key}: {root} does not exist (relative paths are resolved against the "
                              f"current directory, {Path.cwd()})")
        for p in found:
            if p not in seen:
                seen.add(p)
                files.append(p)
    if not files:
        where = ", ".join(map(str, roots))
        raise ConfigError(f"{key}: no images ({', '.join(sorted(exts))}) under {where}")
    return files[:max_images] if max_images else files


def read_uint8(path: Path) -> np.ndarray:
    """Decode ``path`` to uint8 HxWx3 RGB (grey and alpha handled by :func:`gir.io.read_image`)."""
    from gir.io import read_image

    rgb = read_image(path).rgb
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


class ImageCache:
    """Images decoded once, on first use, and kept in memory as uint8 HxWx3 (a quarter of float32).

    Each DataLoader worker process fills its own copy. ``enabled=False`` decodes on every access.
    """

    def __init__(self, paths: Sequence[Path], enabled: bool = True):
        self.paths = list(paths)
        self.enabled = enabled
        self._images: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        img = self._images.get(i)
        if img is None:
            img = read_uint8(self.paths[i])
            if self.enabled:
                self._images[i] = img
        return img

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._images.values())
