"""A Twilio-style SMS provider on 127.0.0.1 for the tests: real HTTP, real sockets, in a thread.

It behaves as the real provider does where it matters here: basic auth, form-encoded messages, a message id per
accepted message, and the same answer (and no second message) for a repeated Idempotency-Key. Tests can queue
failures (`fail_next`) and make it hold its answer after accepting a message (`hold_after_accept`), which is the
moment a worker can be killed with the message at the provider and no answer received.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT_SID = "AC0123456789"
AUTH_TOKEN = "secret-token"


@dataclass
class FakeSmsProvider:
    messages: list[dict[str, str]] = field(default_factory=list)  # accepted, each once
    requests: list[dict[str, str]] = field(default_factory=list)  # every POST, replays included
    failures: list[tuple[int, dict]] = field(default_factory=list)
    accepted: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hold_after_accept: bool = False
    _by_key: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def fail_next(self, status: int, payload: dict | None = None, times: int = 1) -> None:
        self.failures.extend([(status, payload or {"message": "Service unavailable"})] * times)

    def handle(self, headers, path: str, body: bytes) -> tuple[int, dict]:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return 404, {"message": "Not found"}
        form = {key: values[0] for key, values in urllib.parse.parse_qs(body.decode()).items()}
        key = headers.get("Idempotency-Key", "")
        with self._lock:
            self.requests.append({**form, "key": key})
            if self.failures:
                return self.failures.pop(0)
            if key and key in self._by_key:
                return 201, {"sid": self._by_key[key], "status": "queued"}
            sid = f"SM{next(self._ids):032d}"
            self.messages.append({**form, "key": key, "sid": sid})
            if key:
                self._by_key[key] = sid
        return 201, {"sid": sid, "status": "queued"}


def start(provider: FakeSmsProvider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = provider.handle(self.headers, self.path, body)
            if status == 201 and provider.hold_after_accept:
                provider.accepted.set()
                provider.release.wait(timeout=60)  # the worker is killed meanwhile; nobody reads this answer
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client is gone (killed)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
