"""Start a server on a daemon thread and stop it again: every simulated server on loopback does both."""

from __future__ import annotations

import socketserver
import threading


def serve_in_thread(server: socketserver.BaseServer, *, poll_interval: float = 0.05, name: str | None = None,
                    ) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name,
                              daemon=True)
    thread.start()
    return thread


def stop_serving(server: socketserver.BaseServer | None, thread: threading.Thread | None, *,
                 timeout: float = 5.0) -> None:
    """Shut ``server`` down, close its socket and wait for its thread (either may be None: never started)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=timeout)
