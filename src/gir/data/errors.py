"""The error raised for bad training/validation configuration (unknown keys, bad values, missing data)."""
from __future__ import annotations

from gir.errors import ConfigError  # noqa: F401  (re-exported for the data and training modules)
