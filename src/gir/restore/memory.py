"""How much memory inference may use, how much a network needs for a tile, and recognising out-of-memory.

The tile of ``tile='auto'`` is the largest with ``need(pixels) <= budget``:

* budget (:func:`memory_budget`): on CUDA 70 % of the free device memory (``torch.cuda.mem_get_info``); on
  CPU half of ``MemAvailable`` from /proc/meminfo, at most :data:`CPU_BUDGET_CAP` (tiles beyond about a
  megapixel are no faster on a CPU, and the cap bounds the peak memory of a large photo).
* need (:class:`MemoryModel`): measured once per model by two small probe passes (:func:`probe_memory`).
  A torch-function mode records the bytes of live tensors after every op; fitting each step with a line plus a
  parabola in the pixel count and taking the maximum over steps predicts the peak of a large pass even when
  it happens in another phase than in the small probes (e.g. global self-attention, whose score matrices
  grow with the square of the pixel count, overtaking the full-resolution convolutions). Kernel scratch
  memory that no tensor shows is covered by a scale: the real peak of the larger probe (the CUDA
  allocator's peak; on Linux CPUs the growth of the peak resident memory ``VmHWM``, reset through
  /proc/self/clear_refs after ``malloc_trim`` returns freed heap pages) over the traced one.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import sys
import weakref
from dataclasses import dataclass
from typing import Callable

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

CPU_BUDGET_CAP = 1 << 30  # bytes
CPU_FALLBACK_AVAILABLE = 4 << 30  # assumed MemAvailable where /proc/meminfo cannot be read
CUDA_FRACTION = 0.7
CPU_FRACTION = 0.5
SAFETY = 1.2  # on measured peaks: allocator fragmentation, run-to-run variation
TRACKER_SAFETY = 3.0  # tensor sizes alone miss the kernels' scratch memory (about 2.7x for oneDNN convs)
FALLBACK_BYTES_PER_PIXEL = 4096.0  # when probing fails: generous for the small presets
PROBE_SIDES = (128, 256)
MIN_BYTES_PER_PIXEL = 64.0
ATTENTION_COPIES = 3
PIPELINE_BYTES_PER_PIXEL = 48.0  # 4 float32 RGB copies of a tile outside the network

_OOM_TEXT = ("out of memory", "can't allocate", "cannot allocate", "failed to allocate")


def is_oom(exc: BaseException) -> bool:
    """True for the errors a too-large tile produces: ``MemoryError``, ``torch.cuda.OutOfMemoryError`` and
    RuntimeErrors whose message says the allocator ran out (CPU "can't allocate memory", MPS, ...)."""
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(t in str(exc).lower() for t in _OOM_TEXT)


# ----------------------------------------------------------------------------------------------- budget
def mem_available_linux(path: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` in bytes, or None where the file or the field is missing."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file states kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(device: torch.device) -> int:
    """Bytes one forward pass (a batch of tiles) may use on ``device``; see the module doc."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * CUDA_FRACTION)
    if device.type == "mps":
        try:
            free = torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
            return max(int(free * CUDA_FRACTION), 256 << 20)
        except (AttributeError, RuntimeError):
            pass
    available = mem_available_linux() or CPU_FALLBACK_AVAILABLE
    return int(min(available * CPU_FRACTION, CPU_BUDGET_CAP))


# ----------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class MemoryModel:
    """Working memory of one forward pass over one image of ``p`` = height x width pixels, in bytes:
    ``scale * max_k(linear[k] * p + quadratic[k] * p**2) + pipeline * p`` over the steps k of the pass (the
    memory alive after each op); ``pipeline``: the tile copies around the network (gathered tiles, their
    NCHW copy, the output). A batch needs that times its size."""

    linear: tuple[float, ...]
    quadratic: tuple[float, ...]
    scale: float = 1.0
    pipeline: float = PIPELINE_BYTES_PER_PIXEL

    def bytes_for(self, pixels: float) -> float:
        network = max(a * pixels + b * pixels * pixels for a, b in zip(self.linear, self.quadratic))
        return self.scale * network + self.pipeline * pixels

    def max_pixels(self, budget: float) -> float:
        """The most pixels whose need stays within ``budget`` bytes (the smallest root over the steps)."""
        s = self.scale
        return min(_root(s * a + self.pipeline, s * b, budget) for a, b in zip(self.linear, self.quadratic))

    @classmethod
    def fit(cls, pixels: tuple[int, int], timelines: tuple[list[float], list[float]], scale: float = 1.0
            ) -> "MemoryModel":
        """Through the memory timelines of two passes of ``pixels`` each (same ops, hence same lengths):
        per step, the line plus parabola with no negative coefficient through both points. Timelines of
        different lengths (a data-dependent graph) are reduced to their peaks."""
        (p1, p2), (t1, t2) = pixels, timelines
        if len(t1) != len(t2) or not t1:
            t1, t2 = [max(t1, default=0.0)], [max(t2, default=0.0)]
        linear, quadratic = [], []
        for m1, m2 in zip(t1, t2):
            b = max(0.0, (m2 / p2 - m1 / p1) / (p2 - p1))
            linear.append(max(0.0, m1 / p1 - b * p1))
            quadratic.append(b)
        linear[0] = max(linear[0], MIN_BYTES_PER_PIXEL)  # never claim a pass is free
        return cls(tuple(linear), tuple(quadratic), scale)


def _root(a: float, b: float, budget: float) -> float:
    """Largest p >= 0 with a p + b p^2 <= budget (inf when a = b = 0)."""
    if b <= 0:
        return budget / a if a > 0 else math.inf
    return (math.sqrt(a * a + 4 * b * budget) - a) / (2 * b)


FALLBACK = MemoryModel((FALLBACK_BYTES_PER_PIXEL,), (0.0,))


# ----------------------------------------------------------------------------------------------- probes
def _attention_scratch(func, args) -> int:
    """Bytes an opaque attention kernel holds inside: :data:`ATTENTION_COPIES` Lq x Lk score matrices
    (the math path materialises them; fused kernels need less, so this errs on the safe side)."""
    if getattr(func, "__name__", "") != "scaled_dot_product_attention" or len(args) < 2:
        return 0
    q, k = args[0], args[1]
    return math.prod(q.shape[:-1]) * k.shape[-2] * q.element_size() * ATTENTION_COPIES


class MemoryTimeline(TorchFunctionMode):
    """Torch-function mode recording, after every torch function call, the total bytes of the tensor
    storages created inside the mode and still alive (plus the hidden score matrices of attention kernels).

    Every output whose storage is new is counted until the storage is freed (a weakref finalizer on it).
    Tensors created before entering (inputs, weights) and temporaries inside a function are not counted.
    (A function mode rather than a dispatch mode: entering the latter imports torch._dynamo, ~1.5 s.)
    """

    def __init__(self):
        super().__init__()
        self._live: dict[int, int] = {}
        self.current = 0
        self.timeline: list[float] = []

    @property
    def peak(self) -> float:
        return max(self.timeline, default=0.0)

    def _release(self, key: int) -> None:
        self.current -= self._live.pop(key, 0)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t)
        self.timeline.append(float(self.current + _attention_scratch(func, args)))
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if not key or key in self._live:
            return
        self._live[key] = storage.nbytes()
        self.current += storage.nbytes()
        weakref.finalize(storage, self._release, key)


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
        return lib if lib is not None and hasattr(lib, "malloc_trim") else None
    except OSError:
        return None


def _reset_peak_rss() -> int | None:
    """Return freed heap pages to the OS and reset the peak-RSS mark; the current RSS in bytes, or None
    where this is not possible."""
    lib = _libc()
    if lib is None:
        return None
    gc.collect()
    lib.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    rss = _status_kb("VmRSS")
    return None if rss is None else rss * 1024


class _DevicePeak:
    """Context manager measuring the real peak memory of what runs inside it, in bytes (``peak``, None when
    the device offers no way): CUDA allocator peak; on Linux CPUs the growth of the peak RSS."""

    def __init__(self, device: torch.device):
        self.device, self.base, self.peak = device, None, None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        elif self.device.type == "cpu":
            self.base = _reset_peak_rss()
        return self

    def __exit__(self, *exc):
        if self.base is None or exc[0] is not None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = float(torch.cuda.max_memory_allocated(self.device) - self.base)
        else:
            hwm = _status_kb("VmHWM")
            self.peak = None if hwm is None else float(hwm * 1024 - self.base)


def probe_memory(forward: Callable[[torch.Tensor], torch.Tensor], device: torch.device, multiple: int,
                 sides: tuple[int, int] = PROBE_SIDES) -> MemoryModel:
    """Fit a :class:`MemoryModel` to ``forward`` (B x 3 x H x W tensor -> same, run without autograd).

    One warm-up pass (first passes also allocate one-off kernel state), then one traced pass on each of two
    square inputs (``sides``, rounded up to ``multiple``). The per-step model comes from the traced tensor
    sizes (:class:`MemoryTimeline`); its scale from the real peak of the larger pass over the traced peak
    (kernel scratch memory; between 1 and 4), or :data:`TRACKER_SAFETY` where no real peak can be measured,
    times :data:`SAFETY`. Falls back to :data:`FALLBACK` when a pass fails, even by running out of memory:
    the tiled pass then shrinks its tiles as needed.
    """
    gen = torch.Generator().manual_seed(0)
    s1, s2 = (-(-max(s, multiple) // multiple) * multiple for s in sides)
    try:
        x1 = torch.rand(1, 3, s1, s1, generator=gen).to(device)
        x2 = torch.rand(1, 3, s2, s2, generator=gen).to(device)
        forward(x1)
        with MemoryTimeline() as small:
            forward(x1)
        with _DevicePeak(device) as real, MemoryTimeline() as large:
            forward(x2)
    except Exception:  # a failed probe only costs accuracy of the estimate
        return FALLBACK
    if real.peak is not None and large.peak > 0:
        scale = min(4.0, max(1.0, real.peak / large.peak))
    else:
        scale = TRACKER_SAFETY
    return MemoryModel.fit((s1 * s1, s2 * s2), (small.timeline, large.timeline), scale * SAFETY)
