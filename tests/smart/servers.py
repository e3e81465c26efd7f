"""Run Flask apps on 127.0.0.1 in background threads for browser tests (127.0.0.1 is a secure
context for the browser, which PKCE's crypto.subtle needs)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


class ServerThread:
    """A threaded WSGI server on an ephemeral loopback port; `url` is its base URL."""

    def __init__(self, app: Any = None) -> None:
        self._dispatch = _Dispatch(app)
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"server-{self.url}", daemon=True)

    def mount(self, app: Any) -> None:
        """Set the app after the port is known (the EHR needs the app's URL and vice versa)."""
        self._dispatch.app = app

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


class _Dispatch:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)
