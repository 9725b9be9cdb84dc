"""A real HTTP receiver on loopback for the webhook tests: a thread running http.server
that records every request and answers with the statuses it is told, in order."""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_as_the_readme_says(secret, body, timestamp, signature):
    """The README's receiver recipe, copied word for word."""
    if abs(time.time() - int(timestamp)) > 300:
        return False  # too old (or from the future): a replay
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    # The README's check, made as the request arrived (with the receiver's secret).
    verified: bool | None = None

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list = field(default_factory=list)
    # Statuses to answer, first to last; 200 once they run out. A (status, headers) pair
    # sends headers too.
    answers: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    secret: str | None = None

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def answer(self):
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
        return status if isinstance(status, tuple) else (status, {})


def start_receiver():
    receiver = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            verified = None
            if receiver.secret and "X-LeadFlow-Signature" in self.headers:
                verified = verify_as_the_readme_says(
                    receiver.secret,
                    body,
                    self.headers["X-LeadFlow-Timestamp"],
                    self.headers["X-LeadFlow-Signature"],
                )
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers), body, verified))
            status, headers = receiver.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server=server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return receiver


def stop_receiver(receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
