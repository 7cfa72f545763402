"""``gir serve``: a local web page and HTTP API for restoring photos (optional extra ``serve``).

    pip install -e ".[serve]"
    gir serve                       # http://127.0.0.1:8000: the page; /docs: the API

Modules: :mod:`~gir.serve.app` (routes), :mod:`~gir.serve.jobs` (queue and worker processes),
:mod:`~gir.serve.worker` (what a worker runs: the restore and analyze APIs), :mod:`~gir.serve.uploads`
(streaming upload and image checks), :mod:`~gir.serve.options` (the one place options are checked),
:mod:`~gir.serve.config`. Importing this package is cheap: FastAPI loads with :func:`create_app`.
"""
from __future__ import annotations


def create_app(*args, **kwargs):
    """:func:`gir.serve.app.create_app` (imported on first use)."""
    from gir.serve.app import create_app as make

    return make(*args, **kwargs)


__all__ = ["create_app"]
