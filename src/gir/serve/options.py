"""The restore options a job may ask for, checked in ONE place against what the restore API supports today.

``scale`` is ``gir restore --scale`` (1-4); ``mode`` is ``gir restore --mode`` (fidelity or perceptual, the
pipeline's :data:`gir.restore.pipeline.MODES`). ``only`` / ``skip`` are ``gir restore``'s ``--only`` / ``--skip``, checked by the restore
plan's own parser so that the messages are the CLI's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from gir.restore.pipeline import MODES

# Option -> the values the restore API supports today; the first is the default. Nothing else holds them.
SUPPORTED: dict[str, tuple] = {"scale": (1, 2, 3, 4), "mode": MODES}
FIELDS = ("scale", "mode", "only", "skip")


class OptionError(ValueError):
    """An option the restore API does not support (answered 422); the message is one line."""


@dataclass(frozen=True)
class RestoreOptions:
    """One job's options. ``only`` / ``skip``: comma-separated families as the CLI takes them, or None."""

    scale: int = SUPPORTED["scale"][0]
    mode: str = SUPPORTED["mode"][0]
    only: str | None = None
    skip: str | None = None

    def restore_kwargs(self) -> dict:
        """Keyword arguments for :func:`gir.restore.restore_files`: exactly what ``gir restore`` passes for
        the same options."""
        return {"only": self.only, "skip": self.skip, "scale": self.scale, "mode": self.mode}

    def to_dict(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "only": self.only, "skip": self.skip}


def supported_options() -> dict:
    """What a client may choose (for ``/v1/health`` and the web page): the values of :data:`SUPPORTED` and
    the degradation families of ``only`` / ``skip``."""
    from gir.analysis.families import FAMILIES

    return {**{k: list(v) for k, v in SUPPORTED.items()}, "families": list(FAMILIES)}


def parse_options(fields: Mapping[str, str]) -> RestoreOptions:
    """Form fields (text) -> :class:`RestoreOptions`; an empty or absent field takes the default.

    Raises :class:`OptionError` naming the field for an unknown field, a value that is not a number where one
    is needed, a scale or mode the restore API does not support yet, or an unknown family in only/skip.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise OptionError(f"unknown option {unknown[0]!r}; options: {', '.join(FIELDS)}")
    given = {k: v.strip() for k, v in fields.items() if v is not None and v.strip()}
    scale = _supported("scale", _whole_number("scale", given["scale"]) if "scale" in given else None)
    mode = _supported("mode", given["mode"].lower() if "mode" in given else None)
    only, skip = given.get("only"), given.get("skip")
    _check_families(only, "only")
    _check_families(skip, "skip")
    return RestoreOptions(scale=scale, mode=mode, only=only, skip=skip)


def _whole_number(name: str, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{name} must be a number, got {text!r}") from None
    if not value.is_integer():
        raise OptionError(f"{name} must be a whole number, got {text!r}")
    return int(value)


def _supported(name: str, value):
    """``value`` when the restore API supports it (None: the default), else an :class:`OptionError`."""
    allowed = SUPPORTED[name]
    if value is None:
        return allowed[0]
    if value not in allowed:
        shown = ", ".join(map(str, allowed))
        raise OptionError(f"{name} {value} is not supported by the restore API yet (supported: {shown})")
    return value


def _check_families(text: str | None, name: str) -> None:
    from gir.errors import GirError
    from gir.restore.plan import parse_families

    try:
        parse_families(text, name)
    except GirError as e:
        raise OptionError(str(e)) from None
