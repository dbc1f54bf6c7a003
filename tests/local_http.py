"""A throwaway HTTP server on 127.0.0.1 for tests: a handler's replies, served from a thread,
stopped on exit (`with LocalServer(Handler) as url:` gives its OpenAI-style base URL)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JSONHandler(BaseHTTPRequestHandler):
    """A handler that answers with JSON and keeps quiet."""

    def send_json(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:
            pass  # the client gave up (a fatal status ends its run) and closed the socket

    def log_message(self, *args) -> None:
        pass


class LocalServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
