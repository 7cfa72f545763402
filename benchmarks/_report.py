"""Shared output of the benchmark scripts: print a Markdown table and optionally append it to a file."""
from __future__ import annotations


def emit(text: str, append: str | None = None) -> None:
    """Print ``text``; when ``append`` names a file, add it there after a blank line."""
    print(text)
    if append:
        with open(append, "a") as f:
            f.write("\n" + text)


def shared_or_skip(threads: int | None = None):
    """Set torch's CPU threads (when given) and return the shared data folder (``gir.bench.run.shared_data``);
    None after printing why the benchmark is skipped when it is missing."""
    import torch

    from gir.bench.run import shared_data

    if threads:
        torch.set_num_threads(threads)
    try:
        return shared_data()
    except Exception as e:  # noqa: BLE001 - the benchmark needs the shared data
        print(f"skipped: {e}")
        return None
