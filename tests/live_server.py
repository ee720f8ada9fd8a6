"""What the tests that run loragate as a real server process share: a free port, and
waiting until the server answers (or its process has ended)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> bool:
    """True once ``url`` answers 200; False when the process ended or time ran out."""
    deadline = time.monotonic() + START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False
