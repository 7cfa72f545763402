"""Degradation op specs: parameters with representative values, random ranges and validity bounds.

An op is a function ``fn(img, rng, **params) -> img`` registered with :func:`register_op`. Images are float32
HxWx3 RGB in [0, 1]; every op returns the same shape. :meth:`OpSpec.apply` is the one entry point: it
validates parameters, runs the op and enforces the output contract (float32, same shape, clipped to [0, 1]),
so individual ops need not repeat that.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gir.errors import RecipeError
from gir.registry import Registry

OPS: Registry["OpSpec"] = Registry("degradation op")

Value = float | int | str | bool


@dataclass(frozen=True)
class Param:
    """One parameter of an op.

    kind: ``float``, ``int`` (``odd=True`` restricts to odd values, for kernel sizes), ``choice`` or ``bool``.
    rep: the representative value (what the papers use for their fixed single tasks).
    rand: random range, ``(low, high)`` inclusive for numbers or a tuple of choices; ``None`` keeps ``rep``
        when sampling randomly.
    valid: the values a recipe may use, ``(min, max)`` for numbers or a tuple of choices; defaults to a range
        that contains ``rand`` and ``rep``.
    """

    name: str
    kind: str
    rep: Value
    rand: tuple | None = None
    valid: tuple | None = None
    doc: str = ""
    odd: bool = False
    unit: str = ""

    def __post_init__(self):
        if self.kind not in ("float", "int", "choice", "bool"):
            raise ValueError(f"param {self.name}: unknown kind {self.kind!r}")
        if self.valid is None:
            if self.kind == "bool":
                object.__setattr__(self, "valid", (False, True))
            elif self.kind == "choice":
                object.__setattr__(self, "valid", tuple(self.rand) if self.rand else (self.rep,))
            else:
                lo = min(self.rep, self.rand[0]) if self.rand else self.rep
                hi = max(self.rep, self.rand[1]) if self.rand else self.rep
                object.__setattr__(self, "valid", (lo, hi))
        # The representative value must itself be valid.
        self.check(self.rep, "<definition>")

    def sample(self, rng: np.random.Generator) -> Value:
        """Draw a value from the random range (uniform), or return ``rep`` when there is none."""
        if self.rand is None:
            return self.rep
        if self.kind == "choice":
            return self.rand[int(rng.integers(len(self.rand)))]
        if self.kind == "bool":
            return bool(rng.integers(2))
        lo, hi = self.rand
        if self.kind == "float":
            return float(rng.uniform(lo, hi))
        if self.odd:
            lo_k, hi_k = lo // 2, (hi - 1) // 2  # odd values 2k+1 in [lo, hi]
            return int(2 * rng.integers(lo_k, hi_k + 1) + 1)
        return int(rng.integers(lo, hi + 1))

    def check(self, value: Any, op: str) -> Value:
        """Return ``value`` coerced to this param's type, or raise :class:`RecipeError` naming op and param."""
        where = f"{op}: parameter {self.name}"
        if self.kind == "choice":
            if value not in self.valid:
                raise RecipeError(f"{where}={value!r} is not one of {list(self.valid)}")
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise RecipeError(f"{where}={value!r} must be true or false")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where}={value!r} must be a number")
        if not math.isfinite(value):
            raise RecipeError(f"{where}={value!r} must be finite")
        if self.kind == "int":
            if float(value) != int(value):
                raise RecipeError(f"{where}={value!r} must be an integer")
            value = int(value)
            if self.odd and value % 2 == 0:
                raise RecipeError(f"{where}={value} must be odd")
        else:
            value = float(value)
        lo, hi = self.valid
        if not lo <= value <= hi:
            raise RecipeError(f"{where}={value} is out of range [{lo}, {hi}]")
        return value

    def describe(self) -> str:
        """One line for ``gir degrade --list``."""
        rng_txt = "fixed" if self.rand is None else (
            "{" + ", ".join(map(str, self.rand)) + "}" if self.kind == "choice" else f"{self.rand[0]}..{self.rand[1]}")
        valid_txt = ("{" + ", ".join(map(str, self.valid)) + "}" if self.kind == "choice"
                     else f"[{self.valid[0]}, {self.valid[1]}]")
        unit = f" {self.unit}" if self.unit else ""
        return (f"{self.name}: {self.kind}{' (odd)' if self.odd else ''}{unit}; representative {self.rep}; "
                f"random {rng_txt}; valid {valid_txt}. {self.doc}").rstrip()


@dataclass(frozen=True)
class OpSpec:
    """A registered degradation: its function, parameters and where it may stand in a chain.

    acquisition: the degradation happens when the scene is captured (weather, low light, lens droplets), so
        a random chain may use it only as its first op D_1.
    needs_depth: ``fn`` also takes ``depth`` (HxW float32 in [0, 1], 1 = far); estimated from the image
        by :func:`gir.degradations.depth.estimate_depth` when the caller passes none.
    """

    name: str
    fn: Callable[..., np.ndarray]
    params: tuple[Param, ...]
    doc: str
    source: str
    acquisition: bool = False
    needs_depth: bool = False
    composite: bool = False
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})

    def representative(self) -> dict[str, Value]:
        return {p.name: p.rep for p in self.params}

    def sample_params(self, rng: np.random.Generator) -> dict[str, Value]:
        return {p.name: p.sample(rng) for p in self.params}

    def resolve(self, params: dict[str, Any] | None) -> dict[str, Value]:
        """Check ``params`` and fill missing ones with representative values."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self._by_name))
        if unknown:
            known = ", ".join(self._by_name) or "(none)"
            raise RecipeError(f"{self.name}: unknown parameter {', '.join(unknown)}; known: {known}")
        return {p.name: p.check(params[p.name], self.name) if p.name in params else p.rep for p in self.params}

    def apply(self, img: np.ndarray, rng: np.random.Generator, params: dict[str, Any] | None = None,
              depth: np.ndarray | None = None) -> np.ndarray:
        """Degrade ``img`` (float32 HxWx3 in [0, 1]); returns a new float32 HxWx3 array in [0, 1]."""
        check_image(img)
        kwargs: dict[str, Any] = self.resolve(params)
        if self.needs_depth:
            from gir.degradations.depth import estimate_depth

            kwargs["depth"] = estimate_depth(img) if depth is None else check_depth(depth, img)
        out = self.fn(img, rng, **kwargs)
        if out.shape != img.shape:
            raise RuntimeError(f"op {self.name} changed the shape {img.shape} -> {out.shape}")
        out = np.nan_to_num(np.asarray(out, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(out, 0.0, 1.0, out=out)


def register_op(name: str, params: Sequence[Param] = (), *, source: str, acquisition: bool = False,
                needs_depth: bool = False, composite: bool = False):
    """Decorator registering ``fn(img, rng, **params)`` as degradation ``name``; its docstring is the doc."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip()
        OPS.add(name, OpSpec(name, fn, tuple(params), doc, source, acquisition, needs_depth, composite))
        return fn

    return deco


def check_image(img: np.ndarray) -> None:
    """Raise ValueError unless ``img`` is a float32 HxWx3 array."""
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.float32:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"expected a float32 HxWx3 RGB image in [0, 1], got {desc}")


def check_depth(depth: np.ndarray, img: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != img.shape[:2]:
        raise ValueError(f"depth map shape {depth.shape} does not match the image {img.shape[:2]}")
    return np.clip(depth, 0.0, 1.0)
