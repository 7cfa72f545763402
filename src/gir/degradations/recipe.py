"""Recipes: ordered lists of degradation ops with parameters, in JSON and a compact text form.

Text form: ``haze(A=0.9,beta=0.75) > noise(sigma=20) > jpeg(quality=50)``. An op without parentheses, or a
missing parameter, takes the op's representative value. JSON form::

    {"seed": 7, "steps": [{"op": "noise", "params": {"sigma": 20.0}}, ...]}

``seed`` drives the randomness inside the ops (noise realisations, scratch positions, ...), so a recipe with
its seed reproduces its image exactly. Step ``i`` draws from its own generator spawned from the seed, so
changing one step does not change the randomness of the others.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gir.degradations.base import OPS
from gir.errors import RecipeError

_STEP_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


@dataclass(frozen=True)
class Step:
    op: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        if not self.params:
            return self.op
        return f"{self.op}(" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params.items()) + ")"


@dataclass(frozen=True)
class Recipe:
    """An ordered chain x = (D_k o ... o D_1)(y): ``steps[0]`` is applied first."""

    steps: tuple[Step, ...]
    seed: int | None = None

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text_or_path: str | Path) -> "Recipe":
        """Read a recipe from text, a JSON string, or a path to a JSON file; validates it."""
        s = str(text_or_path).strip()
        if s.endswith(".json") or (not s.startswith(("{", "[")) and _is_file(s)):
            try:
                s = Path(s).read_text()
            except OSError as e:
                raise RecipeError(f"{text_or_path}: cannot read recipe file ({e.strerror})") from None
            try:
                return cls.from_json(s)
            except RecipeError as e:
                raise RecipeError(f"{text_or_path}: {e}") from None
        if s.startswith(("{", "[")):
            return cls.from_json(s)
        return cls.from_text(s)

    @classmethod
    def from_text(cls, text: str, seed: int | None = None) -> "Recipe":
        parts = [p for p in _split_top(text, ">")]
        if not parts or all(not p.strip() for p in parts):
            raise RecipeError("empty recipe")
        steps = []
        for part in parts:
            m = _STEP_RE.match(part)
            if not m:
                raise RecipeError(f"cannot parse recipe step {part.strip()!r} (expected op or op(k=v,...))")
            name, args = m.group(1), m.group(2)
            params: dict[str, Any] = {}
            for kv in _split_top(args or "", ","):
                if not kv.strip():
                    continue
                if "=" not in kv:
                    raise RecipeError(f"{name}: expected key=value, got {kv.strip()!r}")
                k, v = kv.split("=", 1)
                params[k.strip()] = _parse_value(v.strip())
            steps.append(Step(name, params))
        return cls(tuple(steps), seed).validated()

    @classmethod
    def from_dict(cls, d: Any) -> "Recipe":
        if isinstance(d, list):  # bare list of steps
            d = {"steps": d}
        if not isinstance(d, dict) or not isinstance(d.get("steps"), list):
            raise RecipeError("a JSON recipe is an object with a 'steps' list (or a bare list of steps)")
        steps = []
        for i, s in enumerate(d["steps"]):
            if not isinstance(s, dict) or "op" not in s:
                raise RecipeError(f"step {i + 1}: expected an object with an 'op' key, got {s!r}")
            params = s.get("params", {})
            if not isinstance(params, dict):
                raise RecipeError(f"step {i + 1} ({s['op']}): 'params' must be an object")
            steps.append(Step(str(s["op"]), dict(params)))
        seed = d.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise RecipeError(f"seed must be a non-negative integer, got {seed!r}")
        return cls(tuple(steps), seed).validated()

    @classmethod
    def from_json(cls, s: str) -> "Recipe":
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise RecipeError(f"invalid JSON recipe: {e}") from None
        return cls.from_dict(d)

    # -- output --------------------------------------------------------------------------------------
    def to_text(self) -> str:
        return " > ".join(s.to_text() for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": [{"op": s.op, "params": dict(s.params)} for s in self.steps]}
        if self.seed is not None:
            d = {"seed": self.seed, **d}
        d["text"] = self.to_text()
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return self.to_text()

    # -- semantics -----------------------------------------------------------------------------------
    def validated(self) -> "Recipe":
        """Return the recipe with every op known and parameters checked and completed."""
        steps = []
        for i, s in enumerate(self.steps):
            if s.op not in OPS:
                raise RecipeError(f"step {i + 1}: unknown op {s.op!r}; run `gir degrade --list` for the ops")
            steps.append(Step(s.op, OPS.get(s.op).resolve(s.params)))
        return Recipe(tuple(steps), self.seed)

    def with_seed(self, seed: int) -> "Recipe":
        return Recipe(self.steps, seed)

    def apply(self, img: np.ndarray, seed: int | None = None, depth: np.ndarray | None = None) -> np.ndarray:
        """Degrade float32 HxWx3 ``img``; ``seed`` defaults to the recipe's own (0 when it has none)."""
        seed = self.seed if seed is None else seed
        seqs = np.random.SeedSequence(0 if seed is None else seed).spawn(len(self.steps))
        out = img
        for step, seq in zip(self.steps, seqs):
            out = OPS.get(step.op).apply(out, np.random.default_rng(seq), step.params, depth=depth)
        return out


def _split_top(s: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _parse_value(v: str) -> Any:
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v.strip("'\"")


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


def _is_file(s: str) -> bool:
    """Whether ``s`` names an existing file; False for text that cannot be a path (too long, NUL bytes)."""
    try:
        return Path(s).is_file()
    except (OSError, ValueError):
        return False
