"""Process-level performance settings for CPU inference and training."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_done = False


def tune_allocator() -> bool:
    """Stop glibc from mmap/munmap-ing every large tensor on each pass (~1M page faults per network pass).

    Sets ``M_MMAP_MAX=0`` (big blocks come from the heap) and a 1 GiB ``M_TRIM_THRESHOLD`` (freed memory is
    kept for the next pass). Measured 2-12x faster U-Net passes on glibc CPUs. No-op elsewhere, when already
    applied, or when ``GIR_NO_MALLOPT=1``. Returns whether the settings are in effect.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("GIR_NO_MALLOPT") == "1":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    _done = ok
    return ok
