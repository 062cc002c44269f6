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
    """A server started by :func:`serve_in_thread`: where it answers, and how to stop it."""

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


def serve_standalone(app, host: str, port: int, *, threads: int = 16) -> None:
    """Serve ``app`` in the foreground until stopped (``python -m bridges.fakes.<platform>``).

    One gunicorn process with threads: the fake's state lives in memory, so it must stay one
    process. The benchmarks run the fakes this way beside the API; werkzeug's development
    server spent more CPU per request than the API's own handling of it.
    """
    # Imported here: only the standalone command lines need gunicorn; the tests and the demo,
    # which serve in a thread, never load it.
    from gunicorn.app.base import BaseApplication

    class _Standalone(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread",
                               "threads": threads, "keepalive": 75, "timeout": 0,
                               "accesslog": None, "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    _Standalone().run()
