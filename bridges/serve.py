"""Serve a WSGI app on 127.0.0.1 in a background thread (the local platform fakes, tests).

The fakes are real HTTP servers: our code reaches them over sockets exactly as it would
reach WeChat or DingTalk, with only the base URL changed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as the real platforms speak (werkzeug defaults to 1.0)."""

    protocol_version = "HTTP/1.1"


@dataclass
class RunningServer:
    base_url: str
    port: int
    _server: object
    _thread: threading.Thread

    def shutdown(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 picks a free port) with one thread per request."""
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    # A short poll interval makes shutdown() quick (tests start and stop many servers).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"serve-{server.port}", daemon=True)
    thread.start()
    return RunningServer(f"http://{host}:{server.port}", server.port, server, thread)
