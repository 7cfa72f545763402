"""``gir serve``: a thin parser over :mod:`gir.serve` (FastAPI and uvicorn load only when it runs).

    gir serve [--host 127.0.0.1] [--port 8000] [--workers N] [--threads N] [--queue N] [--max-upload-mb MB]
              [--max-pixels N] [--expire SECONDS] [--temp-dir DIR]
"""
from __future__ import annotations

import sys

from gir.errors import GirError
from gir.serve import config as cfg

EXTRA_HINT = 'gir serve needs the serve extra: pip install -e ".[serve]" (FastAPI, uvicorn, python-multipart)'


def cmd_serve(args) -> int:
    """Start the server in the foreground until Ctrl+C."""
    try:
        import uvicorn

        from gir.serve.app import create_app
    except ImportError as e:
        raise GirError(f"{EXTRA_HINT}; missing: {e.name}") from None
    config = cfg.ServeConfig(host=args.host, port=args.port, workers=args.workers, threads=args.threads,
                             queue_limit=args.queue,
                             max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                             expire_s=args.expire, temp_parent=args.temp_dir)
    if not cfg.is_loopback(config.host):
        print(f"gir serve: warning: listening on {config.host}: anyone who can reach this machine can use "
              f"the server (it has no authentication)", file=sys.stderr)
    print(f"gir serve: http://{_url_host(config.host)}:{config.port}/ ({config.worker_count} worker(s), "
          f"{config.threads_per_worker} thread(s) each; API page /docs)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level=args.log_level)
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def add_serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="a local web page and HTTP API for restoring photos (extra: serve)",
                       description="Serve the restore page at / and the HTTP API under /v1 (API page: /docs). "
                                   "Jobs run in worker processes; nothing is written outside the server's "
                                   "own temporary folder, and finished jobs expire. Binds to loopback "
                                   "unless --host says otherwise.")
    s.add_argument("--host", default=cfg.DEFAULT_HOST, help=f"address to bind (default {cfg.DEFAULT_HOST}: this "
                                                            f"machine only)")
    s.add_argument("--port", type=int, default=cfg.DEFAULT_PORT, help=f"port (default {cfg.DEFAULT_PORT})")
    s.add_argument("--workers", type=int, default=0, help="jobs run at once, one process each (default: one "
                                                          "per core)")
    s.add_argument("--threads", type=int, default=0, help="torch threads per worker (default: the cores shared "
                                                          "out among the workers)")
    s.add_argument("--queue", type=int, default=cfg.DEFAULT_QUEUE,
                   help=f"jobs that may wait; more are refused with 429 (default {cfg.DEFAULT_QUEUE})")
    s.add_argument("--max-upload-mb", type=float, default=cfg.DEFAULT_MAX_UPLOAD_MB,
                   help=f"largest upload in MiB (default {cfg.DEFAULT_MAX_UPLOAD_MB})")
    s.add_argument("--max-pixels", type=int, default=cfg.DEFAULT_MAX_PIXELS,
                   help=f"largest image, width x height (default {cfg.DEFAULT_MAX_PIXELS:,})")
    s.add_argument("--expire", type=float, default=cfg.DEFAULT_EXPIRE_S,
                   help=f"seconds a finished job's result is kept (default {cfg.DEFAULT_EXPIRE_S:.0f})")
    s.add_argument("--temp-dir", help="folder in which the server makes its temporary folder (default: the "
                                      "system's)")
    s.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level (default info)")
    s.set_defaults(func=cmd_serve)


__all__ = ["add_serve_parser", "cmd_serve"]
