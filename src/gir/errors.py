"""Exceptions with one-line, user-facing messages."""
from __future__ import annotations


class GirError(Exception):
    """Base class for errors the CLI reports as a single line (no traceback)."""


class RecipeError(GirError, ValueError):
    """A recipe names an unknown op, an unknown parameter, or a value outside its valid range."""


class ConfigError(GirError, ValueError):
    """A config value is wrong or the data it names is missing; the message is one line naming the key."""


class ImageReadError(GirError, OSError):
    """A file could not be read as an image. The message starts with the file name."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageWriteError(GirError, OSError):
    """An image could not be written. The message starts with the file name."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
