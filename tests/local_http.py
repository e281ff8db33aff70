"""Local HTTP servers for download tests: requests to 127.0.0.1 bypass proxies, and a server
runs in a thread for the length of a ``with`` block. Never the internet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def bypass_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure requests to 127.0.0.1 never go through a proxy from the environment."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@contextmanager
def serving(server) -> Iterator:
    """Run ``server`` (a socketserver) in a daemon thread; on exit set its ``stop`` event, if it
    has one (so handlers that stall wake up), shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop = getattr(server, "stop", None)
        if stop is not None:
            stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
