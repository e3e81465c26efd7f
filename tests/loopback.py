"""Loopback HTTP(S) servers for tests: one place that starts a `ThreadingHTTPServer` on a free port,
records every request and answers from a callback, shut down when the test ends.

`json_server` is the common case (JWKS endpoints, FHIR reads, a forward proxy, a recording target):
a table of path -> JSON document, every request recorded with its headers. Anything more special
(routes with prefixes, status codes) passes its own `handle` to `loopback_server`."""

from __future__ import annotations

import json
import ssl
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

# status, headers, body
Answer = tuple[int, dict[str, str], bytes]
Handle = Callable[[str, str, dict[str, str]], Answer]  # (method, path, lower-cased headers) -> answer

NOT_FOUND: Answer = (404, {}, b"")


@contextmanager
def loopback_server(handle: Handle, *, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `handle` for GET and POST on 127.0.0.1 (TLS with `tls`); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, headers, body = handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 (http.server API)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls is not None else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class JsonServer:
    """State of a `json_server`. `documents` maps a request path (for a proxy: the absolute URI) to
    a JSON value, raw bytes sent as they are, or ("redirect", url); unknown paths get `default`
    (None: 404). `hits` lists the paths requested, in order; `requests` each one's path and headers."""

    base: str = ""
    documents: dict[str, Any] = field(default_factory=dict)
    default: Any = None
    hits: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: dict[str, str]) -> Answer:
        self.hits.append(path)
        self.requests.append({"path": path, **headers})
        doc = self.documents.get(path, self.default)
        if doc is None:
            return NOT_FOUND
        if isinstance(doc, tuple) and doc[0] == "redirect":
            return 302, {"Location": doc[1]}, b""
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return 200, {"Content-Type": "application/json"}, body


@contextmanager
def json_server(*, default: Any = None, tls: ssl.SSLContext | None = None) -> Iterator[JsonServer]:
    state = JsonServer(default=default)
    with loopback_server(state.handle, tls=tls) as base:
        state.base = base
        yield state
