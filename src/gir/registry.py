"""Name -> object registries, so plain config (a dict with a ``type:`` key) can build anything.

Every architecture, degradation op and metric is registered in one of these; an experiment YAML is then
enough to rebuild it. Building is where a config meets the constructor, so :meth:`Registry.build` is where
a constructor's complaint about its arguments (an unknown key, a missing one, a bad value) becomes the
one-line :class:`~gir.errors.ConfigError` that names the section, the registry and the type.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from gir.errors import ConfigError, GirError

T = TypeVar("T")


def kwarg_problem(e: Exception) -> str:
    """A factory's TypeError ('unexpected keyword argument x') phrased as a config problem."""
    msg = str(e)
    if "unexpected keyword argument" in msg:
        return "unknown key " + msg.split("unexpected keyword argument", 1)[1].strip()
    return msg


class Registry(Generic[T]):
    """A named table of objects (classes, functions or op specs)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register()`` uses the object's ``__name__``; ``@REG.register("x")`` names it."""

        def deco(obj: T) -> T:
            self.add(name or getattr(obj, "__name__"), obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise KeyError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def build(self, cfg: Mapping[str, Any], /, *args: Any, where: str | None = None, **extra: Any) -> Any:
        """Call the registered factory named by ``cfg['type']`` with ``args`` and the remaining keys (and
        ``extra``) as keyword arguments. An unknown type raises KeyError; a TypeError or ValueError of the
        factory (an unknown or missing key, a bad value) is raised as :class:`ConfigError` naming ``where``
        (the config section, e.g. ``config: optim``), this registry and the type; a :class:`GirError` (a
        one-line message already) passes unchanged."""
        if "type" not in cfg:
            raise KeyError(f"{self.kind} config needs a 'type' key: {dict(cfg)!r}")
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        kwargs.update(extra)
        return self.call(cfg["type"], *args, where=where, **kwargs)

    def call(self, name: str, /, *args: Any, where: str | None = None, **kwargs: Any) -> Any:
        """The factory ``name`` called with ``args`` and ``kwargs``, its errors as :meth:`build` says."""
        factory = self.get(name)
        try:
            return factory(*args, **kwargs)
        except GirError:
            raise
        except (TypeError, ValueError) as e:
            raise self.config_error(name, kwarg_problem(e), where) from None

    def check(self, cfg: Mapping[str, Any], /, *args: Any, where: str | None = None) -> None:
        """Raise :class:`ConfigError` (as :meth:`build` would) when the keys of ``cfg`` do not fit the
        signature of the factory it names, without calling it; a factory taking ``**kwargs`` accepts any key
        here. An unknown type raises KeyError."""
        factory = self.get(cfg["type"])
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
            return
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise self.config_error(cfg["type"], kwarg_problem(e), where) from None

    def config_error(self, name: str, problem: str, where: str | None = None) -> ConfigError:
        """``where: problem (kind 'name')``, or ``kind 'name': problem`` without a section."""
        if where:
            return ConfigError(f"{where}: {problem} ({self.kind} {name!r})")
        return ConfigError(f"{self.kind} {name!r}: {problem}")

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
