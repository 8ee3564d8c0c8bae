"""Real receivers on 127.0.0.1: a Standard Webhooks endpoint verifying with the official
package, a Slack-shaped incoming webhook, and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any]


@dataclass
class HttpReceiver:
    """POST / records the body; `secret` set: verified with `standardwebhooks` (401 if not)."""
    secret: str | None = None
    slack: bool = False
    status: int = 200
    delay: float = 0.0  # seconds to wait after recording, before answering
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    rejected: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                code = receiver.handle(body, {k.lower(): v for k, v in self.headers.items()})
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(code)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (the SIGKILL drill)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        if self.slack:
            doc = json.loads(body)
            if not isinstance(doc.get("text"), str) or not isinstance(doc.get("blocks"), list):
                self.rejected += 1
                return 400
            self.received.append(Received("", doc))
            return self.status
        if self.secret is not None:
            try:
                doc = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.rejected += 1
                return 401
        else:
            doc = json.loads(body)
        if self.status < 300:
            self.received.append(Received(headers["webhook-id"], doc))
        return self.status

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.box = _Mailbox()
        self._controller = Controller(self.box, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self.box.messages

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
