"""Local servers and a headless Chromium, for tests/test_browser.py and tests/test_colab.py.

Everything here talks to 127.0.0.1 only: the book is served from a folder by a
``http.server`` on an ephemeral port, in a thread, and every request it answers is
logged so that a test can say what was fetched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from book_notebooks import ROOT

LOCAL_HOST = "127.0.0.1"

# The built web book (``make book``); another build can be tested with BOOK_HTML_DIR.
HTML_DIR = Path(os.environ.get("BOOK_HTML_DIR", ROOT / "_build" / "html"))
ARTIFACTS = ROOT / "test-artifacts"

# Debian's Chromium (``make browser``), never a browser download, and the flags that keep
# it from calling home: this machine has no network, and the site must not need one.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Served:
    """A folder served on ``url``; ``requests`` lists ``(path, status)`` in arrival order."""

    url: str
    root: Path
    requests: list = field(default_factory=list)

    def fetched(self, path: str) -> list:
        """Statuses with which ``path`` (e.g. ``/name.py``) was answered."""
        return [status for p, status in self.requests if p.split("?", 1)[0] == path]


class _LoggingHandler(SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        self.server.served.requests.append((self.path, int(getattr(code, "value", code))))

    def log_message(self, format, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (ephemeral port) while the block runs."""
    handler = functools.partial(_LoggingHandler, directory=str(folder))
    server = ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    server.daemon_threads = True
    server.served = Served(url=f"http://{LOCAL_HOST}:{server.server_address[1]}", root=Path(folder))
    thread = threading.Thread(target=server.serve_forever, name=f"serve {folder}", daemon=True)
    thread.start()
    try:
        yield server.served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def unused_port() -> int:
    """A local TCP port that nothing listens on (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCAL_HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def chromium_browser():
    """Debian's Chromium driven by Playwright (never a browser download), closed on exit."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
