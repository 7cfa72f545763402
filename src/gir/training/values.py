"""Config values checked and converted, each error a one-line :class:`ConfigError` naming the key: shared by
the schema (:mod:`gir.training.config`) and the registry-built sections (optimisers, schedules, losses)."""
from __future__ import annotations

from typing import Any

from gir.errors import ConfigError


def bad(key: str, what: str, v: Any) -> ConfigError:
    return ConfigError(f"config: {key} must be {what}, got {v!r}")


def to_int(v: Any, key: str) -> int:
    if isinstance(v, bool):
        raise bad(key, "an integer", v)
    if isinstance(v, int):
        return v
    try:
        f = float(v)  # YAML reads 1e5 as a string
    except (TypeError, ValueError):
        raise bad(key, "an integer", v) from None
    if not f.is_integer():
        raise bad(key, "an integer", v)
    return int(f)


def to_float(v: Any, key: str) -> float:
    if isinstance(v, bool):
        raise bad(key, "a number", v)
    try:
        f = float(v)  # YAML reads 2e-4 (no dot) as a string
    except (TypeError, ValueError):
        raise bad(key, "a number", v) from None
    if f != f or f in (float("inf"), float("-inf")):
        raise bad(key, "a finite number", v)
    return f


def number(v: Any, key: str) -> float:
    """A float from a config value (for registry-built sections), or :class:`ConfigError`."""
    return to_float(v, key)
