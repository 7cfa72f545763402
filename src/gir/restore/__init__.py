"""Inference: restore images of any size with a trained network (``gir restore`` and its Python API).

    from gir.restore import restore
    out = restore(rgb)                      # float32 HxWx3 in [0, 1] -> float32 HxWx3 in [0, 1]
    out = restore("photo.jpg", model="runs/x/best.safetensors", device="cpu", tile=512)

``gir.restore(image)`` (this module is callable) and ``gir.restore.restore(image)`` take a float32 HxWx3 array
in [0, 1], a :class:`gir.io.Image` or a path and return a float32 HxWx3 array. Without ``model`` the default
pipeline runs, one way through (:mod:`gir.restore.pipeline`): analysis -> :mod:`~gir.restore.plan` ->
:mod:`~gir.restore.experts` -> :mod:`~gir.restore.verify`; a photo with nothing detected comes back unchanged.
With ``model`` (a shipped name such as ``gir-wunet-cpu``, or a checkpoint path) that one network runs on the
whole image. Models are cached per (file, device). Large images are split into overlapping tiles blended with
raised-cosine windows (:mod:`gir.restore.tiling`); the tile size comes from the free memory and the network's
measured bytes per pixel (:mod:`gir.restore.memory`), and is halved when a pass runs out of memory.
:class:`Restorer` keeps one network and settings for many images; :func:`restore_files` is the file-to-file
loop behind the command.
"""
from __future__ import annotations

import sys
import types

from gir.restore.api import restore
from gir.models.shipped import DEFAULT_MODEL, WEIGHTS_DIR, resolve_model, shipped_models
from gir.restore.engine import Restorer
from gir.restore.loading import clear_cache, pick_device
from gir.restore.files import plan_restore, restore_files

__all__ = ["DEFAULT_MODEL", "WEIGHTS_DIR", "Restorer", "clear_cache", "pick_device", "plan_restore",
           "resolve_model", "restore", "restore_files", "shipped_models"]


class _CallableModule(types.ModuleType):
    """Lets ``gir.restore(image, ...)`` call :func:`restore` while ``gir.restore`` stays a package."""

    def __call__(self, image, *args, **kwargs):
        return restore(image, *args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
