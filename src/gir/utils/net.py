"""Loopback networking helpers shared by the server's tests and tools and by single-machine training launches."""
from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host`` (for a local server or MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
