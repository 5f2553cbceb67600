"""The benchmarks' SMTP server, in a process of its own so that it never competes with the
process that waits for it (or with a worker) for one interpreter: aiosmtpd on loopback,
counting what it is sent.

Usage: ``python -m benchmarks.smtp_sink``. It prints ``{"port": …}`` once listening, then
answers each line on stdin: ``stats`` with one JSON line (messages, connections, per
recipient most, largest message, when the last one arrived), ``reset`` by zeroing the counts
(``{}``); it stops at the end of stdin. `SmtpSink` runs it from a benchmark.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any


class Inbox:
    """An aiosmtpd handler that counts what it is sent: messages, connections, per recipient,
    the largest message, the moment of the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.messages = 0
            self.sessions: set = set()  # the sessions themselves: ids get reused
            self.per_recipient: Counter[str] = Counter()
            self.largest = 0
            self.last_at = 0.0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            self.sessions.add(session)
            self.per_recipient.update(envelope.rcpt_tos)
            self.largest = max(self.largest, len(envelope.original_content or envelope.content))
            self.last_at = time.time()
        return "250 Message accepted for delivery"

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": self.messages,
                "connections": len(self.sessions),
                "max_per_recipient": max(self.per_recipient.values(), default=0),
                "largest_bytes": self.largest,
                "last_at": self.last_at,
            }


class SmtpSink:
    """The sink process, seen from a benchmark: `port`, `stats()`, `reset()`, `stop()`."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.smtp_sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._answer()["port"])

    def _answer(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("The SMTP sink stopped")
        return json.loads(line)

    def _ask(self, command: str) -> dict[str, Any]:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def main() -> None:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        print(json.dumps({"port": port}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                inbox.reset()
                print("{}", flush=True)
            elif command == "stats":
                print(json.dumps(inbox.stats()), flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
