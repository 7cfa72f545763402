"""Name -> object registries, so plain config (a dict with a ``type:`` key) can build anything.

Every architecture, degradation op and metric is registered in one of these; an experiment YAML is then
enough to rebuild it.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


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

    def build(self, cfg: dict[str, Any], **extra: Any) -> Any:
        """Call the registered factory named by ``cfg['type']`` with the remaining keys as kwargs."""
        if "type" not in cfg:
            raise KeyError(f"{self.kind} config needs a 'type' key: {cfg!r}")
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        kwargs.update(extra)
        return self.get(cfg["type"])(**kwargs)

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
