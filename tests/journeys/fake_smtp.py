"""A minimal SMTP server on 127.0.0.1 for the tests, in a thread: enough of the protocol for Django's SMTP backend,
with the ways a real server can end a conversation (`mode`): accept the message, refuse the recipient, defer it
(451 after DATA), or drop the connection after the message was sent and before answering (outcome unknown)."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class FakeSmtpServer:
    mode: str = "accept"  # accept, refuse_recipient, defer, drop_after_data
    messages: list[bytes] = field(default_factory=list)
    port: int = 0


def start(fake: FakeSmtpServer) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self):
            self.reply("220 fake.smtp ESMTP")
            while line := self.rfile.readline():
                command = line.decode(errors="replace").strip().upper()
                if command.startswith(("EHLO", "HELO")):
                    self.reply("250 fake.smtp")
                elif command.startswith("RCPT") and fake.mode == "refuse_recipient":
                    self.reply("550 5.1.1 No such mailbox")
                elif command == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    if fake.mode == "drop_after_data":
                        fake.messages.append(data)
                        return  # the server has it; the client never hears so
                    if fake.mode == "defer":
                        self.reply("451 4.3.0 Try again later")
                        continue
                    fake.messages.append(data)
                    self.reply("250 2.0.0 Queued")
                elif command == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.port = server.server_address[1]
    return server
