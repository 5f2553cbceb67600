"""SENTRY_DSN set: errors reach Sentry (here an HTTP server on loopback standing in for it)."""

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.alerts.support import REPO, free_port

LOG_AN_ERROR = """
import django, logging, sentry_sdk
django.setup()
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("tracker.ops").exception("Something broke")
sentry_sdk.flush(10)
print(sentry_sdk.get_client().is_active())
"""


def run(env_extra: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MILEPOST_VAR_DIR": str(tmp_path),
        **env_extra,
    }
    env.setdefault("SENTRY_DSN", "")
    return subprocess.run(
        [sys.executable, "-c", LOG_AN_ERROR],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_errors_are_sent_when_sentry_dsn_is_set(tmp_path):
    received: list[bytes] = []

    class Sentry(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "br":
                import brotli

                body = brotli.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Sentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dsn = f"http://public@127.0.0.1:{server.server_address[1]}/7"
        result = run({"SENTRY_DSN": dsn}, tmp_path)
    finally:
        server.shutdown()
    assert result.stdout.strip() == "True", result.stderr
    assert any(b"ZeroDivisionError" in body for body in received), (received, result.stderr)


def test_nothing_is_set_up_without_a_dsn(tmp_path):
    assert run({}, tmp_path).stdout.strip() == "False"
