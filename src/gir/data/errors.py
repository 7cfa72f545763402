"""The error raised for bad training/validation configuration (unknown keys, bad values, missing data)."""
from __future__ import annotations

from gir.errors import GirError


class ConfigError(GirError, ValueError):
    """A config value is wrong or the data it names is missing; the message is one line naming the key."""
