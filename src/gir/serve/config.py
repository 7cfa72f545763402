"""The settings of one ``gir serve`` process: where it listens, how much work it takes, what it accepts."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from gir.errors import GirError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 64
DEFAULT_MAX_PIXELS = 25_000_000  # a 24 MP camera photo; a restore of one peaks near 2.7 GB per worker
DEFAULT_QUEUE = 32
DEFAULT_EXPIRE_S = 3600.0


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    """What one server does.

    workers: jobs that run at once, each in its own process (default: one per core).
    threads: torch threads of each worker process (default 0: ``cores // workers``, at least one; threads
        beyond the free cores make torch's thread pool wait: a small restore took 10.5 s with 2 threads
        beside a 2-core training run, 0.16 s with 1; benchmarks/RESULTS.md, "gir serve").
    queue_limit: jobs that may wait for a worker; one more is answered 429 with ``Retry-After``.
    max_upload_bytes: the largest request body accepted (413 beyond it).
    max_pixels: the largest image accepted, width x height (422 beyond it).
    expire_s: a finished job (its result, report and input) is deleted this many seconds after it ended.
    temp_parent: the folder in which the server makes its own temporary folder (None: the system's).
    warm: load the restore models in each worker when it starts (False for tests with stand-in jobs).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 0  # 0: one per core
    threads: int = 0  # 0: the cores shared out among the workers
    queue_limit: int = DEFAULT_QUEUE
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB << 20
    max_pixels: int = DEFAULT_MAX_PIXELS
    expire_s: float = DEFAULT_EXPIRE_S
    temp_parent: str | None = None
    warm: bool = True

    def __post_init__(self):
        checks = [(self.workers >= 0, f"workers must be >= 1 (or 0: one per core), got {self.workers}"),
                  (self.threads >= 0, f"threads must be >= 1 (or 0: cores / workers), got {self.threads}"),
                  (self.queue_limit >= 0, f"queue limit must be >= 0, got {self.queue_limit}"),
                  (self.max_upload_bytes > 0, f"upload limit must be > 0 bytes, got {self.max_upload_bytes}"),
                  (self.max_pixels > 0, f"pixel limit must be > 0, got {self.max_pixels}"),
                  (self.expire_s > 0, f"expiry must be > 0 seconds, got {self.expire_s}"),
                  (0 <= self.port <= 65535, f"port must be in 0..65535, got {self.port}")]
        for ok, message in checks:
            if not ok:
                raise GirError(message)

    @property
    def worker_count(self) -> int:
        """``workers``, or one per core when 0."""
        return self.workers or cpu_cores()

    @property
    def threads_per_worker(self) -> int:
        """Torch threads of each worker process: ``threads``, or the cores shared out (at least one)."""
        return self.threads or max(1, cpu_cores() // self.worker_count)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
