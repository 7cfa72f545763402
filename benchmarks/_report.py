"""Shared output of the benchmark scripts: print a Markdown table and optionally append it to a file."""
from __future__ import annotations


def emit(text: str, append: str | None = None) -> None:
    """Print ``text``; when ``append`` names a file, add it there after a blank line."""
    print(text)
    if append:
        with open(append, "a") as f:
            f.write("\n" + text)
